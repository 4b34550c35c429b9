import { BrokerError, ErrorCode, type MessageProperties } from '@switchyard/client/protocol';
import type { MessageRecord, QueueStore } from '../store/store.js';
import type { Clock } from '../queues/clock.js';
import type { QueueConsumer } from '../queues/consumer.js';
import type { QueueEntry } from '../queues/entry.js';
import { Queue, type EnqueueOutcome, type QueueEnvironment, type QueueSettings } from '../queues/queue.js';
import { parseStartSpec, parseStreamPolicy, type StartSpec, type StreamPolicy } from './stream-arguments.js';
import { SegmentLog } from './segment-log.js';
import { ReadAhead, type RangeReader, type StreamDelivery } from './read-window.js';
import { parseReaderName, readerOffsetScope, ReaderOffsets } from './reader-offsets.js';

/** A consumer's position in the stream: the sequence (offset + 1) it reads next. */
interface Reader {
  next: number;
  /** `x-stream-reader`: its acks store the name's offset. */
  name: string | undefined;
  /** Where it asked to start (`x-stream-offset`), undefined when it did not say. */
  spec: StartSpec | undefined;
  /** False while it waits behind the active reader of its name (single active consumer). */
  placed: boolean;
  /** It attached while another reader of its name was active: it takes over from that one. */
  waited: boolean;
  /** Its bounded read-ahead (one range read per chunk). */
  ahead: ReadAhead;
}

/** A named reader for the management API: its stored offset and how far behind it is. */
export interface NamedReaderView {
  name: string;
  /** Stored offset (-1: attached but nothing stored yet). */
  offset: number;
  /** Messages appended after the stored offset. */
  lag: number;
  /** Age in seconds of the oldest message after the stored offset (0 when caught up). */
  lagSeconds: number;
  /** Consumers attached under the name now. */
  consumers: number;
}

/**
 * A stream queue (`x-queue-type: stream`): an append-only log that consuming never removes
 * from. Every message is stored (as RabbitMQ streams store every message), under the
 * queue's id and sequence `offset + 1` in the store's message keys, with its append time in
 * the `expiresAt` meta field (a stream's messages never expire one by one). Each consumer
 * has its own position, picked with `x-stream-offset`, and reads committed messages one at
 * a time straight from the store, so a replay costs no memory beyond the deliveries in
 * flight (its prefetch). Acks only return credit. spec/semantics.md §Streams.
 */
export class StreamQueue extends Queue {
  readonly stream: StreamPolicy;
  private readonly log: QueueStore;
  private readonly readers = new Map<QueueConsumer, Reader>();
  /** Named readers' stored offsets (`x-stream-reader`, `storeOffset`). */
  private readonly offsets: ReaderOffsets;
  /** Which named reader each delivery in flight went to (its ack stores the offset). */
  private readonly deliveredTo = new WeakMap<QueueEntry, string>();
  /** First kept sequence (retention moves it). */
  private firstSeq = 1;
  /** Next sequence to append. */
  private appendSeq = 1;
  /** Highest sequence known committed: readers see nothing beyond it. */
  private committedSeq = 0;
  /** Append time of the newest message: append times never go backwards (time lookups bisect). */
  private lastAppendAt = 0;
  private logBytes = 0;
  private inFlight = 0;
  private streamDispatching = false;
  private commitPending = false;
  private readonly segments: SegmentLog | undefined;
  private readonly time: Clock;
  /** Range reads of this stream's log (each reader's read-ahead uses it). */
  private readonly readRange: RangeReader;

  constructor(settings: QueueSettings, env: QueueEnvironment) {
    const stream = parseStreamPolicy(
      settings.name,
      { durable: settings.durable, autoDelete: settings.autoDelete, exclusive: settings.exclusiveOwner !== undefined },
      settings.arguments,
    );
    super(settings, env);
    this.time = env.clock;
    if (env.store === undefined) throw new Error(`stream '${settings.name}' needs a message store`);
    const log = env.store;
    this.log = log;
    // Every vhost's store has it (ScopedStore falls back to a read per message).
    if (log.readRange === undefined) throw new Error(`stream '${settings.name}' needs a store with range reads`);
    this.readRange = (from, to, limit, maxBytes) => log.readRange!(this.id, from, to, limit, maxBytes);
    this.stream = stream;
    this.offsets = new ReaderOffsets(this.log, readerOffsetScope(this.id));
    if (stream.maxAgeMs !== undefined || stream.maxLengthBytes !== undefined)
      this.segments = new SegmentLog(this.log, this.id, stream);
  }

