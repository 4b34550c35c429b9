import { expect } from 'chai';
import { RateSampler, type QueueCounterSource } from '@switchyard/broker/internal';

class FakeQueue implements QueueCounterSource {
  counters = { published: 0, delivered: 0, redelivered: 0, acked: 0, deadLettered: 0 };
  messageCount = 0;
  unacked = 0;
}

describe('RateSampler', () => {
  const T0 = 1_000_000;

  it('computes per-second rates over the kept window and records history', () => {
    const q = new FakeQueue();
    const queues = [q];
    let published = 0;
    const s = new RateSampler(
      () => queues,
      () => published,
      { intervalMs: 2000, windowMs: 4000, historySize: 3 },
    );
    s.sample(T0);
    q.counters.published = 20;
    q.messageCount = 20;
    published = 20;
    s.sample(T0 + 2000);
    q.counters.published = 40;
    q.counters.delivered = 10;
    q.counters.acked = 10;
    q.messageCount = 30;
    published = 40;
    s.sample(T0 + 4000);
    // live, 1 s after the last sample: window base is the oldest kept sample (T0)
    q.counters.published = 50;
    expect(s.queueRates(q, T0 + 5000)).to.deep.equal({ publish: 10, deliver: 2, redeliver: 0, ack: 2, deadLetter: 0 });
    expect(s.overviewRates(T0 + 5000).publish).to.equal(8);
    const h = s.queueHistory(q);
    expect(h.t).to.deep.equal([T0, T0 + 2000, T0 + 4000]);
    expect(h.ready).to.deep.equal([0, 20, 30]);
    expect(h.publishRate).to.deep.equal([0, 10, 10]);
    expect(h.deliverRate).to.deep.equal([0, 0, 5]);
    // the ring keeps the last historySize samples
    s.sample(T0 + 6000);
    expect(s.queueHistory(q).t).to.deep.equal([T0 + 2000, T0 + 4000, T0 + 6000]);
  });

  it('counts a queue created between samples from zero at the last sample', () => {
    const queues: FakeQueue[] = [];
    const s = new RateSampler(
      () => queues,
      () => 0,
      { intervalMs: 2000 },
    );
    s.sample(T0);
    const q = new FakeQueue();
    queues.push(q);
    q.counters.published = 6;
    expect(s.queueRates(q, T0 + 3000).publish).to.equal(2);
    expect(s.queueHistory(q).t).to.deep.equal([]);
  });

  it('keeps broker-wide totals monotonic when a queue is deleted', () => {
    const a = new FakeQueue();
    const b = new FakeQueue();
    let queues = [a, b];
    const s = new RateSampler(
      () => queues,
      () => 0,
      { intervalMs: 1000, windowMs: 1000 },
    );
    s.sample(T0);
    a.counters.delivered = 100;
    b.counters.delivered = 100;
    s.sample(T0 + 1000);
    queues = [b];
    s.sample(T0 + 2000);
    b.counters.delivered = 150;
    // base = the sample at T0+1000 (200 delivered); now 100 retired + 150 live = 250
    expect(s.overviewRates(T0 + 3000).deliver).to.equal(25);
  });

  it('never reports negative rates and uses at least one second of elapsed time', () => {
    const q = new FakeQueue();
    const s = new RateSampler(
      () => [q],
      () => 0,
    );
    s.sample(T0);
    q.counters.published = 5;
    expect(s.queueRates(q, T0 + 10).publish).to.equal(5);
  });
});
