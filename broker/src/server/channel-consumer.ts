import type { FieldTable } from '@switchyard/client/protocol';
import type { QueueConsumer } from '../queues/consumer.js';
import type { QueueEntry } from '../queues/entry.js';
import type { Queue } from '../queues/queue.js';
import type { MessageRecord } from '../store/store.js';

/** What a consumer needs from its channel (channel.ts implements it). */
export interface ConsumerChannel {
  /** False while the channel is closed or its connection backed up. */
  canDeliver(): boolean;
  /** Room under the channel-wide (global) prefetch. */
  hasGlobalRoom(): boolean;
  deliver(consumer: ChannelConsumer, queue: Queue, entry: QueueEntry, record: MessageRecord): void;
  consumerStateChanged(consumer: ChannelConsumer): void;
  consumerCancelledByBroker(consumer: ChannelConsumer, reason: string): void;
}

/** A basic.consume subscription: the queue's view of a consumer, bound to its channel. */
export class ChannelConsumer implements QueueConsumer {
  /** Messages delivered to this consumer and not yet acked. */
  unacked = 0;
  /** False while waiting its turn on a single-active-consumer queue. */
  active = true;

  constructor(
    readonly channel: ConsumerChannel,
    readonly queue: Queue,
    readonly tag: string,
    readonly noAck: boolean,
    readonly exclusive: boolean,
    readonly priority: number,
    /** Per-consumer prefetch; 0 = unlimited. */
    public prefetch: number,
    readonly args: FieldTable,
  ) {}

  canTake(): boolean {
    if (!this.channel.canDeliver()) return false;
    if (this.noAck) return true;
    return (this.prefetch === 0 || this.unacked < this.prefetch) && this.channel.hasGlobalRoom();
  }

  take(queue: Queue, entry: QueueEntry, record: MessageRecord): void {
    this.channel.deliver(this, queue, entry, record);
  }

  activeStateChanged(active: boolean): void {
    this.active = active;
    this.channel.consumerStateChanged(this);
  }

  cancelledByQueue(_queue: Queue, reason: string): void {
    this.channel.consumerCancelledByBroker(this, reason);
  }
}
