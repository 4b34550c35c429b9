import { MinHeap } from './min-heap.js';

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
  private fifo: (T | undefined)[] = new Array<T | undefined>(16);
  private head = 0;
  private count = 0;
  private readonly heap = new MinHeap<T>((item) => item.seq);

  get size(): number {
    return this.count + this.heap.size;
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
    else this.heap.push(item);
  }

  peek(): T | undefined {
    const f = this.count > 0 ? this.fifo[this.head] : undefined;
    const h = this.heap.peek();
    if (f === undefined) return h;
    if (h === undefined) return f;
    return h.seq < f.seq ? h : f;
  }

  shift(): T | undefined {
    const f = this.count > 0 ? this.fifo[this.head] : undefined;
    const h = this.heap.peek();
    if (h !== undefined && (f === undefined || h.seq < f.seq)) return this.heap.pop();
    if (f === undefined) return undefined;
    this.fifo[this.head] = undefined;
    this.head = (this.head + 1) & (this.fifo.length - 1);
    this.count--;
    return f;
  }

  /** The first `n` messages in the order `shift()` would take them, without taking them. */
  first(n: number): T[] {
    const requeued = this.heap.toArray().sort((a, b) => a.seq - b.seq);
    const out: T[] = [];
    let f = 0;
    let h = 0;
    while (out.length < n) {
      const fi = f < this.count ? this.fifo[(this.head + f) & (this.fifo.length - 1)] : undefined;
      const hi = requeued[h];
      if (fi === undefined && hi === undefined) break;
      if (hi !== undefined && (fi === undefined || hi.seq < fi.seq)) {
        out.push(hi);
        h++;
      } else {
        out.push(fi!);
        f++;
      }
    }
    return out;
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
}
