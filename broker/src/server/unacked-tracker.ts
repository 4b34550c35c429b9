import { TagRing } from '@switchyard/client/protocol';
import type { QueueEntry } from '../queues/entry.js';
import type { Queue } from '../queues/queue.js';

/** A message delivered on a channel and not yet acknowledged. */
export interface Delivery {
  tag: number;
  queue: Queue;
  entry: QueueEntry;
  /** The consumer it went to; undefined for basic.get. */
  consumerTag: string | undefined;
  /** When it was delivered (ms since the epoch), for the consumer timeout. */
  at: number;
}

/**
 * Deliveries of one channel awaiting ack, by delivery tag. Tags only grow, so "everything
 * up to tag N" is a prefix walk. A TagRing rather than a Map: a Map used as a FIFO
 * reallocates its hash table every few acks, GC work per message (tag-ring.ts).
 */
export class UnackedTracker {
  private readonly byTag = new TagRing<Delivery>();

  get size(): number {
    return this.byTag.size;
  }

  add(d: Delivery): void {
    this.byTag.set(d.tag, d);
  }

  /**
   * Removes and returns the deliveries an ack/nack names: one tag, or with `multiple` every
   * outstanding tag up to it (tag 0 with multiple = all, as AMQP defines). A single tag must
   * be outstanding; a multiple ack may name a tag already settled (the SDK's ackAll does)
   * but not one never issued. Returns undefined when the tag is invalid — the caller turns
   * that into 406 PRECONDITION_FAILED.
   */
  take(tag: number, multiple: boolean, highestIssued: number): Delivery[] | undefined {
    if (!multiple) {
      const d = this.byTag.delete(tag);
      return d === undefined ? undefined : [d];
    }
    if (tag > highestIssued) return undefined;
    const out: Delivery[] = [];
    this.byTag.deleteUpTo(tag === 0 ? Infinity : tag, (d) => out.push(d));
    return out;
  }

  /**
   * The first delivery held longer than its queue's consumer timeout (or `defaultMs`), if
   * any. Deliveries are in tag order, which is delivery-time order.
   */
  findExpired(now: number, defaultMs: number): Delivery | undefined {
    return this.byTag.find((d) => {
      const limit = d.queue.policy.consumerTimeoutMs ?? defaultMs;
      return limit > 0 && now - d.at > limit;
    });
  }

  /** Removes and returns every outstanding delivery, in tag order. */
  takeAll(): Delivery[] {
    const out: Delivery[] = [];
    this.byTag.deleteUpTo(Infinity, (d) => out.push(d));
    return out;
  }
}

/**
 * Groups deliveries by queue, each group in sequence order, so requeued messages go back
 * in their original order and each queue dispatches once.
 */
export function groupByQueue(deliveries: readonly Delivery[]): Map<Queue, QueueEntry[]> {
  const groups = new Map<Queue, QueueEntry[]>();
  for (const d of deliveries) {
    let g = groups.get(d.queue);
    if (g === undefined) groups.set(d.queue, (g = []));
    g.push(d.entry);
  }
  for (const g of groups.values()) g.sort((a, b) => a.seq - b.seq);
  return groups;
}
