import { expect } from 'chai';
import { ReadyList, ReadyQueue, messageKey } from '@switchyard/broker/internal';

const e = (seq: number) => ({ seq });

describe('ReadyList', () => {
  it('hands out pushed messages in order', () => {
    const r = new ReadyList<{ seq: number }>();
    for (let i = 1; i <= 100; i++) r.push(e(i));
    const out = r.drain().map((x) => x.seq);
    expect(out).to.deep.equal(Array.from({ length: 100 }, (_, i) => i + 1));
  });

  it('puts requeued messages back at their original position, ahead of newer ones', () => {
    const r = new ReadyList<{ seq: number }>();
    for (let i = 1; i <= 10; i++) r.push(e(i));
    const taken = [r.shift()!, r.shift()!, r.shift()!]; // 1, 2, 3 out with a consumer
    r.requeue(taken[2]!);
    r.requeue(taken[0]!);
    expect(r.peek()!.seq).to.equal(1);
    expect(r.drain().map((x) => x.seq)).to.deep.equal([1, 3, 4, 5, 6, 7, 8, 9, 10]);
  });

  it('keeps order when requeues interleave with new pushes and growth', () => {
    const r = new ReadyList<{ seq: number }>();
    const out: number[] = [];
    let next = 1;
    const held: { seq: number }[] = [];
    for (let round = 0; round < 50; round++) {
      for (let i = 0; i < 7; i++) r.push(e(next++));
      for (let i = 0; i < 5; i++) held.push(r.shift()!);
      if (round % 3 === 0) while (held.length > 0) r.requeue(held.pop()!);
    }
    while (held.length > 0) r.requeue(held.pop()!);
    for (let x = r.shift(); x !== undefined; x = r.shift()) out.push(x.seq);
    expect(out).to.deep.equal(Array.from({ length: next - 1 }, (_, i) => i + 1));
  });

  it('reports its size across both parts', () => {
    const r = new ReadyList<{ seq: number }>();
    r.push(e(1));
    r.push(e(2));
    const one = r.shift()!;
    r.push(e(3));
    r.requeue(one);
    expect(r.size).to.equal(3);
  });

  it('first(n) shows the next n in the order shift() takes them, requeued ones included, without taking them', () => {
    const r = new ReadyList<{ seq: number }>();
    for (let i = 1; i <= 20; i++) r.push(e(i));
    const taken = [r.shift()!, r.shift()!, r.shift()!, r.shift()!]; // 1..4
    r.requeue(taken[3]!);
    r.requeue(taken[1]!);
    expect(r.first(4).map((x) => x.seq)).to.deep.equal([2, 4, 5, 6]);
    expect(r.first(100)).to.have.length(18);
    expect(r.size).to.equal(18);
    expect(r.drain().map((x) => x.seq)).to.deep.equal([2, 4, ...Array.from({ length: 16 }, (_, i) => i + 5)]);
    expect(r.first(3)).to.deep.equal([]);
  });
});

describe('messageKey', () => {
  it('encodes the sequence as the same 8 big-endian bytes as a BigInt would (store format unchanged)', () => {
    for (const seq of [0, 1, 255, 2 ** 32 - 1, 2 ** 32, 2 ** 32 + 7, 2 ** 40 + 12345, Number.MAX_SAFE_INTEGER]) {
      const expected = Buffer.alloc(12);
      expected.writeUInt32BE(42, 0);
      expected.writeBigUInt64BE(BigInt(seq), 4);
      expect(messageKey(42, seq).equals(expected), `seq ${seq}`).to.equal(true);
    }
  });

  it('keeps key order by sequence within a queue', () => {
    const seqs = [0, 1, 2 ** 31, 2 ** 32 - 1, 2 ** 32, 2 ** 33 + 1, 2 ** 52];
    for (let i = 1; i < seqs.length; i++)
      expect(Buffer.compare(messageKey(3, seqs[i - 1]!), messageKey(3, seqs[i]!))).to.equal(-1);
  });
});

describe('ReadyQueue.headAt', () => {
  it('gives each level head, as heads() does, highest level first', () => {
    const q = new ReadyQueue<{ seq: number; priority: number }>(2);
    q.push({ seq: 1, priority: 0 });
    q.push({ seq: 2, priority: 2 });
    q.push({ seq: 3, priority: 2 });
    const indexed = [];
    for (let p = q.levelCount - 1; p >= 0; p--) {
      const h = q.headAt(p);
      if (h !== undefined) indexed.push(h);
    }
    expect(indexed).to.deep.equal([...q.heads()]);
    expect(indexed.map((h) => h.seq)).to.deep.equal([2, 1]);
  });
});
