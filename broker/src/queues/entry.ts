import type { MessageRecord } from '../store/store.js';

/**
 * What a queue keeps in memory per message. Persistent messages drop `record` once their
 * write is durable and read the body back from the store when delivered, so a large backlog
 * costs an index entry per message, not its body.
 */
export interface QueueEntry {
  /** Per-queue sequence: the order of the queue, and the message's store key. */
  seq: number;
  /** Body size in bytes. */
  size: number;
  /** Stored in the queue's store (persistent message in a durable queue). */
  stored: boolean;
  /** Deliveries so far; shown to consumers as `deliveryCount` (0 on the first delivery). */
  deliveries: number;
  /** When it entered the queue (ms since the epoch; restart time for recovered messages). */
  enqueuedAt: number;
  /** Envelope and body while in memory; undefined once dropped in favour of the store. */
  record: MessageRecord | undefined;
}
