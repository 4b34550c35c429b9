/** A binary min-heap ordered by a numeric key; used for delay and expiry schedules. */
export class MinHeap<T> {
  private readonly items: T[] = [];

  constructor(private readonly keyOf: (item: T) => number) {}

  get size(): number {
    return this.items.length;
  }

  peek(): T | undefined {
    return this.items[0];
  }

  /** A copy of the items, in heap (not sorted) order. */
  toArray(): T[] {
    return [...this.items];
  }

  push(item: T): void {
    const h = this.items;
    h.push(item);
    let i = h.length - 1;
    const k = this.keyOf(item);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (this.keyOf(h[parent]!) <= k) break;
      h[i] = h[parent]!;
      i = parent;
    }
    h[i] = item;
  }

  pop(): T | undefined {
    const h = this.items;
    const top = h[0];
    const last = h.pop();
    if (h.length === 0 || last === undefined) return top;
    const k = this.keyOf(last);
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= h.length) break;
      const r = l + 1;
      const c = r < h.length && this.keyOf(h[r]!) < this.keyOf(h[l]!) ? r : l;
      if (this.keyOf(h[c]!) >= k) break;
      h[i] = h[c]!;
      i = c;
    }
    h[i] = last;
    return top;
  }

  /** Removes and returns every item, in no particular order. */
  clear(): T[] {
    return this.items.splice(0);
  }

  values(): readonly T[] {
    return this.items;
  }
}
