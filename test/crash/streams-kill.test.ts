import { expect } from 'chai';
import amqp, { type ChannelModel, type ConsumeMessage } from 'amqplib';
import { killHard, spawnBroker, useBrokerProcess, type BrokerProcess } from '../helpers/broker-process.js';
import { open, sleep, waitFor } from '../helpers/client.js';

const STREAM = { durable: true, arguments: { 'x-queue-type': 'stream' } };

// Streams under SIGKILL: every message the broker confirmed is in the log after a restart,
// in order, at the offset it had (spec/semantics.md §Streams).
describe('stream crash recovery (kill -9)', function () {
  this.timeout(90_000);
  const fx = useBrokerProcess('crash-stream');
  const conns: ChannelModel[] = [];
  afterEach(async () => {
    await Promise.all(conns.splice(0).map((c) => c.close().catch(() => undefined)));
  });

  async function client(p: BrokerProcess): Promise<ChannelModel> {
    const conn = await amqp.connect(p.amqpUrl!);
    conn.on('error', () => undefined); // the broker is about to be killed under it
    conns.push(conn);
    return conn;
  }

  /** Replays the whole stream from `first`: [offset, body] pairs. */
  async function replay(p: BrokerProcess, q: string, expected: number): Promise<[number, number][]> {
    const ch = await (await client(p)).createChannel();
    await ch.prefetch(500);
    const out: [number, number][] = [];
    await ch.consume(
      q,
      (m: ConsumeMessage | null) => {
        if (m === null) return;
        out.push([Number(m.properties.headers?.['x-stream-offset']), Number(m.content.toString())]);
        ch.ack(m);
      },
      { arguments: { 'x-stream-offset': 'first' } },
    );
    await waitFor(() => out.length >= expected, `${expected} messages`, 30_000);
    await sleep(200); // nothing beyond them
    return out;
  }

  it('keeps all 10,000 confirmed messages in order at their offsets', async () => {
    fx.proc = await spawnBroker(fx.dir);
    const ch = await (await client(fx.proc)).createConfirmChannel();
    await ch.assertQueue('log', STREAM);
    const N = 10_000;
    for (let i = 0; i < N; i++) {
      ch.sendToQueue('log', Buffer.from(String(i)), { persistent: i % 2 === 0 }); // a stream stores both
      if (i % 1000 === 999) await ch.waitForConfirms();
    }
    await ch.waitForConfirms();
    await killHard(fx.proc);
    conns.splice(0);

    fx.proc = await spawnBroker(fx.dir);
    const out = await replay(fx.proc, 'log', N);
    expect(out.length).to.equal(N);
    expect(out.every(([offset, body], i) => offset === i && body === i)).to.equal(true, 'offsets or order changed');
  });

  it('SIGKILL while publishing: every confirmed message is there once, offsets unchanged', async () => {
    fx.proc = await spawnBroker(fx.dir);
    const ch = await (await client(fx.proc)).createConfirmChannel();
    ch.on('error', () => undefined);
    await ch.assertQueue('busy', STREAM);
    const confirmed = new Set<number>();
    let i = 0;
    let stop = false;
    const publisher = (async () => {
      try {
        while (!stop) {
          const n = i++;
          const ok = ch.sendToQueue('busy', Buffer.from(String(n)), { persistent: true }, (err) => {
            if (err === null) confirmed.add(n);
          });
          if (!ok || n % 100 === 0) await sleep(0);
        }
      } catch {
        // amqplib throws once the killed broker's socket has closed
      }
    })();
    await waitFor(() => confirmed.size >= 3_000, '3,000 confirms', 30_000);
    await killHard(fx.proc);
    stop = true;
    await publisher;
    const before = [...confirmed];
    conns.splice(0);

    fx.proc = await spawnBroker(fx.dir);
    const out = await replay(fx.proc, 'busy', before.length);
    const bodies = out.map(([, b]) => b);
    expect(new Set(bodies).size).to.equal(bodies.length, 'a message is stored twice');
    const seen = new Set(bodies);
    expect(before.filter((n) => !seen.has(n))).to.deep.equal([]);
    // One publisher: the log is its publish order, offset k holding its k-th message.
    expect(out.every(([offset, body], k) => offset === k && body === k)).to.equal(true, 'offsets or order changed');
  });

  it('named readers keep their stored offsets across kill -9 and resume after them', async () => {
    fx.proc = await spawnBroker(fx.dir);
    const ch = await (await client(fx.proc)).createConfirmChannel();
    await ch.assertQueue('tracked', STREAM);
    for (let i = 0; i < 100; i++) ch.sendToQueue('tracked', Buffer.from(String(i)));
    await ch.waitForConfirms();
    // Reader 'acks' stores offsets with its acks (AMQP), reader 'explicit' with storeOffset (SDK).
    const reader = await (await client(fx.proc)).createChannel();
    await reader.prefetch(100);
    let seen = 0;
    await reader.consume(
      'tracked',
      (m: ConsumeMessage | null) => {
        if (m === null) return;
        if (seen++ < 40) reader.ack(m);
      },
      { arguments: { 'x-stream-offset': 'first', 'x-stream-reader': 'acks' } },
    );
    const { ch: sdk } = await open(fx.proc.url, fx.conns);
    for (let k = 0; k < 250 && (await sdk.queryOffset('tracked', 'acks')) !== 39; k++) await sleep(20);
    expect(await sdk.queryOffset('tracked', 'acks')).to.equal(39);
    // Resolves once durable, with every offset write issued before it (the acks' too).
    await sdk.storeOffset('tracked', 'explicit', 66);
    await killHard(fx.proc);
    conns.splice(0);
    fx.conns.splice(0);

    fx.proc = await spawnBroker(fx.dir);
    const { ch: again } = await open(fx.proc.url, fx.conns);
    expect(await again.queryOffset('tracked', 'acks')).to.equal(39);
    expect(await again.queryOffset('tracked', 'explicit')).to.equal(66);
    const resumed = await (await client(fx.proc)).createChannel();
    await resumed.prefetch(100);
    const offsets: number[] = [];
    await resumed.consume(
      'tracked',
      (m: ConsumeMessage | null) => {
        if (m === null) return;
        offsets.push(Number(m.properties.headers?.['x-stream-offset']));
        resumed.ack(m);
      },
      { arguments: { 'x-stream-reader': 'acks' } },
    );
    await waitFor(() => offsets.length >= 60, 'the 60 messages after offset 39', 30_000);
    expect(offsets).to.deep.equal(Array.from({ length: 60 }, (_, i) => 40 + i));
  });
});
