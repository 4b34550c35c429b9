import { expect } from 'chai';
import { ReadyList } from '@switchyard/broker/internal';

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
