import { expect } from 'chai';
import type { Channel, ConsumeMessage } from 'amqplib';
import { replyOf, uniq, useAmqpBroker } from '../helpers/amqp.js';
import { waitFor } from '../helpers/client.js';

const STREAM = { durable: true, arguments: { 'x-queue-type': 'stream' } };

/** Consumes `n` messages from `offset` with prefetch 10, acking each; returns offsets and bodies. */
async function replay(
  ch: Channel,
  q: string,
  offset: unknown,
  n: number,
): Promise<{ offsets: number[]; bodies: string[] }> {
  const got: ConsumeMessage[] = [];
  await ch.prefetch(10);
  await ch.consume(
    q,
    (m) => {
      if (m === null) return;
      got.push(m);
      ch.ack(m);
    },
    { arguments: { 'x-stream-offset': offset } },
  );
  await waitFor(() => got.length >= n, `${n} messages from ${JSON.stringify(offset)}`);
  return {
    offsets: got.map((m) => Number(m.properties.headers?.['x-stream-offset'])),
    bodies: got.map((m) => m.content.toString()),
  };
}

// Runs against RabbitMQ too (AMQP_TEST_URL=amqp://guest:guest@127.0.0.1:5672): these are its semantics.
describe('stream queues over AMQP 0-9-1 (amqplib)', function () {
  this.timeout(30_000);
  const declared: string[] = [];
  // Registered before the fixture's hooks, so it runs while the broker is still up (a shared RabbitMQ keeps no litter).
  after(async () => {
    const ch = await fx.channel();
    for (const q of declared.splice(0)) await ch.deleteQueue(q);
  });
  const fx = useAmqpBroker();
  const stream = async (ch: Channel): Promise<string> => {
    const q = uniq('stream');
    await ch.assertQueue(q, STREAM);
    declared.push(q);
    return q;
  };

  it('publishes with confirms and replays from first and from an offset, with the x-stream-offset header', async () => {
    const pub = await fx.confirmChannel();
    const q = await stream(pub);
    for (let i = 0; i < 100; i++) pub.sendToQueue(q, Buffer.from(String(i)), { persistent: true });
    await pub.waitForConfirms();
    const all = await replay(await fx.channel(), q, 'first', 100);
    expect(all.offsets).to.deep.equal(Array.from({ length: 100 }, (_, i) => i));
    expect(all.bodies[99]).to.equal('99');
    const tail = await replay(await fx.channel(), q, 90, 10);
    expect(tail.offsets).to.deep.equal(Array.from({ length: 10 }, (_, i) => 90 + i));
  });

  it('starts from a timestamp (AMQP timestamp, seconds) and from an interval', async () => {
    const pub = await fx.confirmChannel();
    const q = await stream(pub);
    for (let i = 0; i < 5; i++) pub.sendToQueue(q, Buffer.from(String(i)));
    await pub.waitForConfirms();
    const past = await replay(
      await fx.channel(),
      q,
      { '!': 'timestamp', value: Math.floor(Date.now() / 1000) - 60 },
      5,
    );
    expect(past.offsets[0]).to.equal(0);
    const recent = await replay(await fx.channel(), q, '10m', 5);
    expect(recent.offsets[0]).to.equal(0);
  });

  it('refuses an exclusive stream and a consumer without prefetch with 406', async () => {
    const ch = await fx.channel();
    const err = await replyOf(ch.assertQueue(uniq('excl'), { ...STREAM, exclusive: true }));
    expect(err.code).to.equal(406);
    const ch2 = await fx.channel();
    const q = await stream(ch2);
    const noPrefetch = await replyOf(ch2.consume(q, () => undefined));
    expect(noPrefetch.code).to.equal(406);
  });

  for (const [what, op] of [
    ['basic.get', (ch: Channel, q: string) => ch.get(q)],
    ['queue.purge', (ch: Channel, q: string) => ch.purgeQueue(q)],
    [
      'a no-ack consumer',
      async (ch: Channel, q: string) => (await ch.prefetch(1), ch.consume(q, () => undefined, { noAck: true })),
    ],
  ] as const) {
    it(`refuses ${what} with connection error 540 NOT_IMPLEMENTED, as RabbitMQ`, async () => {
      const q = await stream(await fx.channel());
      const conn = await fx.connect();
      const closed = new Promise<{ code?: number }>((resolve) => conn.once('error', resolve));
      const ch = await conn.createChannel();
      ch.on('error', () => undefined);
      await op(ch, q).catch(() => undefined);
      expect((await closed).code).to.equal(540);
    });
  }
});
