/**
 * Message rates and short history for the management API and the dashboard, computed by
 * sampling counters every few seconds here rather than on the hot path: queues only bump
 * plain counters, and this layer turns differences into rates.
 *
 * A rate is `(live counter - counter at the oldest kept sample) / elapsed`, over a window of
 * about `windowMs`, so it is fresh at every request. The history keeps, per queue and for the
 * whole broker, depth and rates at each sample for the last `historySize` samples.
 */

/** Monotonic counters of a queue (or of the broker), as {@link Queue.counters} holds them. */
export interface QueueCounterSource {
  readonly counters: { published: number; delivered: number; redelivered: number; acked: number; deadLettered: number };
  readonly messageCount: number;
  readonly unacked: number;
}

/** Per-second rates. */
export interface Rates {
  publish: number;
  deliver: number;
  redeliver: number;
  ack: number;
  deadLetter: number;
}

/** Depth and rates at each sample, oldest first; arrays are parallel to `t`. */
export interface History {
  intervalMs: number;
  /** Sample times, ms since the epoch. */
  t: number[];
  ready: number[];
  unacked: number[];
  publishRate: number[];
  deliverRate: number[];
  ackRate: number[];
}

export interface RateSamplerOptions {
  /** How often counters are sampled, ms. Default 2,000. */
  intervalMs?: number;
  /** Samples of history kept. Default 150 (5 minutes at 2 s). */
  historySize?: number;
  /** Rates average over about this long, ms. Default 5,000. */
  windowMs?: number;
}

type Counters = [publish: number, deliver: number, redeliver: number, ack: number, deadLetter: number];
const ZERO: Counters = [0, 0, 0, 0, 0];
const HISTORY_FIELDS = 5; // ready, unacked, publishRate, deliverRate, ackRate

interface Snapshot {
  t: number;
  c: Counters;
}

/** A fixed-size ring of samples: times plus HISTORY_FIELDS float values each. */
class HistoryRing {
  private readonly times: Float64Array;
  private readonly values: Float32Array;
  private head = 0;
  private length = 0;

  constructor(private readonly size: number) {
    this.times = new Float64Array(size);
    this.values = new Float32Array(size * HISTORY_FIELDS);
  }

  push(t: number, v: readonly number[]): void {
    this.times[this.head] = t;
    for (let i = 0; i < HISTORY_FIELDS; i++) this.values[this.head * HISTORY_FIELDS + i] = v[i]!;
    this.head = (this.head + 1) % this.size;
    if (this.length < this.size) this.length++;
  }

  toHistory(intervalMs: number): History {
    const h: History = { intervalMs, t: [], ready: [], unacked: [], publishRate: [], deliverRate: [], ackRate: [] };
    const fields = [h.ready, h.unacked, h.publishRate, h.deliverRate, h.ackRate];
    for (let k = 0; k < this.length; k++) {
      const i = (this.head - this.length + k + this.size) % this.size;
      h.t.push(this.times[i]!);
      for (let f = 0; f < HISTORY_FIELDS; f++) fields[f]!.push(round(this.values[i * HISTORY_FIELDS + f]!));
    }
    return h;
  }
}

/** What the sampler remembers of one queue (or of the broker as a whole). */
class Track {
  /** The last few samples' counters, oldest first: the base for live rates. */
  readonly recent: Snapshot[] = [];
  readonly history: HistoryRing;

  constructor(historySize: number) {
    this.history = new HistoryRing(historySize);
  }
}

