import { expect } from 'chai';
import { connect } from '@switchyard/client';
import { killHard, spawnBroker, useBrokerProcess } from '../helpers/broker-process.js';
import { type Connection, type Message, waitFor } from '../helpers/client.js';

describe('crash recovery (kill -9)', function () {
  this.timeout(60_000);
  const fx = useBrokerProcess('crash');

  async function client(url: string): Promise<Connection> {
    const conn = await connect(url);
    conn.on('error', () => undefined); // the broker is about to be killed under it
    fx.conns.push(conn);
    return conn;
  }

  it('delivers all 10,000 confirmed persistent messages after SIGKILL, in order, none twice before an ack', async () => {
    fx.proc = await spawnBroker(fx.dir);
    const pub = await (await client(fx.proc.url)).createChannel();
    await pub.assertQueue('crash', { durable: true });
    const N = 10_000;
    const window: Promise<void>[] = [];
    for (let i = 0; i < N; i++) {
      window.push(pub.sendToQueue('crash', Buffer.from(String(i)), { persistent: true }));
      if (window.length === 1000) await Promise.all(window.splice(0));
    }
    await Promise.all(window);
    await killHard(fx.proc);
    fx.conns.splice(0);

    fx.proc = await spawnBroker(fx.dir);
    const ch = await (await client(fx.proc.url)).createChannel();
    expect((await ch.checkQueue('crash')).messageCount).to.equal(N);
    await ch.prefetch(500);
    const seen: number[] = [];
    const unacked = new Set<number>();
    let duplicateBeforeAck = 0;
    await ch.consume('crash', (m) => {
      if (m === null) return;
      const n = Number(Buffer.from(m.content).toString());
      if (unacked.has(n)) duplicateBeforeAck++;
      unacked.add(n);
      seen.push(n);
      ch.ack(m);
      unacked.delete(n);
    });
    await waitFor(() => seen.length >= N, `${N} deliveries (got ${seen.length})`, 30_000);
    await new Promise((r) => setTimeout(r, 200));
    expect(duplicateBeforeAck).to.equal(0);
    expect(seen.length).to.equal(N);
    expect(seen.every((n, i) => n === i)).to.equal(true, 'messages out of order');
  });

  it('after SIGKILL mid-consumption, acked messages stay gone and unacked ones return redelivered', async () => {
    fx.proc = await spawnBroker(fx.dir);
    const ch = await (await client(fx.proc.url)).createChannel();
    await ch.assertQueue('half', { durable: true });
    await Promise.all(
      Array.from({ length: 100 }, (_, i) => ch.sendToQueue('half', Buffer.from(String(i)), { persistent: true })),
    );
    await ch.prefetch(10);
    const got: Message[] = [];
    await ch.consume('half', (m) => void (m !== null && got.push(m)));
    await waitFor(() => got.length === 10, 'ten deliveries');
    ch.ack(got[4]!, true); // 0..4 acked, which lets 10..14 be delivered
    await waitFor(() => got.length === 15, 'refill to prefetch');
    // a round trip after the acks, so they have reached the broker and been committed
    await ch.checkQueue('half');
    await new Promise((r) => setTimeout(r, 300));
    await killHard(fx.proc);
    fx.conns.splice(0);

    fx.proc = await spawnBroker(fx.dir);
    const ch2 = await (await client(fx.proc.url)).createChannel();
    const out: [number, boolean][] = [];
    for (let m = await ch2.get('half', { noAck: true }); m; m = await ch2.get('half', { noAck: true })) {
      out.push([Number(Buffer.from(m.content).toString()), m.fields.redelivered]);
    }
    expect(out.length).to.equal(95);
    expect(out.slice(0, 10)).to.deep.equal([5, 6, 7, 8, 9, 10, 11, 12, 13, 14].map((n) => [n, true]));
    expect(out.slice(10).every(([n, r], i) => n === i + 15 && !r)).to.equal(true);
  });
});
