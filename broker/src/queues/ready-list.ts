/**
 * The ready messages of a queue, always taken lowest sequence first.
 *
 * New messages arrive with ever higher sequences, so they go to the tail of a plain FIFO
 * (O(1)); a requeued message has a lower sequence than some ready ones and goes into a small
 * binary heap instead. `shift()` takes the smaller head of the two, which puts a requeued
 * message back in its original position without ever sorting the FIFO.
 */
export interface Sequenced {
  seq: number;
}

export class ReadyList<T extends Sequenced> {
  private fifo: (T | undefined)[] = new Array(16);
  private head = 0;
  private count = 0;
  private readonly heap: T[] = [];

  get size(): number {
    return this.count + this.heap.length;
  }

  /** Appends a message newer than every message seen so far. */
  push(item: T): void {
    if (this.count === this.fifo.length) this.grow();
    this.fifo[(this.head + this.count) & (this.fifo.length - 1)] = item;
    this.count++;
  }

  /** Puts a message back at its sequence position. */
  requeue(item: T): void {
    const last = this.count > 0 ? this.fifo[(this.head + this.count - 1) & (this.fifo.length - 1)] : undefined;
    // Newer than everything in the FIFO: it keeps its order there at no cost.
    if (last === undefined || item.seq > last.seq) this.push(item);
    else this.heapPush(item);
  }

  peek(): T | undefined {
    const f = this.count > 0 ? this.fifo[this.head] : undefined;
    const h = this.heap[0];
    if (f === undefined) return h;
    if (h === undefined) return f;
    return h.seq < f.seq ? h : f;
  }

  shift(): T | undefined {
    const f = this.count > 0 ? this.fifo[this.head] : undefined;
    const h = this.heap[0];
    if (h !== undefined && (f === undefined || h.seq < f.seq)) return this.heapPop();
    if (f === undefined) return undefined;
    this.fifo[this.head] = undefined;
    this.head = (this.head + 1) & (this.fifo.length - 1);
    this.count--;
    return f;
  }

  /** Removes every message, returning them in sequence order. */
  drain(): T[] {
    const out: T[] = [];
    for (let item = this.shift(); item !== undefined; item = this.shift()) out.push(item);
    return out;
  }

  private grow(): void {
    const next = new Array<T | undefined>(this.fifo.length * 2);
    for (let i = 0; i < this.count; i++) next[i] = this.fifo[(this.head + i) & (this.fifo.length - 1)];
    this.fifo = next;
    this.head = 0;
  }

  private heapPush(item: T): void {
    const h = this.heap;
    h.push(item);
    let i = h.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (h[parent]!.seq <= item.seq) break;
      h[i] = h[parent]!;
      i = parent;
    }
    h[i] = item;
  }

  private heapPop(): T | undefined {
    const h = this.heap;
    const top = h[0];
    const last = h.pop();
    if (h.length === 0 || last === undefined) return top;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= h.length) break;
      const r = l + 1;
      const c = r < h.length && h[r]!.seq < h[l]!.seq ? r : l;
      if (h[c]!.seq >= last.seq) break;
      h[i] = h[c]!;
      i = c;
    }
    h[i] = last;
    return top;
  }
}