export class RateSampler {
  readonly intervalMs: number;
  private readonly historySize: number;
  private readonly keep: number;
  private readonly tracks = new Map<QueueCounterSource, Track>();
  private readonly broker: Track;
  /** Counters of deleted queues, so broker-wide totals stay monotonic. */
  private retired: Counters = [...ZERO];
  private lastSampleAt: number;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly queues: () => Iterable<QueueCounterSource>,
    /** Broker-wide publish count (includes unroutable messages). */
    private readonly brokerPublished: () => number,
    options: RateSamplerOptions = {},
  ) {
    this.intervalMs = options.intervalMs ?? 2_000;
    this.historySize = options.historySize ?? 150;
    this.keep = Math.max(2, Math.ceil((options.windowMs ?? 5_000) / this.intervalMs) + 1);
    this.broker = new Track(this.historySize);
    this.lastSampleAt = Date.now();
  }

  start(): void {
    this.sample();
    this.timer = setInterval(() => this.sample(), this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** Takes a sample now (the timer calls this; tests may too). */
  sample(now = Date.now()): void {
    const seen = new Set<QueueCounterSource>();
    let ready = 0;
    let unacked = 0;
    for (const q of this.queues()) {
      seen.add(q);
      ready += q.messageCount;
      unacked += q.unacked;
      let track = this.tracks.get(q);
      if (track === undefined) {
        // Not seen at the last sample: created since, with counters at zero then.
        track = new Track(this.historySize);
        track.recent.push({ t: this.lastSampleAt, c: [...ZERO] });
        this.tracks.set(q, track);
      }
      this.record(track, now, countersOf(q), q.messageCount, q.unacked);
    }
    for (const [q, track] of this.tracks) {
      if (seen.has(q)) continue;
      const last = track.recent[track.recent.length - 1];
      if (last !== undefined) this.retired = add(this.retired, last.c);
      this.tracks.delete(q);
    }
    this.record(this.broker, now, this.brokerCounters(), ready, unacked);
    this.lastSampleAt = now;
  }

  private record(track: Track, now: number, c: Counters, ready: number, unacked: number): void {
    const prev = track.recent[track.recent.length - 1];
    const r = prev === undefined ? ZERO : ratesBetween(prev, { t: now, c });
    track.history.push(now, [ready, unacked, r[0], r[1], r[3]]);
    track.recent.push({ t: now, c });
    if (track.recent.length > this.keep) track.recent.shift();
  }

  /** Live rates of a queue. */
  queueRates(q: QueueCounterSource, now = Date.now()): Rates {
    const base = this.tracks.get(q)?.recent[0] ?? { t: this.lastSampleAt, c: ZERO };
    return toRates(ratesBetween(base, { t: now, c: countersOf(q) }));
  }

  /** Live broker-wide rates. */
  overviewRates(now = Date.now()): Rates {
    const base = this.broker.recent[0] ?? { t: this.lastSampleAt, c: ZERO };
    return toRates(ratesBetween(base, { t: now, c: this.brokerCounters() }));
  }

  /** Depth and rates of a queue over the kept samples (empty until it is first sampled). */
  queueHistory(q: QueueCounterSource): History {
    return this.tracks.get(q)?.history.toHistory(this.intervalMs) ?? new HistoryRing(1).toHistory(this.intervalMs);
  }

  overviewHistory(): History {
    return this.broker.history.toHistory(this.intervalMs);
  }

  private brokerCounters(): Counters {
    let sum: Counters = [...this.retired];
    for (const q of this.queues()) sum = add(sum, countersOf(q));
    sum[0] = this.brokerPublished();
    return sum;
  }
}

function countersOf(q: QueueCounterSource): Counters {
  const c = q.counters;
  return [c.published, c.delivered, c.redelivered, c.acked, c.deadLettered];
}

function add(a: Counters, b: Counters): Counters {
  return [a[0] + b[0], a[1] + b[1], a[2] + b[2], a[3] + b[3], a[4] + b[4]];
}

/** Per-second rates between two snapshots; at least one second of elapsed time, never negative. */
function ratesBetween(from: Snapshot, to: Snapshot): Counters {
  const seconds = Math.max(1, (to.t - from.t) / 1000);
  return to.c.map((v, i) => Math.max(0, (v - from.c[i]!) / seconds)) as Counters;
}

function toRates(c: Counters): Rates {
  return {
    publish: round(c[0]),
    deliver: round(c[1]),
    redeliver: round(c[2]),
    ack: round(c[3]),
    deadLetter: round(c[4]),
  };
}

function round(v: number): number {
  return Math.round(v * 100) / 100;
}
