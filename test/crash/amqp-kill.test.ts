import { expect } from 'chai';
import amqp, { type ChannelModel, type ConsumeMessage } from 'amqplib';
import { killHard, spawnBroker, useBrokerProcess, type BrokerProcess } from '../helpers/broker-process.js';
import { sleep, waitFor } from '../helpers/client.js';

// The kill -9 crash test (kill-restart.test.ts) over AMQP 0-9-1 with amqplib and publisher
// confirms: every message the broker confirmed survives SIGKILL (spec/amqp.md).
describe('crash recovery over AMQP 0-9-1 (kill -9)', function () {
  this.timeout(90_000);
  const fx = useBrokerProcess('crash-amqp');
  const amqpConns: ChannelModel[] = [];
  afterEach(async () => {
    await Promise.all(amqpConns.splice(0).map((c) => c.close().catch(() => undefined)));
  });

  async function client(p: BrokerProcess): Promise<ChannelModel> {
    expect(p.amqpUrl, 'the broker logs its AMQP URL').to.be.a('string');
    const conn = await amqp.connect(p.amqpUrl!);
    conn.on('error', () => undefined); // the broker is about to be killed under it
    amqpConns.push(conn);
    return conn;
  }

  async function drain(p: BrokerProcess, q: string): Promise<{ body: number; redelivered: boolean }[]> {
    const ch = await (await client(p)).createChannel();
    const out: { body: number; redelivered: boolean }[] = [];
    for (let m = await ch.get(q, { noAck: true }); m !== false; m = await ch.get(q, { noAck: true }))
      out.push({ body: Number(m.content.toString()), redelivered: m.fields.redelivered });
    return out;
  }

  it('delivers all 10,000 confirmed persistent messages after SIGKILL, in order', async () => {
    fx.proc = await spawnBroker(fx.dir);
    const ch = await (await client(fx.proc)).createConfirmChannel();
    await ch.assertQueue('crash', { durable: true });
    const N = 10_000;
    for (let i = 0; i < N; i++) {
      ch.sendToQueue('crash', Buffer.from(String(i)), { persistent: true });
      if (i % 1000 === 999) await ch.waitForConfirms();
    }
    await ch.waitForConfirms();
    await killHard(fx.proc);
    amqpConns.splice(0);

    fx.proc = await spawnBroker(fx.dir);
    const check = await (await client(fx.proc)).createChannel();
    expect((await check.checkQueue('crash')).messageCount).to.equal(N);
    const out = await drain(fx.proc, 'crash');
    expect(out.length).to.equal(N);
    expect(out.every((m, i) => m.body === i)).to.equal(true, 'messages out of order');
  });

  it('SIGKILL while publishing: every message confirmed before the kill is there after it, once', async () => {
    fx.proc = await spawnBroker(fx.dir);
    const ch = await (await client(fx.proc)).createConfirmChannel();
    ch.on('error', () => undefined);
    await ch.assertQueue('inflight', { durable: true });
    const confirmed = new Set<number>();
    let i = 0;
    let stop = false;
    const publisher = (async () => {
      try {
        while (!stop) {
          const n = i++;
          const ok = ch.sendToQueue('inflight', Buffer.from(String(n)), { persistent: true }, (err) => {
            if (err === null) confirmed.add(n);
          });
          if (!ok || n % 100 === 0) await sleep(0); // let the socket drain and confirms arrive
        }
      } catch {
        // amqplib throws once the killed broker's socket has closed: the run is over
      }
    })();
    await waitFor(() => confirmed.size >= 3_000, '3,000 confirms', 30_000);
    await killHard(fx.proc);
    stop = true;
    await publisher;
    const before = [...confirmed];
    amqpConns.splice(0);

    fx.proc = await spawnBroker(fx.dir);
    const out = await drain(fx.proc, 'inflight');
    const bodies = out.map((m) => m.body);
    const seen = new Set(bodies);
    expect(seen.size).to.equal(bodies.length, 'a message is stored twice');
    const lost = before.filter((n) => !seen.has(n));
    expect(lost, `${lost.length} of ${before.length} confirmed messages lost`).to.deep.equal([]);
    expect(bodies.every((n, k) => k === 0 || n > bodies[k - 1]!)).to.equal(true, 'messages out of order');
  });

  it('after SIGKILL mid-consumption, acked messages stay gone and unacked ones return redelivered', async () => {
    fx.proc = await spawnBroker(fx.dir);
    const ch = await (await client(fx.proc)).createConfirmChannel();
    await ch.assertQueue('half', { durable: true });
    for (let n = 0; n < 100; n++) ch.sendToQueue('half', Buffer.from(String(n)), { persistent: true });
    await ch.waitForConfirms();
    await ch.prefetch(10);
    const got: ConsumeMessage[] = [];
    await ch.consume('half', (m) => void (m !== null && got.push(m)));
    await waitFor(() => got.length === 10, 'ten deliveries');
    ch.ack(got[4]!, true); // 0..4 acked, which lets 10..14 be delivered
    await waitFor(() => got.length === 15, 'refill to prefetch');
    await ch.checkQueue('half'); // a round trip after the acks, so they have reached the broker
    await sleep(300);
    await killHard(fx.proc);
    amqpConns.splice(0);

    fx.proc = await spawnBroker(fx.dir);
    const out = (await drain(fx.proc, 'half')).map((m) => [m.body, m.redelivered]);
    expect(out.length).to.equal(95);
    expect(out.slice(0, 10)).to.deep.equal([5, 6, 7, 8, 9, 10, 11, 12, 13, 14].map((n) => [n, true]));
    expect(out.slice(10).every(([n, r], k) => n === k + 15 && !r)).to.equal(true);
  });
});
