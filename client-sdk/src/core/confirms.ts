/**
 * Publisher-confirm tracking. Every publish sent on a channel takes the next sequence
 * number (1, 2, 3 ... in send order; implicit, not on the wire), and the broker settles
 * them with publishAck/publishNack, singly or `multiple` (everything outstanding up to
 * seqNo). After a reconnect the channel starts again at 1 (`takeOutstanding`).
 *
 * Sequence numbers are dense, so a ring buffer indexed by `seqNo - baseSeq` replaces a Map:
 * add is O(1) without allocation, a multiple-ack walks only the slots it settles, and
 * settled slots at the head are reclaimed as the oldest outstanding publish is confirmed.
 */

/** Called once per record: with `undefined` when it was confirmed, with the error otherwise. */
export type OnSettled<R> = (record: R, err: Error | undefined) => void;

/** Outstanding publishes of one channel, by sequence number. */
export class ConfirmTracker<R> {
  private slots: (R | undefined)[];
  private mask: number;
  /** Ring index of the oldest slot still held (settled or not). */
  private head = 0;
  /** Slots held, from head: outstanding ones and settled holes behind them. */
  private size = 0;
  /** Sequence number of the slot at `head`. */
  private baseSeq = 1;
  private pending = 0;
  /** Sequence number the next publish will take. */
  nextSeq = 1;

  /** `initialCapacity` is rounded up to a power of two; the ring grows as needed. */
  constructor(
    private readonly onSettled: OnSettled<R>,
    initialCapacity = 1024,
  ) {
    let capacity = 16;
    while (capacity < initialCapacity) capacity *= 2;
    this.slots = new Array<R | undefined>(capacity).fill(undefined);
    this.mask = capacity - 1;
  }

  /** Publishes not yet acked or nacked. */
  get outstanding(): number {
    return this.pending;
  }

  /** Registers the next publish; returns its sequence number. */
  add(record: R): number {
    if (this.size === this.slots.length) this.grow();
    this.slots[(this.head + this.size) & this.mask] = record;
    this.size++;
    this.pending++;
    return this.nextSeq++;
  }

  /** True if `seqNo` was handed out (settled or not); anything else is a broker bug. */
  isIssued(seqNo: number): boolean {
    return seqNo >= 1 && seqNo < this.nextSeq;
  }

  /** Confirms `seqNo`, or every outstanding publish up to it if `multiple`. */
  ack(seqNo: number, multiple: boolean): void {
    this.settle(seqNo, multiple, undefined);
  }

  /** Fails `seqNo`, or every outstanding publish up to it if `multiple`, with `err`. */
  nack(seqNo: number, multiple: boolean, err: Error): void {
    this.settle(seqNo, multiple, err);
  }

  /** Fails every outstanding publish with `err` (channel or connection closed for good). */
  failAll(err: Error): void {
    if (this.size > 0) this.settle(this.baseSeq + this.size - 1, true, err);
  }

  /**
   * Removes and returns the outstanding records, oldest first, without settling them, and
   * starts numbering again at 1: the connection dropped and they will be sent again.
   */
  takeOutstanding(): R[] {
    const out: R[] = [];
    for (let k = 0; k < this.size; k++) {
      const i = (this.head + k) & this.mask;
      const record = this.slots[i];
      if (record !== undefined) out.push(record);
      this.slots[i] = undefined;
    }
    this.head = 0;
    this.size = 0;
    this.pending = 0;
    this.baseSeq = 1;
    this.nextSeq = 1;
    return out;
  }

  private settle(seqNo: number, multiple: boolean, err: Error | undefined): void {
    const offset = seqNo - this.baseSeq;
    // Below the base: already settled (a repeated or overlapping multiple-ack) - ignore.
    if (offset < 0 || offset >= this.size) return;
    if (multiple) {
      for (let k = 0; k <= offset; k++) this.settleSlot((this.head + k) & this.mask, err);
    } else {
      this.settleSlot((this.head + offset) & this.mask, err);
    }
    // Reclaim settled slots at the head so the ring only spans outstanding publishes.
    while (this.size > 0 && this.slots[this.head] === undefined) {
      this.head = (this.head + 1) & this.mask;
      this.size--;
      this.baseSeq++;
    }
  }

  private settleSlot(i: number, err: Error | undefined): void {
    const record = this.slots[i];
    if (record === undefined) return;
    this.slots[i] = undefined;
    this.pending--;
    this.onSettled(record, err);
  }

  private grow(): void {
    const capacity = this.slots.length * 2;
    const slots = new Array<R | undefined>(capacity).fill(undefined);
    for (let k = 0; k < this.size; k++) slots[k] = this.slots[(this.head + k) & this.mask];
    this.slots = slots;
    this.mask = capacity - 1;
    this.head = 0;
  }
}
