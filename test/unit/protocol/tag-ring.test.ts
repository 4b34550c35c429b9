import { expect } from 'chai';
import { PerformanceObserver, constants, type NodeGCPerformanceDetail } from 'node:perf_hooks';
import { TagRing } from '@switchyard/client/protocol';

/** Young-generation GCs (scavenges) that `work` caused, counted by the 'gc' performance entries. */
async function scavengesDuring(work: () => void): Promise<number> {
  let count = 0;
  const obs = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      const detail = (e as { detail?: NodeGCPerformanceDetail }).detail;
      if (detail?.kind === constants.NODE_PERFORMANCE_GC_MINOR) count++;
    }
  });
  obs.observe({ entryTypes: ['gc'] });
  work();
  await new Promise((r) => setTimeout(r, 50)); // entries are delivered asynchronously
  obs.disconnect();
  return count;
}

describe('TagRing (delivery tags: broker unacked tracker, SDK unsettled tags)', () => {
  it('holds values by tag, settles singly out of order and up to a tag in order', () => {
    const r = new TagRing<string>();
    for (let t = 1; t <= 10; t++) r.set(t, `m${t}`);
    expect(r.size).to.equal(10);
    expect(r.delete(5)).to.equal('m5');
    expect(r.delete(5)).to.equal(undefined);
    expect(r.has(5)).to.equal(false);
    expect(r.delete(1)).to.equal('m1');
    const upTo7: [string, number][] = [];
    r.deleteUpTo(7, (v, t) => upTo7.push([v, t]));
    expect(upTo7).to.deep.equal([
      ['m2', 2],
      ['m3', 3],
      ['m4', 4],
      ['m6', 6],
      ['m7', 7],
    ]);
    expect(r.size).to.equal(3);
    expect(r.get(8)).to.equal('m8');
    expect(r.find((v) => v === 'm9')).to.equal('m9');
    const rest: string[] = [];
    r.deleteUpTo(Infinity, (v) => rest.push(v));
    expect(rest).to.deep.equal(['m8', 'm9', 'm10']);
    expect(r.size).to.equal(0);
    expect(r.get(8)).to.equal(undefined);
  });

  it('grows past its capacity, with gaps between tags (noAck deliveries), and keeps tag order', () => {
    const r = new TagRing<number>(16);
    const held: number[] = [];
    for (let t = 3; t < 3 + 1000; t += 3) {
      r.set(t, t);
      held.push(t);
    }
    // An old tag stays unsettled while newer ones come and go: the span keeps widening.
    for (let t = 3003; t < 5000; t++) {
      r.set(t, t);
      r.delete(t);
    }
    expect(r.size).to.equal(held.length);
    for (const t of held) expect(r.get(t)).to.equal(t);
    expect(r.get(4)).to.equal(undefined);
    const seen: number[] = [];
    r.deleteUpTo(Infinity, (v) => seen.push(v));
    expect(seen).to.deep.equal(held);
  });

  it('takes a tag below the lowest held one (not issued in order)', () => {
    const r = new TagRing<string>();
    r.set(100, 'a');
    r.set(40, 'b');
    expect(r.get(40)).to.equal('b');
    const seen: string[] = [];
    r.deleteUpTo(100, (v) => seen.push(v));
    expect(seen).to.deep.equal(['b', 'a']);
  });

  it('allocates nothing per delivery once settled oldest-first (a Map here triggers scavenges)', async () => {
    // Prefetch-sized window: deliver 10, ack 10, a million times over. A Map or Set used like
    // this reallocates its hash table every few deletes (tens of scavenges for this loop).
    const r = new TagRing<object>();
    const value = {};
    let next = 1;
    let low = 1;
    for (let i = 0; i < 100; i++) r.set(next++, value);
    const scavenges = await scavengesDuring(() => {
      for (let round = 0; round < 100_000; round++) {
        for (let i = 0; i < 10; i++) r.set(next++, value);
        for (let i = 0; i < 10; i++) r.delete(low++);
      }
    });
    expect(r.size).to.equal(100);
    expect(scavenges).to.be.at.most(1);
  });
});
