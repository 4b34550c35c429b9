import type { MessageProperties } from '@switchyard/client/protocol';
import { DeadlineTimer, type Clock } from '../queues/clock.js';
import { MinHeap } from '../queues/min-heap.js';
import type { DelayedMessageStore, MessageRecord, QueueStore } from '../store/store.js';

interface Delayed {
  seq: number;
  dueAt: number;
  stored: boolean;
  record: MessageRecord | undefined;
}

/** What a due delayed message is handed to: routing as if it were published now. */
export type DelayedRouter = (record: MessageRecord) => void;

/**
 * Messages published with an `x-delay` header (ms), held until due and then routed through
 * the exchange they were published to — Switchyard's built-in form of RabbitMQ's
 * delayed-message plugin, for any exchange type. Persistent ones are kept by the store
 * (`QueueStore.delayed`, where it chooses) and survive a restart.
 * One timer for the earliest due message; a heap orders the rest, so waiting costs no CPU.
 */
export class DelayedMessages {
  private readonly heap = new MinHeap<Delayed>((d) => d.dueAt);
  private readonly timer: DeadlineTimer;
  private nextSeq = 1;
  private pendingRelease: Delayed[] = [];
  private readonly stored: DelayedMessageStore;

  constructor(
    private readonly store: QueueStore,
    vhost: string,
    private readonly clock: Clock,
    private readonly router: DelayedRouter,
  ) {
    this.stored = store.delayed(vhost);
    this.timer = new DeadlineTimer(clock, () => this.fireDue());
  }

  get size(): number {
    return this.heap.size;
  }

  /** Reloads stored delayed messages after a restart. */
  recover(): void {
    for (const e of this.stored.recover()) {
      this.heap.push({ seq: e.seq, dueAt: e.dueAt, stored: true, record: undefined });
      this.nextSeq = e.seq + 1;
    }
    const head = this.heap.peek();
    if (head !== undefined) this.timer.armAt(head.dueAt);
  }

  /** Holds a message for `delayMs`; persistent messages are written in this turn's transaction. */
  schedule(
    exchange: string,
    routingKey: string,
    properties: MessageProperties | null,
    content: Uint8Array,
    delayMs: number,
  ): void {
    const dueAt = this.clock.now() + delayMs;
    const stored = properties?.persistent === true;
    // Stored messages drop their body once durable; an in-memory one copies it off the read buffer.
    const record: MessageRecord = {
      exchange,
      routingKey,
      properties,
      content: stored ? content : Uint8Array.prototype.slice.call(content),
    };
    const d: Delayed = { seq: this.nextSeq++, dueAt, stored, record };
    if (d.stored) {
      this.stored.put(d.seq, record, dueAt);
      this.pendingRelease.push(d);
      if (this.pendingRelease.length === 1) setImmediate(this.releaseWritten);
    }
    this.heap.push(d);
    this.timer.armAt(dueAt);
  }

  /** Bodies of stored messages live in the store once durable; a long wait costs no memory. */
  private readonly releaseWritten = (): void => {
    const batch = this.pendingRelease;
    this.pendingRelease = [];
    this.store.durable().then(
      () => {
        for (const d of batch) d.record = undefined;
      },
      () => undefined,
    );
  };

  private fireDue(): void {
    const now = this.clock.now();
    for (let d = this.heap.peek(); d !== undefined && d.dueAt <= now; d = this.heap.peek()) {
      this.heap.pop();
      const record = d.record ?? this.stored.read(d.seq);
      // Routing enqueues (and stores) the copies in this same turn as the delete below: one
      // transaction, so a crash leaves the message either still delayed or already routed.
      if (record !== undefined) this.router(record);
      if (d.stored) this.stored.remove(d.seq);
    }
    const next = this.heap.peek();
    if (next !== undefined) this.timer.armAt(next.dueAt);
  }

  stop(): void {
    this.timer.cancel();
  }

  /** Stops and forgets every delayed message, stored ones included (vhost deleted). */
  destroy(): void {
    this.stop();
    this.heap.clear();
    this.stored.clear();
  }
}

/** The `x-delay` header as a delay in ms, or undefined when the message is not delayed. */
export function delayOf(properties: MessageProperties | null): number | undefined {
  const v = properties?.headers?.['x-delay'];
  return typeof v === 'number' && Number.isFinite(v) && v > 0 ? Math.floor(v) : undefined;
}
