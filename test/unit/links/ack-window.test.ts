import { expect } from 'chai';
import { InOrderAckWindow } from '@switchyard/broker/internal';

describe('links: in-order ack window', () => {
  it('releases a run of confirms only from the oldest delivery on, in delivery order', () => {
    const w = new InOrderAckWindow<string>();
    const [a, b, c, d] = ['a', 'b', 'c', 'd'].map((x) => w.add(x));
    expect(w.confirm(b!)).to.deep.equal([]); // a is not confirmed yet: b waits
    expect(w.confirm(c!)).to.deep.equal([]);
    expect(w.confirm(a!)).to.deep.equal(['a', 'b', 'c']);
    expect(w.size).to.equal(1);
    expect(w.confirm(d!)).to.deep.equal(['d']);
    expect(w.size).to.equal(0);
  });

  it('ignores a confirm twice and confirms from before clear()', () => {
    const w = new InOrderAckWindow<number>();
    const old = w.add(1);
    w.clear();
    const fresh = w.add(2);
    expect(w.confirm(old)).to.deep.equal([]);
    expect(w.confirm(fresh)).to.deep.equal([2]);
    expect(w.confirm(fresh)).to.deep.equal([]);
  });

  it('keeps order across compaction with many deliveries in flight', () => {
    const w = new InOrderAckWindow<number>();
    const acked: number[] = [];
    const slots = Array.from({ length: 5000 }, (_, i) => w.add(i));
    // confirm in a scrambled order, a window of 100 reversed at a time
    for (let i = 0; i < 5000; i += 100)
      for (let k = Math.min(i + 99, 4999); k >= i; k--) acked.push(...w.confirm(slots[k]!));
    for (let i = 0; i < 3000; i++) w.add(5000 + i);
    expect(acked).to.deep.equal(Array.from({ length: 5000 }, (_, i) => i));
    expect(w.size).to.equal(3000);
  });
});
