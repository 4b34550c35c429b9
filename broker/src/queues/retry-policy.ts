/**
 * How long a requeued message waits before it is ready again (`x-retry-delays`): either a
 * list of delays indexed by failed deliveries (the last repeats), or exponential backoff
 * `{ initial, multiplier, max, jitter }` where jitter is a fraction (0.2 = ±20 %).
 */
export type RetryPolicy =
  | { kind: 'list'; delays: number[] }
  | { kind: 'exponential'; initial: number; multiplier: number; max: number; jitter: number };

/** Delay in ms before redelivery after the `failures`-th failed delivery (1-based). */
export function retryDelay(policy: RetryPolicy, failures: number, random: () => number = Math.random): number {
  const n = Math.max(1, failures);
  if (policy.kind === 'list') return policy.delays[Math.min(n, policy.delays.length) - 1] ?? 0;
  const base = Math.min(policy.max, policy.initial * policy.multiplier ** (n - 1));
  const spread = base * policy.jitter;
  return Math.max(0, Math.round(base - spread + random() * 2 * spread));
}
