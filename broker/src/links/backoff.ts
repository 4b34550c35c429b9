/**
 * When a failed link tries again (spec/links.md §Restarts): the first retry after the
 * link's reconnect-delay, each further one doubling it, capped; a link that reached running
 * starts from the base again. Forever: a link never gives up by itself. Pure.
 */
export const BACKOFF_CAP_MS = 60_000;

/** Delay before retry number `attempt` (0 = the first retry). */
export function backoffDelay(baseMs: number, attempt: number, capMs = BACKOFF_CAP_MS): number {
  // a zero reconnect-delay still waits a little, so a link whose peer refuses at once does not spin
  const base = Math.max(baseMs, 100);
  return Math.min(capMs, base * 2 ** Math.min(attempt, 20));
}
