/**
 * The source messages a link has published and not yet acked, in delivery order
 * (spec/links.md §Ack modes). In `on-confirm` mode a source message is acked only after the
 * destination confirmed it and after every earlier delivery was acked, so the link acks the
 * highest contiguous confirmed delivery with `multiple` (one ack covers a run of confirms)
 * and a gap (an earlier message still unconfirmed) holds later ones back. Pure.
 */

/** One delivery's place in the window. */
export interface AckSlot {
  readonly seq: number;
}

export class InOrderAckWindow<T> {
  /** Deliveries from `head` on, oldest first; `confirmed[i]` belongs to `items[i]`. */
  private items: T[] = [];
  private confirmed: boolean[] = [];
  /** Index in the arrays of the oldest unacked delivery (arrays are compacted now and then). */
  private start = 0;
  /** Sequence number of `items[start]`. */
  private headSeq = 0;

  /** Deliveries added and not yet released by `confirm`. */
  get size(): number {
    return this.items.length - this.start;
  }

  /** Adds the next delivery (in the order the source delivered it). */
  add(item: T): AckSlot {
    this.items.push(item);
    this.confirmed.push(false);
    return { seq: this.headSeq + this.size - 1 };
  }

  /**
   * Marks a delivery confirmed. Returns the run that became ackable (the oldest deliveries,
   * all confirmed, oldest first: ack the last one with `multiple`); empty while an earlier
   * one is unconfirmed. A slot from before `clear()` is ignored.
   */
  confirm(slot: AckSlot): T[] {
    const i = this.start + (slot.seq - this.headSeq);
    if (slot.seq < this.headSeq || i >= this.items.length) return [];
    this.confirmed[i] = true;
    // Only the oldest delivery's confirm can release a run (it is unconfirmed while it heads
    // the window): any other waits without a scan.
    if (i !== this.start) return [];
    let end = this.start;
    while (end < this.items.length && this.confirmed[end]) end++;
    const run = this.items.slice(this.start, end);
    this.headSeq += run.length;
    this.start = end;
    if (this.start > 1024 && this.start * 2 > this.items.length) {
      this.items = this.items.slice(this.start);
      this.confirmed = this.confirmed.slice(this.start);
      this.start = 0;
    }
    return run;
  }

  /** Forgets every delivery (the run ended: the source requeues what was not acked). */
  clear(): void {
    this.headSeq += this.size;
    this.items = [];
    this.confirmed = [];
    this.start = 0;
  }
}
