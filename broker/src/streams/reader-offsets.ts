import { BrokerError, ErrorCode } from '@switchyard/client/protocol';
import type { QueueStore } from '../store/store.js';

/** Longest reader name (RabbitMQ streams' consumer reference: 256 bytes at most). */
export const MAX_READER_NAME = 255;

/**
 * The store scope of a stream's named-reader offsets. They live in the store's keyed-number
 * table (the one deduplication ids use: (scope, id) → number, written in the turn's batch, in
 * the same LMDB environment as the stream's log), under a scope of their own.
 */
export function readerOffsetScope(queueId: number): string {
  return `stream-readers:${queueId}`;
}

/**
 * Validates a reader name (`x-stream-reader`, or the name given to store/query an offset):
 * a non-empty string of at most 255 characters; 406 otherwise.
 */
export function parseReaderName(v: unknown, queue: string): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string' || v.length === 0 || v.length > MAX_READER_NAME)
    throw new BrokerError(
      ErrorCode.PRECONDITION_FAILED,
      `invalid x-stream-reader ${JSON.stringify(v) ?? typeof v} for stream '${queue}': expected a name of 1 to ${MAX_READER_NAME} characters`,
    );
  return v;
}

/**
 * The stored offsets of a stream's named readers (server-side offset tracking, as RabbitMQ
 * streams' `store_offset`/`query_offset` and Kafka's committed offsets). Kept in memory and
 * written to the store once per event-loop turn per reader (many acks of one turn are one
 * write). spec/semantics.md §Streams.
 */
export class ReaderOffsets {
  private readonly offsets = new Map<string, number>();
  private readonly dirty = new Set<string>();
  private flushScheduled = false;
  private closed = false;

  constructor(
    private readonly store: QueueStore,
    private readonly scope: string,
  ) {}

  /** Loads the stored offsets (restart). */
  recover(): void {
    this.offsets.clear();
    for (const [name, offset] of this.store.loadDedup(this.scope)) this.offsets.set(name, offset);
  }

  get(name: string): number | undefined {
    return this.offsets.get(name);
  }

  /** Every named reader and its stored offset. */
  entries(): [string, number][] {
    return [...this.offsets];
  }

  /** An explicit store: the reader's offset becomes `offset` (also backwards, as RabbitMQ's). */
  set(name: string, offset: number): void {
    this.offsets.set(name, offset);
    this.markDirty(name);
  }

  /** An ack by a named reader: its offset moves forward to `offset` (never back). */
  advance(name: string, offset: number): void {
    const cur = this.offsets.get(name);
    if (cur !== undefined && cur >= offset) return;
    this.set(name, offset);
  }

  /** The stream was deleted: its readers' offsets go with it. */
  clear(): void {
    this.closed = true;
    this.offsets.clear();
    this.dirty.clear();
    this.store.removeDedupScope?.(this.scope);
  }

  private markDirty(name: string): void {
    this.dirty.add(name);
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => this.flush());
  }

  /** Writes the turn's changed offsets (one put per reader). */
  flush(): void {
    this.flushScheduled = false;
    if (this.closed) return;
    try {
      for (const name of this.dirty) this.store.putDedup(this.scope, name, this.offsets.get(name)!);
      this.dirty.clear();
    } catch {
      // The store was closed (broker shutdown): the offsets acked in this last turn are lost,
      // as an unconfirmed publish is; the reader resumes a little earlier.
    }
  }
}
