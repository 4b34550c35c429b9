import { expect } from 'chai';
import { useBroker } from '../helpers/broker.js';
import { open, waitFor } from '../helpers/client.js';

describe('x-consistent-hash exchange (per-key ordering)', () => {
  const fx = useBroker({ noSync: true });

  it('keeps all messages of a key in one queue, in order, with single active consumers per partition', async () => {
    const { ch } = await open(fx.tb.url, fx.conns);
    await ch.assertExchange('orders', 'x-consistent-hash', { durable: true });
    const partitions = ['orders.p0', 'orders.p1', 'orders.p2'];
    for (const p of partitions) {
      await ch.assertQueue(p, { durable: true, arguments: { 'x-single-active-consumer': true } });
      await ch.bindQueue(p, 'orders', '10');
    }
    // per key: which partition saw it, and the sequence numbers in arrival order
    const seen = new Map<string, { partitions: Set<string>; seqs: number[] }>();
    let received = 0;
    for (const p of partitions) {
      for (let worker = 0; worker < 2; worker++) {
        const c = await open(fx.tb.url, fx.conns);
        await c.ch.prefetch(10);
        await c.ch.consume(p, (m) => {
          if (m === null) return;
          const [key, seq] = Buffer.from(m.content).toString().split(':');
          const s = seen.get(key!) ?? { partitions: new Set(), seqs: [] };
          s.partitions.add(p);
          s.seqs.push(Number(seq));
          seen.set(key!, s);
          received++;
          c.ch.ack(m);
        });
      }
    }
    const N = 600;
    const pending: Promise<void>[] = [];
    for (let i = 0; i < N; i++) {
      const key = `customer-${i % 30}`;
      pending.push(ch.publish('orders', key, Buffer.from(`${key}:${i}`), { persistent: true }));
    }
    await Promise.all(pending);
    await waitFor(() => received === N, `all ${N} deliveries (got ${received})`, 10_000);
    const used = new Set<string>();
    for (const [key, s] of seen) {
      expect(s.partitions.size, `${key} split over partitions`).to.equal(1);
      used.add([...s.partitions][0]!);
      expect(s.seqs, `${key} out of order`).to.deep.equal([...s.seqs].sort((a, b) => a - b));
    }
    expect(used.size).to.be.greaterThan(1);
  });

  it('refuses a binding key that is not a weight with 406', async () => {
    const { ch } = await open(fx.tb.url, fx.conns);
    await ch.assertExchange('h', 'x-consistent-hash', { durable: false });
    await ch.assertQueue('hq', { durable: false });
    const err = await ch.bindQueue('hq', 'h', 'heavy').catch((e: unknown) => e);
    expect(err).to.include({ code: 406 });
    expect((err as Error).message).to.match(/it is the weight/);
  });
});
