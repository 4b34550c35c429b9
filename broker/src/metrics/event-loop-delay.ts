import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';

/**
 * How often the monitor's timer fires. A stall shorter than this may be missed or seen only
 * partly; 10 ms is Node's default and what prom-client uses, cheap enough to leave on.
 */
export const EVENT_LOOP_RESOLUTION_MS = 10;

/** Event-loop delay quantiles in milliseconds (spec/management.md §Metrics). */
export interface EventLoopDelaySnapshot {
  p50: number;
  p99: number;
  p999: number;
  max: number;
  /** Timer ticks sampled since the window started. */
  samples: number;
  /** When the window started (broker start or the last reset), ISO 8601. */
  since: string;
}

/**
 * The process's event-loop delay, sampled by `perf_hooks.monitorEventLoopDelay`. One per
 * process (the event loop is the process's, whatever number of brokers it embeds), cumulative
 * since it was started or last reset. Values are the delay beyond the timer's own interval:
 * an idle loop reads about 0, a 200 ms synchronous block reads about 200 ms.
 */
export class EventLoopDelayMonitor {
  private readonly histogram: IntervalHistogram;
  private startedAt = Date.now();

  constructor(readonly resolutionMs = EVENT_LOOP_RESOLUTION_MS) {
    this.histogram = monitorEventLoopDelay({ resolution: resolutionMs });
    this.histogram.enable();
  }

  /** Quantile `q` (0..1) of the delay in milliseconds; 0 before the first sample. */
  quantileMs(q: number): number {
    if (this.histogram.count === 0) return 0;
    return this.beyondInterval(this.histogram.percentile(q * 100));
  }

  get maxMs(): number {
    return this.histogram.count === 0 ? 0 : this.beyondInterval(this.histogram.max);
  }

  /** Sum of the sampled delays in milliseconds (mean × count: the histogram keeps no exact sum). */
  get sumMs(): number {
    return this.histogram.count === 0 ? 0 : this.beyondInterval(this.histogram.mean) * this.histogram.count;
  }

  get count(): number {
    return this.histogram.count;
  }

  snapshot(): EventLoopDelaySnapshot {
    return {
      p50: round3(this.quantileMs(0.5)),
      p99: round3(this.quantileMs(0.99)),
      p999: round3(this.quantileMs(0.999)),
      max: round3(this.maxMs),
      samples: this.count,
      since: new Date(this.startedAt).toISOString(),
    };
  }

  /**
   * Starts a new window: the next readings cover only what happens from now on. Node restarts
   * its interval measurement too, so the first interval after the reset is not recorded.
   */
  reset(): void {
    this.histogram.reset();
    this.startedAt = Date.now();
  }

  // The histogram records the whole interval between ticks in nanoseconds; the delay is
  // what exceeds the configured resolution.
  private beyondInterval(ns: number): number {
    return Math.max(0, ns / 1e6 - this.resolutionMs);
  }
}

const round3 = (x: number): number => Math.round(x * 1000) / 1000;

let shared: EventLoopDelayMonitor | undefined;

/** The process-wide monitor, started on first use (the broker starts it when it starts). */
export function eventLoopDelay(): EventLoopDelayMonitor {
  shared ??= new EventLoopDelayMonitor();
  return shared;
}
