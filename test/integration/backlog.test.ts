import { expect } from 'chai';
import { useBroker } from '../helpers/broker.js';
import { open, waitFor } from '../helpers/client.js';

/** Backlogs larger than a queue's in-memory body budget (4 MiB) are served from LMDB. */
describe('backlog beyond memory', () => {
  const fx = useBroker({ noSync: true });

  const body = (i: number): Buffer => {
    const b = Buffer.alloc(2048, i % 251);
    b.writeUInt32BE(i, 0);
    return b;
  };

  it('delivers every message of a 12 MiB backlog in two queues intact and in order', async () => {
    const { ch } = await open(fx.tb.url, fx.conns);
    await ch.assertExchange('fan', 'fanout', { durable: true });
    for (const q of ['b1', 'b2']) {
      await ch.assertQueue(q, { durable: true });
      await ch.bindQueue(q, 'fan', '');
    }
    const N = 3000;
    const pending: Promise<void>[] = [];
    for (let i = 0; i < N; i++) pending.push(ch.publish('fan', '', body(i), { persistent: true }));
    await Promise.all(pending);
    for (const q of ['b1', 'b2']) {
      const { ch: c } = await open(fx.tb.url, fx.conns);
      await c.prefetch(50);
      const got: number[] = [];
      let corrupt = 0;
      await c.consume(q, (m) => {
        if (m === null) return;
        const i = Buffer.from(m.content).readUInt32BE(0);
        if (!Buffer.from(m.content).equals(body(i))) corrupt++;
        got.push(i);
        c.ack(m);
      });
      await waitFor(() => got.length === N, `${N} deliveries from ${q} (got ${got.length})`, 15_000);
      expect(corrupt).to.equal(0);
      expect(got.every((n, i) => n === i)).to.equal(true);
    }
  });

  it('loses nothing when publishing into several queues while their consumers run', async () => {
    const { ch } = await open(fx.tb.url, fx.conns);
    await ch.assertExchange('t', 'topic', { durable: true });
    const queues = ['t.a', 't.b', 't.c'];
    const patterns = ['orders.#', '*.created.*', '#'];
    const counts = new Map<string, number>();
    const { conn: consumerConn } = await open(fx.tb.url, fx.conns);
    for (let i = 0; i < queues.length; i++) {
      await ch.assertQueue(queues[i], { durable: true });
      await ch.bindQueue(queues[i]!, 't', patterns[i]!);
      const c = await consumerConn.createChannel();
      await c.prefetch(20);
      counts.set(queues[i]!, 0);
      await c.consume(queues[i]!, (m) => {
        if (m === null) return;
        counts.set(queues[i]!, counts.get(queues[i]!)! + 1);
        c.ack(m);
      });
    }
    const N = 4000;
    const keys = ['orders.created.eu', 'payments.created.us', 'orders.paid', 'x'];
    const window: Promise<void>[] = [];
    for (let i = 0; i < N; i++) {
      window.push(ch.publish('t', keys[i % 4]!, body(i), { persistent: true }));
      if (window.length === 500) await Promise.all(window.splice(0));
    }
    await Promise.all(window);
    const expected = { 't.a': N / 2, 't.b': N / 2, 't.c': N };
    await waitFor(
      () => queues.every((q) => counts.get(q) === expected[q as keyof typeof expected]),
      `all deliveries ${JSON.stringify([...counts])}`,
      15_000,
    );
  });
});
