/**
 * A cumulative histogram with fixed upper bounds, shaped for the Prometheus text format
 * (`_bucket{le=...}`, `_sum`, `_count`). Observing is a short linear scan: bounds are few.
 */
export class Histogram {
  readonly counts: number[];
  sum = 0;
  count = 0;

  constructor(
    /** Upper bounds, ascending; +Inf is implicit. */
    readonly bounds: readonly number[],
  ) {
    this.counts = new Array<number>(bounds.length + 1).fill(0);
  }

  observe(value: number): void {
    let i = 0;
    while (i < this.bounds.length && value > this.bounds[i]!) i++;
    this.counts[i]!++;
    this.sum += value;
    this.count++;
  }

  /** Cumulative counts per bound, +Inf last, as Prometheus exposes them. */
  cumulative(): number[] {
    let running = 0;
    return this.counts.map((c) => (running += c));
  }
}

/** Latency bounds in seconds, from 0.1 ms to 10 s. */
export const LATENCY_BOUNDS_SECONDS = [
  0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10,
];

/** Histograms the broker's hot path feeds; the metrics endpoint renders them. */
export interface BrokerHistograms {
  /** Time from asking the store for a durability point to it being on disk. */
  commitLatency: Histogram;
  /** Time from the first publish of a turn reaching the broker to its confirm being sent. */
  confirmLatency: Histogram;
}

export function createBrokerHistograms(): BrokerHistograms {
  return {
    commitLatency: new Histogram(LATENCY_BOUNDS_SECONDS),
    confirmLatency: new Histogram(LATENCY_BOUNDS_SECONDS),
  };
}
