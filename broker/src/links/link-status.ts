/** A link's state as the management API, CLI, dashboard and metrics show it (spec/links.md §Status). */
export const LinkState = {
  /** First connection attempt under way. */
  Starting: 'starting',
  /** Connected to both ends, source and destination exist: messages move. */
  Running: 'running',
  /** Lost a connection (or could not open one); waiting for `nextAttemptAt`. */
  Reconnecting: 'reconnecting',
  /** The last attempt was refused for a reason an operator must fix (404, 403, bad login); retried anyway. */
  Failed: 'failed',
  /** Stopped: deleted, src-delete-after reached, or the broker is closing. */
  Terminated: 'terminated',
} as const;
export type LinkState = (typeof LinkState)[keyof typeof LinkState];

/** One link's status row. */
export interface LinkStatus {
  name: string;
  vhost: string;
  type: 'shovel' | 'federation';
  state: LinkState;
  /** Since when the link is in `state` (ISO time). */
  since: string;
  src: string;
  dest: string;
  messagesMoved: number;
  /** Messages published downstream and not yet confirmed (on-confirm). */
  inFlight: number;
  /** Messages ready in the source queue at the last check; undefined when unknown. */
  lag: number | undefined;
  lastError: string | undefined;
  lastErrorAt: string | undefined;
  /** When the next connection attempt is due (ISO time), while reconnecting or failed. */
  nextAttemptAt: string | undefined;
  /** Attempts since the link last ran. */
  attempts: number;
}

/**
 * Errors that more attempts will not cure without an operator (AMQP 403, 404, 406, 530,
 * refused login): by the reply code the client library gives, else by the reply text's
 * name (`NOT_FOUND`, amqplib's `NOT-FOUND`). Never by a bare number in the message: a
 * refused connection to `127.0.0.1:40429` is not a 404, it is a broker to wait for.
 */
export function needsOperator(err: Error): boolean {
  const code = (err as { code?: unknown }).code;
  if (code === 403 || code === 404 || code === 406 || code === 530) return true;
  return /\b(?:ACCESS[_-]REFUSED|NOT[_-]FOUND|PRECONDITION[_-]FAILED|NOT[_-]ALLOWED)\b/.test(err.message);
}
