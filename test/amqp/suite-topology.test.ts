import { expect } from 'chai';
import type { Channel, GetMessage } from 'amqplib';
import { sleep } from '../helpers/client.js';
import { replyOf, uniq, useAmqpBroker } from '../helpers/amqp.js';

// exchange.* and queue.* through amqplib's public API, with RabbitMQ's reply codes and texts
// (spec/amqp.md). Runs against RabbitMQ with AMQP_TEST_URL (test/helpers/amqp.ts).
describe('AMQP 0-9-1: exchanges and queues', function () {
  this.timeout(20_000);
  const fx = useAmqpBroker();

  /** A channel whose channel-level errors the test reads from the rejected call. */
  async function channel(): Promise<Channel> {
    const ch = await fx.channel();
    ch.on('error', () => undefined);
    return ch;
  }

  async function drain(ch: Channel, q: string): Promise<string[]> {
    const out: string[] = [];
    for (let m = await ch.get(q, { noAck: true }); m !== false; m = await ch.get(q, { noAck: true }))
      out.push(m.content.toString());
    return out;
  }

  describe('exchanges', () => {
    it('declares direct, fanout, topic and headers exchanges that route as their type says', async () => {
      const ch = await channel();
      const [qa, qb] = [uniq('qa'), uniq('qb')];
      for (const q of [qa, qb]) await ch.assertQueue(q, { exclusive: true });
      const ex = { direct: uniq('ex-d'), fanout: uniq('ex-f'), topic: uniq('ex-t'), headers: uniq('ex-h') };
      for (const [type, name] of Object.entries(ex)) await ch.assertExchange(name, type, { autoDelete: true });
      await ch.bindQueue(qa, ex.direct, 'a');
      await ch.bindQueue(qb, ex.direct, 'b');
      await ch.bindQueue(qa, ex.fanout, 'ignored');
      await ch.bindQueue(qb, ex.fanout, '');
      await ch.bindQueue(qa, ex.topic, 'orders.*.eu');
      await ch.bindQueue(qb, ex.topic, 'orders.#');
      await ch.bindQueue(qa, ex.headers, '', { 'x-match': 'all', kind: 'x', n: 1 });
      await ch.bindQueue(qb, ex.headers, '', { 'x-match': 'any', kind: 'y', n: 1 });
      ch.publish(ex.direct, 'a', Buffer.from('d-a'));
      ch.publish(ex.direct, 'b', Buffer.from('d-b'));
      ch.publish(ex.fanout, 'whatever', Buffer.from('f'));
      ch.publish(ex.topic, 'orders.new.eu', Buffer.from('t-eu'));
      ch.publish(ex.topic, 'orders.new.us', Buffer.from('t-us'));
      ch.publish(ex.headers, '', Buffer.from('h-all'), { headers: { kind: 'x', n: 1 } });
      ch.publish(ex.headers, '', Buffer.from('h-any'), { headers: { kind: 'y' } });
      await ch.checkQueue(qa); // a round trip: the publishes before it have been routed
      expect(await drain(ch, qa)).to.deep.equal(['d-a', 'f', 't-eu', 'h-all']);
      expect(await drain(ch, qb)).to.deep.equal(['d-b', 'f', 't-eu', 't-us', 'h-all', 'h-any']);
    });

    it('checkExchange (passive) of a missing exchange: 404 NOT_FOUND - no exchange ... in vhost', async () => {
      const ch = await channel();
      const name = uniq('missing-ex');
      const err = await replyOf(ch.checkExchange(name));
      expect(err.code).to.equal(404);
      expect(err.message).to.contain(`NOT_FOUND - no exchange '${name}' in vhost '/'`);
    });

    it('redeclaring an exchange with another type: 406 inequivalent arg', async () => {
      const ch = await channel();
      const name = uniq('ex');
      await ch.assertExchange(name, 'direct', { autoDelete: true });
      const err = await replyOf(ch.assertExchange(name, 'fanout', { autoDelete: true }));
      expect(err.code).to.equal(406);
      expect(err.message).to.contain(
        `PRECONDITION_FAILED - inequivalent arg 'type' for exchange '${name}' in vhost '/': received 'fanout' but current is 'direct'`,
      );
      await (await channel()).deleteExchange(name); // an auto-delete exchange never bound stays
    });

    it("declaring an exchange named amq.*: 403 ACCESS_REFUSED - exchange name ... contains reserved prefix 'amq.*'", async () => {
      const ch = await channel();
      const err = await replyOf(ch.assertExchange('amq.mine', 'direct'));
      expect(err.code).to.equal(403);
      expect(err.message).to.contain("ACCESS_REFUSED - exchange name 'amq.mine' contains reserved prefix 'amq.*'");
    });

    it('exchange-to-exchange bindings route through, and unbind stops them', async () => {
      const ch = await channel();
      const [src, dst, q] = [uniq('src'), uniq('dst'), uniq('q')];
      await ch.assertExchange(src, 'topic', { autoDelete: false });
      await ch.assertExchange(dst, 'fanout', { autoDelete: false });
      await ch.assertQueue(q, { exclusive: true });
      await ch.bindQueue(q, dst, '');
      await ch.bindExchange(dst, src, 'a.#');
      ch.publish(src, 'a.b', Buffer.from('through'));
      ch.publish(src, 'b.a', Buffer.from('not-matched'));
      await ch.checkQueue(q);
      expect(await drain(ch, q)).to.deep.equal(['through']);
      await ch.unbindExchange(dst, src, 'a.#');
      ch.publish(src, 'a.b', Buffer.from('after-unbind'));
      await ch.checkQueue(q);
      expect(await drain(ch, q)).to.deep.equal([]);
      await ch.deleteExchange(src);
      await ch.deleteExchange(dst);
      expect((await replyOf(ch.checkExchange(src))).code).to.equal(404);
    });

    it('an alternate-exchange takes what the exchange cannot route', async () => {
      const ch = await channel();
      const [ex, ae, q] = [uniq('ex'), uniq('ae'), uniq('q')];
      await ch.assertExchange(ae, 'fanout', { autoDelete: true });
      await ch.assertExchange(ex, 'direct', { autoDelete: true, alternateExchange: ae });
      await ch.assertQueue(q, { exclusive: true });
      await ch.bindQueue(q, ae, '');
      ch.publish(ex, 'nobody', Buffer.from('unroutable'));
      await ch.checkQueue(q);
      expect(await drain(ch, q)).to.deep.equal(['unroutable']);
      await ch.deleteExchange(ex);
    });
  });

  describe('queues', () => {
    it('checkQueue (passive) reports message and consumer counts; a missing queue is 404 with the text', async () => {
      const ch = await channel();
      const q = uniq('q');
      await ch.assertQueue(q, { exclusive: true });
      ch.sendToQueue(q, Buffer.from('1'));
      ch.sendToQueue(q, Buffer.from('2'));
      await ch
        .consume(q, () => undefined, { noAck: false })
        .then(async ({ consumerTag }) => {
          await ch.cancel(consumerTag);
          await ch.recover(); // the consumer's unacked deliveries go back to the queue
        });
      const ok = await ch.checkQueue(q);
      expect(ok).to.deep.equal({ queue: q, messageCount: 2, consumerCount: 0 });
      const missing = uniq('missing');
      const err = await replyOf(ch.checkQueue(missing));
      expect(err.code).to.equal(404);
      expect(err.message).to.contain(`NOT_FOUND - no queue '${missing}' in vhost '/'`);
    });

    it('a server-named queue gets an amq.gen- name', async () => {
      const ch = await channel();
      const ok = await ch.assertQueue('', { exclusive: true });
      expect(ok.queue).to.match(/^amq\.gen-/);
      expect(ok.messageCount).to.equal(0);
    });

    it("redeclaring with another durable flag: 406 PRECONDITION_FAILED - inequivalent arg 'durable'", async () => {
      const ch = await channel();
      const q = uniq('q');
      await ch.assertQueue(q, { durable: false, autoDelete: true });
      const err = await replyOf(ch.assertQueue(q, { durable: true, autoDelete: true }));
      expect(err.code).to.equal(406);
      expect(err.message).to.contain(
        `PRECONDITION_FAILED - inequivalent arg 'durable' for queue '${q}' in vhost '/': received 'true' but current is 'false'`,
      );
      await (await channel()).deleteQueue(q); // auto-delete, but never consumed from
    });

    it("declaring a queue named amq.*: 403 ACCESS_REFUSED - queue name ... contains reserved prefix 'amq.*'", async () => {
      const ch = await channel();
      const err = await replyOf(ch.assertQueue('amq.mine'));
      expect(err.code).to.equal(403);
      expect(err.message).to.contain("ACCESS_REFUSED - queue name 'amq.mine' contains reserved prefix 'amq.*'");
    });

    it('an exclusive queue is locked for other connections (405 RESOURCE_LOCKED) and goes with its connection', async () => {
      const owner = await fx.connect();
      const och = await owner.createChannel();
      const q = uniq('excl');
      await och.assertQueue(q, { exclusive: true });
      const other = await channel();
      const err = await replyOf(other.checkQueue(q));
      expect(err.code).to.equal(405);
      expect(err.message).to.contain(
        `RESOURCE_LOCKED - cannot obtain exclusive access to locked queue '${q}' in vhost '/'`,
      );
      await owner.close();
      const ch = await channel();
      expect((await replyOf(ch.checkQueue(q))).code).to.equal(404);
    });

    it('an auto-delete queue is deleted when its last consumer is cancelled', async () => {
      const ch = await channel();
      const q = uniq('auto');
      await ch.assertQueue(q, { autoDelete: true, durable: false });
      const { consumerTag } = await ch.consume(q, () => undefined);
      await ch.cancel(consumerTag);
      const probe = await channel();
      expect((await replyOf(probe.checkQueue(q))).code).to.equal(404);
    });

    it('purge empties the queue; delete with ifEmpty refuses a non-empty queue (406)', async () => {
      const ch = await channel();
      const q = uniq('q');
      await ch.assertQueue(q, { durable: false });
      for (let i = 0; i < 3; i++) ch.sendToQueue(q, Buffer.from(String(i)));
      const err = await replyOf(ch.deleteQueue(q, { ifEmpty: true }));
      expect(err.code).to.equal(406);
      expect(err.message).to.contain(`PRECONDITION_FAILED - queue '${q}' in vhost '/' not empty`);
      const ch2 = await channel();
      expect(await ch2.purgeQueue(q)).to.deep.equal({ messageCount: 3 });
      expect(await ch2.deleteQueue(q, { ifEmpty: true })).to.deep.equal({ messageCount: 0 });
    });

    it('delete reports the messages it dropped; unbind stops routing', async () => {
      const ch = await channel();
      const [q, ex] = [uniq('q'), uniq('ex')];
      // not auto-delete: RabbitMQ deletes an auto-delete exchange when its last binding goes
      await ch.assertExchange(ex, 'direct', { autoDelete: false });
      await ch.assertQueue(q, { durable: false });
      await ch.bindQueue(q, ex, 'k');
      ch.publish(ex, 'k', Buffer.from('1'));
      await ch.unbindQueue(q, ex, 'k');
      ch.publish(ex, 'k', Buffer.from('2'));
      expect(await ch.deleteQueue(q)).to.deep.equal({ messageCount: 1 });
      await ch.deleteExchange(ex);
    });

    it('x-message-ttl expires messages; per-message expiration too', async () => {
      const ch = await channel();
      const q = uniq('ttl');
      await ch.assertQueue(q, { exclusive: true, messageTtl: 100 });
      ch.sendToQueue(q, Buffer.from('queue-ttl'));
      const q2 = uniq('exp');
      await ch.assertQueue(q2, { exclusive: true });
      ch.sendToQueue(q2, Buffer.from('msg-ttl'), { expiration: '100' });
      ch.sendToQueue(q2, Buffer.from('kept'));
      await sleep(300);
      expect(await drain(ch, q)).to.deep.equal([]);
      expect(await drain(ch, q2)).to.deep.equal(['kept']);
    });

    it('x-max-length drops from the head (drop-head), reject-publish nacks the publish', async () => {
      const ch = await channel();
      const q = uniq('max');
      await ch.assertQueue(q, { exclusive: true, maxLength: 2 });
      for (const b of ['1', '2', '3']) ch.sendToQueue(q, Buffer.from(b));
      await ch.checkQueue(q);
      expect(await drain(ch, q)).to.deep.equal(['2', '3']);

      const cch = await fx.confirmChannel();
      const q2 = uniq('max-reject');
      await cch.assertQueue(q2, { exclusive: true, maxLength: 1, arguments: { 'x-overflow': 'reject-publish' } });
      const results: string[] = [];
      for (const b of ['a', 'b'])
        cch.sendToQueue(q2, Buffer.from(b), {}, (err) => results.push(`${b}:${err ? 'nack' : 'ack'}`));
      await cch.waitForConfirms().catch(() => undefined);
      expect(results.sort()).to.deep.equal(['a:ack', 'b:nack']);
    });

    it('dead-letters rejected and expired messages to x-dead-letter-exchange with x-death', async () => {
      const ch = await channel();
      const [dlx, dlq, q] = [uniq('dlx'), uniq('dlq'), uniq('work')];
      await ch.assertExchange(dlx, 'fanout', { autoDelete: true });
      await ch.assertQueue(dlq, { exclusive: true });
      await ch.bindQueue(dlq, dlx, '');
      await ch.assertQueue(q, {
        exclusive: true,
        deadLetterExchange: dlx,
        deadLetterRoutingKey: 'dead',
      });
      ch.sendToQueue(q, Buffer.from('rejected'), { headers: { keep: 'me' } });
      ch.sendToQueue(q, Buffer.from('expired'), { expiration: '50' });
      const m = (await ch.get(q)) as GetMessage;
      expect(m.content.toString()).to.equal('rejected');
      ch.reject(m, false);
      await sleep(200);
      await ch.get(q); // expiry is checked at the head when the queue is read
      await sleep(100);
      const got: GetMessage[] = [];
      for (let d = await ch.get(dlq, { noAck: true }); d !== false; d = await ch.get(dlq, { noAck: true })) got.push(d);
      expect(got.map((d) => d.content.toString())).to.deep.equal(['rejected', 'expired']);
      const [first, second] = got as [GetMessage, GetMessage];
      expect(first.fields.routingKey).to.equal('dead');
      expect(first.properties.headers?.['keep']).to.equal('me');
      const death = first.properties.headers?.['x-death']?.[0];
      expect(death).to.include({ queue: q, reason: 'rejected', exchange: '', count: 1 });
      expect(death?.['routing-keys']).to.deep.equal([q]);
      expect(second.properties.headers?.['x-death']?.[0]).to.include({ reason: 'expired' });
      expect(first.properties.headers?.['x-first-death-reason']).to.equal('rejected');
    });

    it('x-max-priority delivers higher priorities first', async () => {
      const ch = await channel();
      const q = uniq('prio');
      await ch.assertQueue(q, { exclusive: true, maxPriority: 5 });
      ch.sendToQueue(q, Buffer.from('low'), { priority: 1 });
      ch.sendToQueue(q, Buffer.from('none'));
      ch.sendToQueue(q, Buffer.from('high'), { priority: 5 });
      ch.sendToQueue(q, Buffer.from('over-max'), { priority: 9 });
      ch.sendToQueue(q, Buffer.from('mid'), { priority: 3 });
      await ch.checkQueue(q);
      expect(await drain(ch, q)).to.deep.equal(['high', 'over-max', 'mid', 'low', 'none']);
    });

    it('an x-max-length that is not a number is refused with 406', async () => {
      const ch = await channel();
      const err = await replyOf(ch.assertQueue(uniq('q'), { arguments: { 'x-max-length': 'not-a-number' } }));
      expect(err.code).to.equal(406);
      expect(err.message).to.contain("PRECONDITION_FAILED - invalid arg 'x-max-length' for queue");
    });
  });
});
