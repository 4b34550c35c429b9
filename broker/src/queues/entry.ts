import type { MessageRecord } from '../store/store.js';

/**
 * What a queue keeps in memory per message. Persistent messages drop `record` once their
 * write is durable (beyond a small budget) and read the body back from the store when
 * delivered, so a large backlog costs an index entry per message, not its body.
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
  /** Priority level (0 unless the queue has `x-max-priority`). */
  priority: number;
  /** When it expires (ms since the epoch); 0 = never. */
  expiresAt: number;
  /** Held back by a delayed retry until this time; 0 = ready. */
  readyAt: number;
  /** The store's lease token for a stored message (store.ts `Lease`); 0 otherwise. */
  lease: number;
  /** Envelope and body while in memory; undefined once dropped in favour of the store. */
  record: MessageRecord | undefined;
}
