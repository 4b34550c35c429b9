import type { FieldTable } from '@switchyard/client/protocol';
import type { MessageRecord } from '../store/store.js';
import type { QueueEntry } from './entry.js';
import type { Queue } from './queue.js';

/**
 * A subscriber as a queue sees it. The server's channel implements this; the queue only
 * asks whether the consumer has room and hands it messages, so dispatch logic stays free
 * of sockets and can be tested on its own.
 */
export interface QueueConsumer {
  readonly tag: string;
  /** Higher-priority consumers are served first while they have room (x-priority). */
  readonly priority: number;
  readonly exclusive: boolean;
  /** Per-consumer prefetch (0 = unlimited); streams require one. */
  readonly prefetch?: number;
  /** Acknowledges automatically (streams refuse it). */
  readonly noAck?: boolean;
  /** basic.consume arguments (`x-stream-offset` for streams). */
  readonly args?: FieldTable;
  /** True while it may take another message now (prefetch room, socket not backed up). */
  canTake(): boolean;
  /** Hands a message over; the consumer delivers it and tracks it until ack. */
  take(queue: Queue, entry: QueueEntry, record: MessageRecord): void;
  /**
   * Single-active-consumer queues only: this consumer became the active one (true) or was
   * registered as waiting (false).
   */
  activeStateChanged?(active: boolean): void;
  /** The queue went away (deleted): the consumer is cancelled by the broker. */
  cancelledByQueue(queue: Queue, reason: string): void;
}