  // ---- views -------------------------------------------------------------------------

  /** Messages in the log (what declare-ok and management report). */
  override get messageCount(): number {
    return this.appendSeq - this.firstSeq;
  }

  override get readyBytes(): number {
    return this.logBytes;
  }

  override get unacked(): number {
    return this.inFlight;
  }

  override get inMemoryEntries(): number {
    return 0;
  }

  /** Offset of the first message kept (0 for an empty new stream). */
  get firstOffset(): number {
    return this.firstSeq - 1;
  }

  /** Offset of the last message appended (-1 when none). */
  get lastOffset(): number {
    return this.appendSeq - 2;
  }

  /**
   * The stream for the management API: its first and last offset, and each consumer's next
   * offset and lag (messages appended it has not been delivered yet).
   */
  describeStream(): {
    firstOffset: number;
    lastOffset: number;
    readers: { consumerTag: string; offset: number; lag: number; name?: string; active: boolean }[];
    namedReaders: NamedReaderView[];
  } {
    return {
      firstOffset: this.firstOffset,
      lastOffset: this.lastOffset,
      readers: [...this.readers].map(([c, r]) => ({
        consumerTag: c.tag,
        offset: r.next - 1,
        lag: Math.max(0, this.appendSeq - r.next),
        ...(r.name === undefined ? {} : { name: r.name }),
        active: r.placed && this.isActiveConsumer(c),
      })),
      namedReaders: this.namedReaders(),
    };
  }

  /** Every named reader with a stored offset or a consumer attached, by name. */
  namedReaders(): NamedReaderView[] {
    const attached = new Map<string, number>();
    for (const r of this.readers.values())
      if (r.name !== undefined) attached.set(r.name, (attached.get(r.name) ?? 0) + 1);
    const names = new Set([...this.offsets.entries().map(([n]) => n), ...attached.keys()]);
    const now = this.time.now();
    return [...names].sort().map((name) => {
      const offset = this.offsets.get(name) ?? -1;
      const nextSeq = Math.max(offset + 2, this.firstSeq);
      const lag = Math.max(0, this.appendSeq - nextSeq);
      const oldest = lag > 0 ? this.log.scan(this.id, nextSeq, 1)[0] : undefined;
      const lagSeconds = oldest === undefined ? 0 : Math.max(0, (now - oldest.expiresAt) / 1000);
      return { name, offset, lag, lagSeconds, consumers: attached.get(name) ?? 0 };
    });
  }

  // ---- server-side offset tracking ---------------------------------------------------

  /**
   * Stores a named reader's offset (RabbitMQ streams' `store_offset`); resolves once it is
   * durable. A reader of that name started without `x-stream-offset` resumes after it.
   */
  async storeOffset(reader: unknown, offset: number): Promise<void> {
    const name = parseReaderName(reader, this.name);
    if (name === undefined || !Number.isSafeInteger(offset) || offset < 0)
      throw new BrokerError(
        ErrorCode.PRECONDITION_FAILED,
        `cannot store offset ${offset} for reader ${JSON.stringify(reader)} of stream '${this.name}': give a reader name and an offset >= 0`,
      );
    this.offsets.set(name, offset);
    this.offsets.flush();
    await this.log.durable();
  }

  /** A named reader's stored offset (RabbitMQ streams' `query_offset`); undefined when none. */
  queryOffset(reader: unknown): number | undefined {
    const name = parseReaderName(reader, this.name);
    if (name === undefined)
      throw new BrokerError(
        ErrorCode.PRECONDITION_FAILED,
        `give a reader name to query an offset of stream '${this.name}'`,
      );
    return this.offsets.get(name);
  }

  override oldestReadyAgeMs(): number {
    return 0;
  }

  // ---- recovery and appends ----------------------------------------------------------

  override recover(): void {
    const pos = this.log.position(this.id);
    this.appendSeq = pos.lastSeq + 1;
    this.committedSeq = pos.lastSeq;
    this.logBytes = pos.bytes;
    const first = this.log.scan(this.id, 0, 1)[0];
    this.firstSeq = first?.seq ?? this.appendSeq;
    const last = pos.lastSeq > 0 ? this.log.scan(this.id, pos.lastSeq, 1)[0] : undefined;
    this.lastAppendAt = last?.expiresAt ?? 0;
    this.segments?.recover(this.firstSeq);
    this.offsets.recover();
  }

