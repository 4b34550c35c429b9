/**
 * Values keyed by a channel's delivery tags, which the broker hands out densely and in
 * increasing order (spec/protocol.md §5. Channels), and which are mostly settled oldest
 * first. Shared by the broker's unacked tracker and the SDK's delivery tags.
 *
 * A ring of slots indexed by `tag & mask` replaces a Map/Set: a Map used as a FIFO of a few
 * hundred entries shrinks and regrows its hash table every few deletes, and those tables,
 * held by a long-lived object, are copied by each young-generation GC and promoted — GC work
 * and old-space garbage for every message (docs/perf/tail-latency.md). Here add, get and
 * delete allocate nothing once the ring is as wide as the span of live tags; the ring only
 * grows (to the widest span seen: highest live tag - lowest live tag + 1).
 */
export class TagRing<V> {
  private slots: (V | undefined)[];
  private mask: number;
  /** Every tag below `lo` is absent. */
  private lo = 0;
  /** Every tag from `hi` up is absent. */
  private hi = 0;
  private count = 0;

  /** `initialCapacity` is rounded up to a power of two. */
  constructor(initialCapacity = 16) {
    let capacity = 16;
    while (capacity < initialCapacity) capacity *= 2;
    this.slots = new Array<V | undefined>(capacity).fill(undefined);
    this.mask = capacity - 1;
  }

  /** Number of tags held. */
  get size(): number {
    return this.count;
  }

  /** Holds `value` (not undefined) under `tag` (a positive integer), replacing any value it had. */
  set(tag: number, value: V): void {
    if (this.count === 0) {
      this.lo = tag;
      this.hi = tag + 1;
    } else {
      const lo = Math.min(this.lo, tag);
      const hi = Math.max(this.hi, tag + 1);
      if (hi - lo > this.slots.length) this.grow(hi - lo);
      this.lo = lo;
      this.hi = hi;
    }
    const i = tag & this.mask;
    if (this.slots[i] === undefined) this.count++;
    this.slots[i] = value;
  }

  /** The lowest tag held, or undefined when empty. */
  get first(): number | undefined {
    return this.count === 0 ? undefined : this.lo;
  }

  /** The value held under `tag`, if any. */
  get(tag: number): V | undefined {
    return tag >= this.lo && tag < this.hi ? this.slots[tag & this.mask] : undefined;
  }

  /** True if `tag` is held. */
  has(tag: number): boolean {
    return this.get(tag) !== undefined;
  }

  /** Removes `tag`; returns its value, or undefined if it was not held. */
  delete(tag: number): V | undefined {
    const value = this.get(tag);
    if (value === undefined) return undefined;
    this.slots[tag & this.mask] = undefined;
    if (--this.count === 0) this.lo = this.hi;
    else if (tag === this.lo) this.skipHoles();
    return value;
  }

  /**
   * Removes every tag up to and including `tag` (all of them for Infinity), oldest first,
   * handing each value to `each` if given.
   */
  deleteUpTo(tag: number, each?: (value: V, tag: number) => void): void {
    const end = Math.min(tag + 1, this.hi);
    let t = this.lo;
    for (; t < end && this.count > 0; t++) {
      const i = t & this.mask;
      const value = this.slots[i];
      if (value === undefined) continue;
      this.slots[i] = undefined;
      this.count--;
      each?.(value, t);
    }
    if (this.count === 0) this.lo = this.hi;
    else {
      this.lo = t;
      this.skipHoles();
    }
  }

  /** Calls `fn` for each held tag, oldest first, until it returns true; returns that value. */
  find(fn: (value: V, tag: number) => boolean): V | undefined {
    for (let t = this.lo, seen = 0; t < this.hi && seen < this.count; t++) {
      const value = this.slots[t & this.mask];
      if (value === undefined) continue;
      seen++;
      if (fn(value, t)) return value;
    }
    return undefined;
  }

  /** Removes everything. */
  clear(): void {
    if (this.count > 0) this.deleteUpTo(Infinity);
  }

  /** Moves `lo` past absent tags to the oldest held one (count > 0). */
  private skipHoles(): void {
    while (this.slots[this.lo & this.mask] === undefined) this.lo++;
  }

  private grow(span: number): void {
    let capacity = this.slots.length * 2;
    while (capacity < span) capacity *= 2;
    const slots = new Array<V | undefined>(capacity).fill(undefined);
    const mask = capacity - 1;
    for (let t = this.lo; t < this.hi; t++) {
      const value = this.slots[t & this.mask];
      if (value !== undefined) slots[t & mask] = value;
    }
    this.slots = slots;
    this.mask = mask;
  }
}
