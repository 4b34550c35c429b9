import type { QueueStore } from '../store/store.js';
import type { StreamPolicy } from './stream-arguments.js';

/** One segment of a stream: a run of sequences retention removes as a whole. */
interface Segment {
  first: number;
  last: number;
  bytes: number;
  /** Append time of its newest message (ms since the epoch). */
  lastAt: number;
}

/** What retention removed: the new first sequence and the bytes gone. */
export interface Trimmed {
  firstSeq: number;
  bytes: number;
}

/** Messages read per scan when rebuilding the segments at a restart. */
const RECOVER_CHUNK = 10_000;

/**
 * A stream's segment bookkeeping for retention (`x-max-length-bytes`, `x-max-age`), applied
 * by whole segments as RabbitMQ does: a segment closes once it holds
 * `x-stream-max-segment-size-bytes`, retention runs when one closes, and the segment being
 * written is never removed. Segments are rebuilt from the stored log at a restart (sizes and
 * append times, no bodies). spec/semantics.md §Streams.
 */
export class SegmentLog {
  private segments: Segment[] = [];
  private totalBytes = 0;

  constructor(
    private readonly store: QueueStore,
    private readonly queueId: number,
    private readonly policy: StreamPolicy,
  ) {}

  /** Rebuilds the segments from the stored log, from `firstSeq` on. */
  recover(firstSeq: number): void {
    this.segments = [];
    this.totalBytes = 0;
    for (let from = firstSeq; ;) {
      const chunk = this.store.scan(this.queueId, from, RECOVER_CHUNK);
      for (const e of chunk) this.add(e.seq, e.size, e.expiresAt);
      if (chunk.length < RECOVER_CHUNK) break;
      from = chunk[chunk.length - 1]!.seq + 1;
    }
  }

  /** Records an appended message; returns what retention removed if a segment closed. */
  append(seq: number, size: number, at: number): Trimmed | undefined {
    const rolled = this.add(seq, size, at);
    return rolled ? this.applyRetention(at) : undefined;
  }

  /** True when the message opened a new segment (the previous one closed). */
  private add(seq: number, size: number, at: number): boolean {
    const cur = this.segments[this.segments.length - 1];
    this.totalBytes += size;
    if (cur === undefined || cur.bytes >= this.policy.segmentBytes) {
      this.segments.push({ first: seq, last: seq, bytes: size, lastAt: at });
      return cur !== undefined;
    }
    cur.last = seq;
    cur.bytes += size;
    cur.lastAt = at;
    return false;
  }

  /**
   * Removes the oldest closed segments while the stream is over `x-max-length-bytes` or
   * their newest message is older than `x-max-age`. Undefined when nothing was removed.
   */
  applyRetention(now: number): Trimmed | undefined {
    const { maxLengthBytes, maxAgeMs } = this.policy;
    let bytes = 0;
    while (this.segments.length > 1) {
      const oldest = this.segments[0]!;
      const overSize = maxLengthBytes !== undefined && this.totalBytes > maxLengthBytes;
      const tooOld = maxAgeMs !== undefined && oldest.lastAt < now - maxAgeMs;
      if (!overSize && !tooOld) break;
      this.segments.shift();
      this.totalBytes -= oldest.bytes;
      bytes += oldest.bytes;
      this.remove(oldest);
    }
    return bytes === 0 ? undefined : { firstSeq: this.segments[0]!.first, bytes };
  }

  /** Drops a segment's messages from the store (one batch with the turn's other writes). */
  private remove(s: Segment): void {
    for (const e of this.store.scan(this.queueId, s.first, s.last - s.first + 1))
      this.store.drop(this.queueId, e.seq, e.lease, e.size);
  }
}