  override enqueue(
    exchange: string,
    routingKey: string,
    properties: MessageProperties | null,
    content: Uint8Array,
  ): EnqueueOutcome {
    const at = Math.max(this.lastAppendAt, this.time.now());
    this.lastAppendAt = at;
    const seq = this.appendSeq++;
    this.log.enqueue(this.id, seq, { exchange, routingKey, properties, content }, { expiresAt: at, priority: 0 });
    this.logBytes += content.length;
    this.counters.published++;
    if (this.segments !== undefined) {
      const removed = this.segments.append(seq, content.length, at);
      if (removed !== undefined) this.trimTo(removed.firstSeq, removed.bytes);
    }
    this.awaitCommit();
    return 'queued';
  }

  /** Readers see a turn's appends once the store has committed them. */
  private awaitCommit(): void {
    if (this.commitPending) return;
    this.commitPending = true;
    setImmediate(() => {
      const upTo = this.appendSeq - 1;
      let durable: Promise<void>;
      try {
        durable = this.log.durable();
      } catch {
        this.commitPending = false; // the store was closed (broker shutdown)
        return;
      }
      durable.then(
        () => {
          this.commitPending = false;
          if (upTo > this.committedSeq) this.committedSeq = upTo;
          if (this.appendSeq - 1 > upTo) this.awaitCommit();
          try {
            if (!this.isDeleted) this.dispatch();
          } catch {
            // The store was closed meanwhile (broker shutdown): readers continue after the next start.
          }
        },
        () => {
          // A failed commit is reported to publishers through their confirms; retry with the next turn.
          this.commitPending = false;
        },
      );
    });
  }

  /** Retention removed everything before `firstSeq`: readers there continue from it. */
  private trimTo(firstSeq: number, bytes: number): void {
    this.firstSeq = firstSeq;
    this.logBytes -= bytes;
    for (const r of this.readers.values()) {
      r.ahead.clear();
      if (r.next < firstSeq) r.next = firstSeq;
    }
  }

  /** Applies `x-max-age` now (also run on every append that closes a segment). */
  applyRetention(): void {
    const removed = this.segments?.applyRetention(this.time.now());
    if (removed !== undefined) this.trimTo(removed.firstSeq, removed.bytes);
  }

  // ---- consumers ---------------------------------------------------------------------

  /**
   * RabbitMQ's rules, in its order: a consumer needs a prefetch (406), then manual acks (540,
   * a connection error in AMQP as in RabbitMQ); a malformed x-stream-offset is 406 (RabbitMQ
   * 3.10 fails it with 541 INTERNAL_ERROR).
   */
  override checkConsumer(
    consumer: { exclusive: boolean; prefetch?: number; noAck?: boolean; args?: QueueConsumer['args'] },
    vhost?: string,
  ): void {
    super.checkConsumer(consumer, vhost);
    if (consumer.prefetch === undefined || consumer.prefetch === 0)
      throw new BrokerError(
        ErrorCode.PRECONDITION_FAILED,
        `consumer prefetch count is not set for stream '${this.name}'; call basic.qos (prefetch) before consuming`,
      );
    if (consumer.noAck === true)
      throw new BrokerError(
        ErrorCode.NOT_IMPLEMENTED,
        `automatic acknowledgement not supported by stream queues ('${this.name}'); consume with manual acks`,
      );
    parseStartSpec(consumer.args?.['x-stream-offset'], this.time.now());
    parseReaderName(consumer.args?.['x-stream-reader'], this.name);
  }

  /** Single active consumer holds per reader name (unnamed consumers are one group). */
  protected override consumerGroup(consumer: QueueConsumer): string {
    const name = consumer.args?.['x-stream-reader'];
    return typeof name === 'string' ? `r:${name}` : '';
  }

  override addConsumer(consumer: QueueConsumer): void {
    const offsetArg = consumer.args?.['x-stream-offset'];
    const spec = offsetArg === undefined || offsetArg === null ? undefined : parseStartSpec(offsetArg, this.time.now());
    const name = parseReaderName(consumer.args?.['x-stream-reader'], this.name);
    const r: Reader = {
      next: this.appendSeq,
      name,
      spec,
      placed: false,
      waited: false,
      ahead: new ReadAhead(this.readRange),
    };
    this.readers.set(consumer, r);
    super.addConsumer(consumer);
    if (this.policy.singleActiveConsumer && !this.isActiveConsumer(consumer)) r.waited = true;
    else if (!r.placed) this.place(r);
  }

  override removeConsumer(consumer: QueueConsumer): void {
    this.readers.delete(consumer);
    super.removeConsumer(consumer);
  }

