import type { MessageRecord, StoredMessage } from '../store/store.js';

/** A stream message ready to hand to its reader: its record already carries `x-stream-offset`. */
export interface StreamDelivery {
  seq: number;
  record: MessageRecord;
}

/** Reads stored messages `fromSeq..toSeq` in order: at most `limit`, stopping past `maxBytes`. */
export type RangeReader = (fromSeq: number, toSeq: number, limit: number, maxBytes: number) => StoredMessage[];

/** How much one range read brings in. */
export interface ReadAheadLimits {
  /** Messages per range read. */
  chunkMessages: number;
  /** Body bytes per range read (a read stops once past it; at least one message). */
  chunkBytes: number;
}

export const DEFAULT_READ_AHEAD: ReadAheadLimits = { chunkMessages: 128, chunkBytes: 512 * 1024 };

/**
 * One reader's read-ahead: the next chunk of the log, read with one range read instead of a
 * read per message, handed out in order. Bounded (one chunk: `chunkMessages` messages or
 * about `chunkBytes` of bodies), so a replay of any length keeps the broker's memory flat,
 * and short-lived: a reader with credit takes its chunk in the same dispatch.
 * spec/semantics.md §Streams.
 */
export class ReadAhead {
  private chunk: StreamDelivery[] = [];
  private at = 0;

  constructor(
    private readonly read: RangeReader,
    private readonly limits: ReadAheadLimits = DEFAULT_READ_AHEAD,
  ) {}

  /**
   * The message at `seq`, or the first one stored after it (retention removed the ones
   * between), up to `upTo`; undefined when none is stored in `seq..upTo`. Positions only move
   * forward: after a jump back, `clear()` first.
   */
  next(seq: number, upTo: number): StreamDelivery | undefined {
    while (this.at < this.chunk.length && this.chunk[this.at]!.seq < seq) this.at++;
    if (this.at < this.chunk.length) return this.chunk[this.at];
    let read: StoredMessage[] = [];
    // A run of sequences retention removed reads empty: look further, a chunk at a time.
    for (let from = seq; read.length === 0; from += this.limits.chunkMessages) {
      if (from > upTo) return undefined;
      const end = Math.min(upTo, from + this.limits.chunkMessages - 1);
      read = this.read(from, end, this.limits.chunkMessages, this.limits.chunkBytes);
    }
    this.chunk = read.map((m) => ({ seq: m.seq, record: withOffsetHeader(m.record, m.seq - 1) }));
    this.at = 0;
    return this.chunk[0];
  }

  /** Forgets the chunk (the reader moved back, or retention removed messages). */
  clear(): void {
    this.chunk = [];
    this.at = 0;
  }
}

/** The record as delivered: its headers carry its offset (spec/semantics.md §Streams). */
function withOffsetHeader(record: MessageRecord, offset: number): MessageRecord {
  const props = record.properties ?? {};
  return { ...record, properties: { ...props, headers: { ...props.headers, 'x-stream-offset': offset } } };
}
