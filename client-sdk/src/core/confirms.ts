/**
 * Publisher-confirm tracking. Every publish on a channel takes the next sequence number
 * (1, 2, 3 ... in send order; implicit, not on the wire), and the broker settles them with
 * publishAck/publishNack, singly or `multiple` (everything outstanding up to seqNo).
 *
 * Sequence numbers are dense, so a ring buffer indexed by `seqNo - baseSeq` replaces a Map:
 * add is O(1) without allocation, a multiple-ack walks only the slots it settles, and
 * settled slots at the head are reclaimed as the oldest outstanding publish is confirmed.
 */

type Resolve = (value: void) => void;
type Reject = (err: Error) => void;

/** Outstanding publishes of one channel, by sequence number. */
export class ConfirmTracker {
  // Parallel arrays rather than an array of {resolve, reject}: no object per publish.
  private resolves: (Resolve | undefined)[];
  private rejects: (Reject | undefined)[];
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
  constructor(initialCapacity = 1024) {
    let capacity = 16;
    while (capacity < initialCapacity) capacity *= 2;
    this.resolves = new Array<Resolve | undefined>(capacity).fill(undefined);
    this.rejects = new Array<Reject | undefined>(capacity).fill(undefined);
    this.mask = capacity - 1;
  }

  /** Publishes not yet acked or nacked. */
  get outstanding(): number {
    return this.pending;
  }

  /** Registers the next publish; returns its sequence number. */
  add(resolve: Resolve, reject: Reject): number {
    if (this.size === this.resolves.length) this.grow();
    const i = (this.head + this.size) & this.mask;
    this.resolves[i] = resolve;
    this.rejects[i] = reject;
    this.size++;
    this.pending++;
    return this.nextSeq++;
  }

  /** True if `seqNo` was handed out (settled or not); anything else is a broker bug. */
  isIssued(seqNo: number): boolean {
    return seqNo >= 1 && seqNo < this.nextSeq;
  }

  /** Resolves `seqNo`, or every outstanding publish up to it if `multiple`. */
  ack(seqNo: number, multiple: boolean): void {
    this.settle(seqNo, multiple, undefined);
  }

  /** Rejects `seqNo`, or every outstanding publish up to it if `multiple`, with `err`. */
  nack(seqNo: number, multiple: boolean, err: Error): void {
    this.settle(seqNo, multiple, err);
  }

  /** Rejects every outstanding publish with `err` (channel or connection closed). */
  failAll(err: Error): void {
    if (this.size > 0) this.settle(this.baseSeq + this.size - 1, true, err);
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
    while (this.size > 0 && this.resolves[this.head] === undefined) {
      this.head = (this.head + 1) & this.mask;
      this.size--;
      this.baseSeq++;
    }
  }

  private settleSlot(i: number, err: Error | undefined): void {
    const resolve = this.resolves[i];
    if (resolve === undefined) return;
    const reject = this.rejects[i]!;
    this.resolves[i] = undefined;
    this.rejects[i] = undefined;
    this.pending--;
    if (err === undefined) resolve();
    else reject(err);
  }

  private grow(): void {
    const capacity = this.resolves.length * 2;
    const resolves = new Array<Resolve | undefined>(capacity).fill(undefined);
    const rejects = new Array<Reject | undefined>(capacity).fill(undefined);
    for (let k = 0; k < this.size; k++) {
      const i = (this.head + k) & this.mask;
      resolves[k] = this.resolves[i];
      rejects[k] = this.rejects[i];
    }
    this.resolves = resolves;
    this.rejects = rejects;
    this.mask = capacity - 1;
    this.head = 0;
  }
}