  /**
   * Places a reader when it becomes active: where it asked (`x-stream-offset`); a named reader
   * that did not ask, or that takes over from another of its name (single active consumer),
   * resumes after its name's stored offset; otherwise `next`. Without single active consumer
   * every reader is placed at once (when it attaches).
   */
  private place(r: Reader): void {
    r.placed = true;
    r.ahead.clear();
    const stored = r.name === undefined ? undefined : this.offsets.get(r.name);
    if (stored !== undefined && (r.spec === undefined || r.waited))
      r.next = Math.min(Math.max(stored + 2, this.firstSeq), this.appendSeq);
    else r.next = this.startSeq(r.spec ?? { kind: 'next' });
  }

  /** Where a consumer starts, clamped to what the log holds. */
  private startSeq(spec: StartSpec): number {
    switch (spec.kind) {
      case 'first':
        return this.firstSeq;
      case 'last':
        return this.appendSeq > this.firstSeq ? this.appendSeq - 1 : this.appendSeq;
      case 'next':
        return this.appendSeq;
      case 'offset':
        return Math.min(Math.max(spec.offset + 1, this.firstSeq), this.appendSeq);
      case 'time':
        return this.seqAt(spec.at);
    }
  }

  /** The first committed message appended at or after `at` (bisects the append times). */
  private seqAt(at: number): number {
    let lo = this.firstSeq;
    let hi = this.committedSeq + 1;
    while (lo < hi) {
      const mid = Math.floor((lo + hi) / 2);
      const e = this.log.scan(this.id, mid, 1)[0];
      if (e === undefined || e.expiresAt >= at) hi = mid;
      else lo = e.seq + 1;
    }
    return lo;
  }

  /**
   * Hands each consumer with credit the next committed messages from its own position. The
   * single active consumer (if set) is the only one served.
   */
  override dispatch(): void {
    if (this.streamDispatching || this.isDeleted) return;
    this.streamDispatching = true;
    try {
      const sac = this.policy.singleActiveConsumer;
      for (const consumer of this.consumers) {
        const r = this.readers.get(consumer);
        if (r === undefined) continue;
        if (sac && !this.isActiveConsumer(consumer)) continue;
        // The first active reader of a name places itself as it asked; a later one takes over.
        if (!r.placed) this.place(r);
        if (r.next < this.firstSeq) r.next = this.firstSeq;
        while (r.next <= this.committedSeq && consumer.canTake()) {
          const d = r.ahead.next(r.next, this.committedSeq);
          if (d === undefined) {
            r.next = this.committedSeq + 1; // removed by retention meanwhile
            break;
          }
          r.next = d.seq + 1;
          this.deliverTo(consumer, d, r.name);
        }
      }
    } finally {
      this.streamDispatching = false;
    }
  }

  private deliverTo(consumer: QueueConsumer, d: StreamDelivery, reader: string | undefined): void {
    const entry: QueueEntry = {
      seq: d.seq,
      size: d.record.content.length,
      stored: false,
      deliveries: 0,
      enqueuedAt: 0,
      priority: 0,
      expiresAt: 0,
      readyAt: 0,
      lease: 0,
      record: undefined,
    };
    if (reader !== undefined) this.deliveredTo.set(entry, reader);
    this.inFlight++;
    this.counters.delivered++;
    consumer.take(this, entry, d.record);
  }

  // ---- settling: acks only return credit ---------------------------------------------

  /** An ack of a named reader's delivery stores its offset (never moving it back). */
  override settle(entry: QueueEntry): void {
    const reader = this.deliveredTo.get(entry);
    if (reader !== undefined) this.offsets.advance(reader, entry.seq - 1);
    this.inFlight--;
    this.counters.acked++;
  }

  override reject(entries: readonly QueueEntry[]): void {
    this.inFlight -= entries.length;
  }

  override requeue(entries: readonly QueueEntry[]): void {
    this.inFlight -= entries.length;
    this.dispatch();
  }

  override take(): never {
    throw new BrokerError(
      ErrorCode.NOT_IMPLEMENTED,
      `basic.get not supported by stream queues ('${this.name}'); consume with x-stream-offset instead`,
    );
  }

  override peek(): { entry: QueueEntry; record: MessageRecord }[] {
    return [];
  }

  override purge(): number {
    throw new BrokerError(
      ErrorCode.NOT_IMPLEMENTED,
      `purge not supported by stream queues ('${this.name}'); use x-max-length-bytes or x-max-age retention`,
    );
  }

  override delete(reason: string): number {
    this.readers.clear();
    this.offsets.clear();
    const n = this.messageCount;
    super.delete(reason);
    return n;
  }
}
