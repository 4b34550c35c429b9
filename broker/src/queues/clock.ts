/**
 * Time as the queues see it. Injected so tests can use a fake clock; the broker uses the
 * system clock. Timers are opaque handles.
 */
export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => {
    const t = setTimeout(fn, Math.max(0, ms));
    t.unref?.();
    return t;
  },
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};

/**
 * One re-armable timer that fires at an absolute time. Arming for a later time than the one
 * pending is a no-op, so callers can arm on every change without churning timers.
 */
export class DeadlineTimer {
  private handle: unknown;
  private at = Infinity;

  constructor(
    private readonly clock: Clock,
    private readonly fire: () => void,
  ) {}

  /** Ensures the timer fires no later than `at` (ms since the epoch). */
  armAt(at: number): void {
    if (at >= this.at) return;
    this.cancel();
    this.at = at;
    this.handle = this.clock.setTimeout(() => {
      this.handle = undefined;
      this.at = Infinity;
      this.fire();
    }, at - this.clock.now());
  }

  cancel(): void {
    if (this.handle !== undefined) this.clock.clearTimeout(this.handle);
    this.handle = undefined;
    this.at = Infinity;
  }
}

/**
 * The same clock, with every timer callback run inside try/catch: an unexpected error in TTL
 * expiry, dead-lettering, a delayed release or queue expiry goes to `onError` (which logs it
 * with its context) instead of ending the process. The broker keeps serving; the timer's work
 * for that turn is lost, and the next arm of the timer tries again.
 */
export function guardedClock(clock: Clock, onError: (err: unknown) => void): Clock {
  return {
    now: () => clock.now(),
    setTimeout: (fn, ms) =>
      clock.setTimeout(() => {
        try {
          fn();
        } catch (err) {
          onError(err);
        }
      }, ms),
    clearTimeout: (h) => clock.clearTimeout(h),
  };
}
