import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import type { Channel, ConsumeMessage, GetMessage, Message } from 'amqplib';
import { nextEvent, sleep, waitFor } from '../helpers/client.js';
import { replyOf, uniq, useAmqpBroker } from '../helpers/amqp.js';

// basic.* through amqplib's public API (spec/amqp.md). Runs against RabbitMQ with
// AMQP_TEST_URL (test/helpers/amqp.ts).
describe('AMQP 0-9-1: basic', function () {
  this.timeout(20_000);
  const fx = useAmqpBroker();

  async function channel(): Promise<Channel> {
    const ch = await fx.channel();
    ch.on('error', () => undefined);
    return ch;
  }

  async function queueWith(ch: Channel, n: number): Promise<string> {
    const q = (await ch.assertQueue('', { exclusive: true })).queue;
    for (let i = 0; i < n; i++) ch.sendToQueue(q, Buffer.from(String(i)));
    await ch.checkQueue(q);
    return q;
  }

  const body = (m: Message | false | null): string => (m ? m.content.toString() : String(m));

  describe('qos', () => {
    it('global=false limits each consumer created after it (RabbitMQ: per consumer)', async () => {
      const ch = await channel();
      const q = await queueWith(ch, 10);
      await ch.prefetch(2, false);
      const a: ConsumeMessage[] = [];
      const b: ConsumeMessage[] = [];
      await ch.consume(q, (m) => void (m && a.push(m)));
      await ch.consume(q, (m) => void (m && b.push(m)));
      await waitFor(() => a.length + b.length === 4, 'two deliveries per consumer');
      await sleep(100);
      expect([a.length, b.length]).to.deep.equal([2, 2]);
      ch.ack(a[0]!);
      await waitFor(() => a.length === 3, 'a refill after an ack');
    });

    it('global=true shares one limit across the channel, beside the per-consumer one', async () => {
      const ch = await channel();
      const q = await queueWith(ch, 10);
      await ch.prefetch(2, false); // each consumer: 2
      await ch.prefetch(3, true); // the channel: 3 in all
      const a: ConsumeMessage[] = [];
      const b: ConsumeMessage[] = [];
      await ch.consume(q, (m) => void (m && a.push(m)));
      await ch.consume(q, (m) => void (m && b.push(m)));
      await waitFor(() => a.length + b.length === 3, 'three deliveries on the channel');
      await sleep(100);
      expect(a.length + b.length).to.equal(3);
      expect(a.length).to.be.at.most(2);
      expect(b.length).to.be.at.most(2);
    });
  });

  describe('consume and cancel', () => {
    it('delivers with consumer tag, delivery tag, exchange, routing key, redelivered=false', async () => {
      const ch = await channel();
      const q = await queueWith(ch, 1);
      const got: ConsumeMessage[] = [];
      const { consumerTag } = await ch.consume(q, (m) => void (m && got.push(m)), { consumerTag: 'my-tag' });
      expect(consumerTag).to.equal('my-tag');
      await waitFor(() => got.length === 1, 'a delivery');
      expect(got[0]!.fields).to.deep.include({
        consumerTag: 'my-tag',
        deliveryTag: 1,
        redelivered: false,
        exchange: '',
        routingKey: q,
      });
      await ch.cancel(consumerTag);
      ch.sendToQueue(q, Buffer.from('after-cancel'));
      await sleep(100);
      expect(got.length).to.equal(1);
    });

    it('a server-named consumer tag is amq.ctag-…', async () => {
      const ch = await channel();
      const q = await queueWith(ch, 0);
      expect((await ch.consume(q, () => undefined)).consumerTag).to.match(/^amq\.ctag-/);
    });

    it('sends basic.cancel to the consumer when its queue is deleted (consumer_cancel_notify)', async () => {
      const ch = await channel();
      const q = uniq('doomed');
      await ch.assertQueue(q, { durable: false });
      let cancelled = false;
      await ch.consume(q, (m) => {
        if (m === null) cancelled = true;
      });
      const other = await channel();
      await other.deleteQueue(q);
      await waitFor(() => cancelled, 'the broker-sent basic.cancel');
      await ch.checkExchange('amq.direct'); // the channel is still open
    });

    it('an exclusive consumer keeps others out with 403 ACCESS_REFUSED', async () => {
      const ch = await channel();
      const q = uniq('q');
      await ch.assertQueue(q, { durable: false, autoDelete: true });
      await ch.consume(q, () => undefined, { exclusive: true });
      const other = await channel();
      const err = await replyOf(other.consume(q, () => undefined));
      expect(err.code).to.equal(403);
      expect(err.message).to.contain(`ACCESS_REFUSED - queue '${q}' in vhost '/' in exclusive use`);
    });

    it('consuming from a missing queue: 404 NOT_FOUND with the text', async () => {
      const ch = await channel();
      const q = uniq('missing');
      const err = await replyOf(ch.consume(q, () => undefined));
      expect(err.code).to.equal(404);
      expect(err.message).to.contain(`NOT_FOUND - no queue '${q}' in vhost '/'`);
    });
  });

  describe('publish', () => {
    it('returns an unroutable mandatory message with 312 NO_ROUTE', async () => {
      const ch = await channel();
      const ex = uniq('ex');
      await ch.assertExchange(ex, 'direct', { autoDelete: false });
      const returned = nextEvent<Message>(ch, 'return');
      ch.publish(ex, 'nobody', Buffer.from('back'), { mandatory: true, messageId: 'm1' });
      const m = await returned;
      expect(m.fields).to.deep.include({ replyCode: 312, replyText: 'NO_ROUTE', exchange: ex, routingKey: 'nobody' });
      expect(m.content.toString()).to.equal('back');
      expect(m.properties.messageId).to.equal('m1');
      await ch.deleteExchange(ex);
    });

    it('publishing to a missing exchange closes the channel with 404 NOT_FOUND - no exchange', async () => {
      const ch = await fx.channel();
      const ex = uniq('missing');
      const closed = nextEvent<Error>(ch, 'error');
      ch.publish(ex, 'k', Buffer.from('x'));
      const err = await closed;
      expect(err.message).to.contain(`404 (NOT-FOUND) with message "NOT_FOUND - no exchange '${ex}' in vhost '/'"`);
    });

    it('carries every basic property and header field-table type unchanged', async () => {
      const ch = await channel();
      const q = await queueWith(ch, 0);
      const bytes = Buffer.from([0, 1, 2, 254, 255]);
      const headers = {
        str: 'grüße ✓',
        bool: true,
        int8: { '!': 'int8', value: -128 },
        uint8: { '!': 'uint8', value: 255 },
        int16: { '!': 'int16', value: -32768 },
        uint16: { '!': 'uint16', value: 65535 },
        int32: { '!': 'int32', value: -2147483648 },
        uint32: { '!': 'uint32', value: 4294967295 },
        int64: { '!': 'int64', value: -9007199254740991 },
        float: { '!': 'float', value: 1.5 },
        double: { '!': 'double', value: 0.1 },
        decimal: { '!': 'decimal', value: { places: 2, digits: 12345 } },
        timestamp: { '!': 'timestamp', value: 1700000000 },
        void: null,
        bytes,
        array: ['a', 1, true, ['nested'], { k: 'v' }],
        table: { inner: { deeper: 'yes' }, n: 7 },
      };
      const props = {
        contentType: 'application/json',
        contentEncoding: 'gzip',
        headers,
        deliveryMode: 2,
        priority: 7,
        correlationId: 'corr-1',
        replyTo: 'reply-q',
        expiration: '60000',
        messageId: 'msg-1',
        timestamp: 1700000001,
        type: 'order.created',
        userId: 'guest',
        appId: 'test-app',
      };
      ch.sendToQueue(q, Buffer.from('{}'), props);
      const m = (await ch.get(q, { noAck: true })) as GetMessage;
      const p = m.properties;
      expect(p).to.deep.include({
        contentType: 'application/json',
        contentEncoding: 'gzip',
        deliveryMode: 2,
        priority: 7,
        correlationId: 'corr-1',
        replyTo: 'reply-q',
        expiration: '60000',
        messageId: 'msg-1',
        timestamp: 1700000001,
        type: 'order.created',
        userId: 'guest',
        appId: 'test-app',
      });
      const h = p.headers!;
      expect(h['str']).to.equal('grüße ✓');
      expect(h['bool']).to.equal(true);
      // amqplib decodes the integer and float types to plain numbers; a type changed on the
      // way (e.g. uint16 -> int16) would change these boundary values
      expect([h['int8'], h['uint8'], h['int16'], h['uint16'], h['int32'], h['uint32'], h['int64']]).to.deep.equal([
        -128, 255, -32768, 65535, -2147483648, 4294967295, -9007199254740991,
      ]);
      expect(h['float']).to.equal(1.5);
      expect(h['double']).to.equal(0.1);
      expect(h['decimal']).to.deep.equal({ '!': 'decimal', value: { places: 2, digits: 12345 } });
      expect(h['timestamp']).to.deep.equal({ '!': 'timestamp', value: 1700000000 });
      expect(h['void']).to.equal(null);
      expect(Buffer.from(h['bytes'] as Buffer).equals(bytes)).to.equal(true);
      expect(h['array']).to.deep.equal(['a', 1, true, ['nested'], { k: 'v' }]);
      expect(h['table']).to.deep.equal({ inner: { deeper: 'yes' }, n: 7 });
    });

    it('refuses a user-id that is not the connection user: 406 PRECONDITION_FAILED', async () => {
      const ch = await fx.channel();
      const closed = nextEvent<Error>(ch, 'error');
      ch.sendToQueue('', Buffer.from('x'), { userId: 'someone-else' });
      const err = await closed;
      expect(err.message).to.contain(
        "406 (PRECONDITION-FAILED) with message \"PRECONDITION_FAILED - user_id property set to 'someone-else' but authenticated user was 'guest'\"",
      );
    });

    it('splits large bodies across frames by frame-max and joins them again', async () => {
      for (const frameMax of [4096, 0]) {
        const conn = await fx.connect({ frameMax });
        const ch = await conn.createChannel();
        const q = (await ch.assertQueue('', { exclusive: true })).queue;
        const sizes = [0, 1, 4087, 4088, 4089, 100_000, 2 * 1024 * 1024];
        const bodies = sizes.map((n) => randomBytes(n));
        for (const b of bodies) ch.sendToQueue(q, b);
        for (const b of bodies) {
          const m = (await ch.get(q, { noAck: true })) as GetMessage;
          expect(m, `a ${b.length}-byte body`).to.not.equal(false);
          expect(m.content.length).to.equal(b.length);
          expect(m.content.equals(b), `${b.length}-byte body (frame-max ${frameMax})`).to.equal(true);
        }
      }
    });
  });

  describe('get', () => {
    it('returns the message with message count, or false on an empty queue', async () => {
      const ch = await channel();
      const q = await queueWith(ch, 3);
      const m = (await ch.get(q)) as GetMessage;
      expect(body(m)).to.equal('0');
      expect(m.fields).to.deep.include({
        deliveryTag: 1,
        redelivered: false,
        exchange: '',
        routingKey: q,
        messageCount: 2,
      });
      ch.ack(m);
      await ch.get(q, { noAck: true });
      await ch.get(q, { noAck: true });
      expect(await ch.get(q)).to.equal(false);
    });
  });

  describe('ack, nack, reject, recover', () => {
    async function takeAll(ch: Channel, q: string, n: number): Promise<GetMessage[]> {
      const out: GetMessage[] = [];
      for (let i = 0; i < n; i++) out.push((await ch.get(q)) as GetMessage);
      return out;
    }

    it('ack multiple acks every delivery up to the tag', async () => {
      const ch = await channel();
      const q = await queueWith(ch, 5);
      const ms = await takeAll(ch, q, 5);
      ch.ack(ms[2]!, true); // 0, 1, 2
      ch.nack(ms[4]!, false, true); // 4 back
      await ch.recover(); // 3 back
      const rest: string[] = [];
      for (let m = await ch.get(q, { noAck: true }); m; m = await ch.get(q, { noAck: true }))
        rest.push(`${body(m)}:${m.fields.redelivered}`);
      expect(rest.sort()).to.deep.equal(['3:true', '4:true']);
    });

    it('nack multiple with requeue returns them redelivered, in order; without requeue drops them', async () => {
      const ch = await channel();
      const q = await queueWith(ch, 4);
      const ms = await takeAll(ch, q, 4);
      ch.nack(ms[1]!, true, true); // 0, 1 requeued
      ch.nack(ms[3]!, true, false); // 2, 3 dropped
      await ch.checkQueue(q);
      const back: string[] = [];
      for (let m = await ch.get(q, { noAck: true }); m; m = await ch.get(q, { noAck: true }))
        back.push(`${body(m)}:${m.fields.redelivered}`);
      expect(back).to.deep.equal(['0:true', '1:true']);
    });

    it('reject with requeue redelivers to a consumer with redelivered=true', async () => {
      const ch = await channel();
      const q = await queueWith(ch, 1);
      const got: ConsumeMessage[] = [];
      await ch.consume(q, (m) => {
        if (!m) return;
        got.push(m);
        if (got.length === 1) ch.reject(m, true);
        else ch.ack(m);
      });
      await waitFor(() => got.length === 2, 'the redelivery');
      expect(got.map((m) => m.fields.redelivered)).to.deep.equal([false, true]);
    });

    it('nackAll and ackAll settle every outstanding delivery', async () => {
      const ch = await channel();
      const q = await queueWith(ch, 3);
      await takeAll(ch, q, 3);
      ch.nackAll(true);
      const again = await takeAll(ch, q, 3);
      expect(again.every((m) => m.fields.redelivered)).to.equal(true);
      ch.ackAll();
      expect((await ch.checkQueue(q)).messageCount).to.equal(0);
    });

    it('recover redelivers unacked deliveries with redelivered=true', async () => {
      const ch = await channel();
      const q = await queueWith(ch, 2);
      const got: ConsumeMessage[] = [];
      await ch.consume(q, (m) => void (m && got.push(m)));
      await waitFor(() => got.length === 2, 'two deliveries');
      await ch.recover();
      await waitFor(() => got.length === 4, 'two redeliveries');
      expect(got.map((m) => `${body(m)}:${m.fields.redelivered}`)).to.deep.equal([
        '0:false',
        '1:false',
        '0:true',
        '1:true',
      ]);
    });

    it('acking an unknown delivery tag closes the channel: 406 PRECONDITION_FAILED - unknown delivery tag', async () => {
      const ch = await fx.channel();
      const closed = nextEvent<Error>(ch, 'error');
      ch.ack({ fields: { deliveryTag: 7 } } as Message);
      const err = await closed;
      expect(err.message).to.contain(
        '406 (PRECONDITION-FAILED) with message "PRECONDITION_FAILED - unknown delivery tag 7"',
      );
    });

    it('closing a channel requeues its unacked deliveries', async () => {
      const conn = await fx.connect();
      const ch = await conn.createChannel();
      const q = uniq('q');
      await ch.assertQueue(q, { durable: false });
      ch.sendToQueue(q, Buffer.from('held'));
      const m = (await ch.get(q)) as GetMessage;
      expect(body(m)).to.equal('held');
      await ch.close();
      const ch2 = await channel();
      const again = (await ch2.get(q, { noAck: true })) as GetMessage;
      expect([body(again), again.fields.redelivered]).to.deep.equal(['held', true]);
      await ch2.deleteQueue(q);
    });
  });

  describe('direct reply-to', () => {
    it('answers an RPC through amq.rabbitmq.reply-to without a reply queue', async () => {
      const server = await channel();
      const rpcQ = await queueWith(server, 0);
      await server.consume(rpcQ, (m) => {
        if (!m) return;
        server.sendToQueue(m.properties.replyTo as string, Buffer.from(`re:${body(m)}`), {
          correlationId: m.properties.correlationId,
        });
        server.ack(m);
      });
      const client = await channel();
      const replies: ConsumeMessage[] = [];
      await client.consume('amq.rabbitmq.reply-to', (m) => void (m && replies.push(m)), { noAck: true });
      client.sendToQueue(rpcQ, Buffer.from('ping'), { replyTo: 'amq.rabbitmq.reply-to', correlationId: 'c-1' });
      await waitFor(() => replies.length === 1, 'the reply');
      expect(body(replies[0]!)).to.equal('re:ping');
      expect(replies[0]!.properties.correlationId).to.equal('c-1');
    });

    it('publishing with reply-to amq.rabbitmq.reply-to without consuming from it first: 406', async () => {
      const ch = await fx.channel();
      const closed = nextEvent<Error>(ch, 'error');
      ch.sendToQueue('whatever', Buffer.from('x'), { replyTo: 'amq.rabbitmq.reply-to' });
      const err = await closed;
      expect(err.message).to.contain(
        '406 (PRECONDITION-FAILED) with message "PRECONDITION_FAILED - fast reply consumer does not exist"',
      );
    });
  });
});
