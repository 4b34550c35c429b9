import { expect } from 'chai';
import { connect } from '@switchyard/client';
import { killHard, spawnBroker, useBrokerProcess } from '../helpers/broker-process.js';
import { type Connection, waitFor } from '../helpers/client.js';

/**
 * A deep queue across kill -9 (spec/semantics.md §Deep backlogs): the count is right the
 * moment the broker answers (kept counts, no scan), no confirmed message is lost, and none is
 * delivered twice after its ack was durable.
 */
describe('deep queue across kill -9', function () {
  this.timeout(120_000);
  const fx = useBrokerProcess('deep');
  const N = 200_000;

  async function client(url: string): Promise<Connection> {
    const conn = await connect(url);
    conn.on('error', () => undefined); // the broker is about to be killed under it
    fx.conns.push(conn);
    return conn;
  }

  const body = (i: number): Buffer => {
    const b = Buffer.alloc(100, 1);
    b.writeUInt32BE(i, 0);
    return b;
  };

  it(`keeps ${N.toLocaleString('en')} confirmed messages and their count across two kill -9, mid-consumption`, async () => {
    fx.proc = await spawnBroker(fx.dir);
    const pub = await (await client(fx.proc.url)).createChannel();
    await pub.assertQueue('deep', { durable: true });
    const window: Promise<void>[] = [];
    for (let i = 0; i < N; i++) {
      window.push(pub.sendToQueue('deep', body(i), { persistent: true }));
      if (window.length === 5000) await Promise.all(window.splice(0));
    }
    await Promise.all(window);
    await killHard(fx.proc);
    fx.conns.splice(0);

    fx.proc = await spawnBroker(fx.dir);
    let ch = await (await client(fx.proc.url)).createChannel();
    expect((await ch.checkQueue('deep')).messageCount).to.equal(N);
    // Consume part of it, then kill the broker while acks are in flight.
    await ch.prefetch(500);
    const first: number[] = [];
    await ch.consume('deep', (m) => {
      if (m === null) return;
      first.push(Buffer.from(m.content).readUInt32BE(0));
      ch.ack(m);
    });
    await waitFor(() => first.length >= 30_000, `30,000 deliveries (got ${first.length})`, 60_000);
    await killHard(fx.proc);
    fx.conns.splice(0);
    expect(first.every((n, i) => n === i)).to.equal(true, 'first run out of order');

    fx.proc = await spawnBroker(fx.dir);
    ch = await (await client(fx.proc.url)).createChannel();
    const left = (await ch.checkQueue('deep')).messageCount;
    // Acks not yet durable at the kill come back (at least once); acked-and-durable ones do not.
    expect(left)
      .to.be.at.most(N)
      .and.at.least(N - first.length);
    await ch.prefetch(1000);
    const second: number[] = [];
    await ch.consume('deep', (m) => {
      if (m === null) return;
      second.push(Buffer.from(m.content).readUInt32BE(0));
      ch.ack(m);
    });
    await waitFor(() => second.length >= left, `${left} deliveries (got ${second.length})`, 60_000);
    await new Promise((r) => setTimeout(r, 200));
    expect(second.length).to.equal(left);
    // The rest, in order, none twice, and together nothing missing.
    expect(second.every((n, i) => i === 0 || n === second[i - 1]! + 1)).to.equal(true, 'second run out of order');
    expect(second.at(-1)).to.equal(N - 1);
    // Nothing lost (everything before the second run's first was delivered in the first), and
    // the count the broker answered with is exactly what was stored.
    expect(second[0]).to.be.at.most(first.length);
    expect(second[0]).to.equal(N - left);
    expect((await ch.checkQueue('deep')).messageCount).to.equal(0);
  });
});
