import { expect } from 'chai';
import amqp from 'amqplib';
import { useBroker } from '../helpers/broker.js';
import { amqpCodec } from '@switchyard/broker/internal';
import { sleep, waitFor } from '../helpers/client.js';
import { RawAmqp } from './core-raw.js';

const M = amqpCodec.M;

describe('AMQP 0-9-1 messaging (amqplib)', function () {
  const fx = useBroker({ noSync: true });
  let conn: amqp.ChannelModel;
  beforeEach(async () => {
    conn = await amqp.connect(fx.tb.broker.amqpUrl!.replace('amqp://', 'amqp://guest:guest@'));
    conn.on('error', () => undefined);
  });
  afterEach(async () => {
    await conn.close().catch(() => undefined);
  });

  /** basic.get until a message comes (publishes without confirms are asynchronous). */
  async function getOne(ch: amqp.Channel, queue: string, noAck = false): Promise<amqp.GetMessage> {
    for (let i = 0; i < 100; i++) {
      const m = await ch.get(queue, { noAck });
      if (m !== false) return m;
      await sleep(20);
    }
    throw new Error(`nothing in ${queue}`);
  }

  it('publishes with confirms (basic.ack, multiple) and consumes with acks', async () => {
    const ch = await conn.createConfirmChannel();
    const { queue } = await ch.assertQueue('msg-confirm', { durable: true });
    for (let i = 0; i < 100; i++) ch.sendToQueue(queue, Buffer.from(`m${i}`), { persistent: true });
    await ch.waitForConfirms();
    const got: string[] = [];
    await ch.prefetch(10);
    await ch.consume(queue, (m) => {
      got.push(m!.content.toString());
      ch.ack(m!);
    });
    await waitFor(() => got.length === 100, '100 deliveries');
    expect(got[0]).to.equal('m0');
    expect(got[99]).to.equal('m99');
  });

  it('returns an unroutable mandatory message (basic.return 312 NO_ROUTE)', async () => {
    const ch = await conn.createConfirmChannel();
    const returned = new Promise<amqp.Message>((resolve) => ch.once('return', resolve));
    ch.publish('amq.direct', 'nobody', Buffer.from('lost'), { mandatory: true, messageId: 'r1' });
    const m = await returned;
    expect(m.fields).to.include({
      replyCode: 312,
      replyText: 'NO_ROUTE',
      exchange: 'amq.direct',
      routingKey: 'nobody',
    });
    expect(m.properties.messageId).to.equal('r1');
    expect(m.content.toString()).to.equal('lost');
    await ch.waitForConfirms();
  });

  it('gets (get-ok with message count, get-empty), rejects and nacks with requeue: redelivered', async () => {
    const ch = await conn.createChannel();
    const { queue } = await ch.assertQueue('', { exclusive: true });
    expect(await ch.get(queue)).to.equal(false);
    ch.sendToQueue(queue, Buffer.from('a'));
    ch.sendToQueue(queue, Buffer.from('b'));
    await waitFor(() => true, 'tick');
    const a = await getOne(ch, queue);
    expect(a.content.toString()).to.equal('a');
    expect(a.fields.redelivered).to.equal(false);
    ch.reject(a, true);
    const again = await getOne(ch, queue);
    expect(again.content.toString()).to.equal('a');
    expect(again.fields.redelivered).to.equal(true);
    ch.nack(again, false, false); // dropped
    const b = await getOne(ch, queue);
    expect(b.content.toString()).to.equal('b');
    ch.ack(b);
    expect(await ch.get(queue)).to.equal(false);
  });

  it('recovers unacked deliveries (basic.recover): redelivered', async () => {
    const ch = await conn.createChannel();
    const { queue } = await ch.assertQueue('', { exclusive: true });
    ch.sendToQueue(queue, Buffer.from('x'));
    const seen: boolean[] = [];
    await ch.consume(queue, (m) => seen.push(m!.fields.redelivered));
    await waitFor(() => seen.length === 1, 'first delivery');
    await ch.recover();
    await waitFor(() => seen.length === 2, 'redelivery');
    expect(seen).to.deep.equal([false, true]);
  });

  it('basic.qos: global=false limits each consumer, global=true the channel (RabbitMQ)', async () => {
    const ch = await conn.createChannel();
    const { queue } = await ch.assertQueue('', { exclusive: true });
    for (let i = 0; i < 10; i++) ch.sendToQueue(queue, Buffer.from(String(i)));
    await ch.prefetch(3, true); // channel-wide
    await ch.prefetch(2, false); // per consumer
    const a: amqp.Message[] = [];
    const b: amqp.Message[] = [];
    await ch.consume(queue, (m) => a.push(m!));
    await ch.consume(queue, (m) => b.push(m!));
    await waitFor(() => a.length + b.length === 3, '3 deliveries');
    await sleep(100);
    expect(a.length + b.length).to.equal(3);
    expect(a.length).to.be.at.most(2);
    expect(b.length).to.be.at.most(2);
  });

  it('tx: publishes and acks wait for commit; rollback drops them (RabbitMQ semantics)', async () => {
    const ch = await conn.createChannel();
    const { queue } = await ch.assertQueue('msg-tx');
    ch.sendToQueue(queue, Buffer.from('to-ack'));
    const raw = await RawAmqp.open(fx.tb.broker.amqpUrl!);
    try {
      await raw.handshake();
      raw.method(M.TxSelect, 1);
      await raw.next(M.TxSelectOk);
      raw.publish(1, '', queue, Buffer.from('uncommitted'));
      await sleep(50);
      expect((await ch.checkQueue(queue)).messageCount).to.equal(1);
      raw.method(M.TxRollback, 1);
      await raw.next(M.TxRollbackOk);
      expect((await ch.checkQueue(queue)).messageCount).to.equal(1);
      raw.method(M.BasicGet, 1, { queue, noAck: false });
      const got = await raw.next(M.BasicGetOk);
      raw.publish(1, '', queue, Buffer.from('committed'));
      raw.method(M.BasicAck, 1, { deliveryTag: got.fields!['deliveryTag'], multiple: false });
      await sleep(50);
      expect((await ch.checkQueue(queue)).messageCount).to.equal(0); // one unacked, none published
      raw.method(M.TxCommit, 1);
      await raw.next(M.TxCommitOk);
      const left = await getOne(ch, queue, true);
      expect(left.content.toString()).to.equal('committed');
      expect(await ch.get(queue)).to.equal(false);
    } finally {
      raw.close();
    }
  });

  it('the broker cancels a consumer whose queue is deleted (basic.cancel, consumer_cancel_notify)', async () => {
    const ch = await conn.createChannel();
    const { queue } = await ch.assertQueue('msg-cancel-me');
    let cancelled = false;
    await ch.consume(queue, (m) => {
      if (m === null) cancelled = true;
    });
    const other = await conn.createChannel();
    await other.deleteQueue(queue);
    await waitFor(() => cancelled, 'consumer cancelled');
  });

  it('direct reply-to: amq.rabbitmq.reply-to round trip', async () => {
    const server = await conn.createChannel();
    await server.assertQueue('rpc-q', { exclusive: true });
    await server.consume('rpc-q', (m) => {
      server.sendToQueue(m!.properties.replyTo as string, Buffer.from(`re:${m!.content.toString()}`), {
        correlationId: m!.properties.correlationId as string,
      });
      server.ack(m!);
    });
    const client = await conn.createChannel();
    const reply = new Promise<amqp.Message>(
      (resolve) => void client.consume('amq.rabbitmq.reply-to', (m) => resolve(m!), { noAck: true }),
    );
    await sleep(20);
    client.sendToQueue('rpc-q', Buffer.from('ping'), { replyTo: 'amq.rabbitmq.reply-to', correlationId: 'c1' });
    const m = await reply;
    expect(m.content.toString()).to.equal('re:ping');
    expect(m.properties.correlationId).to.equal('c1');
  });

  it('maps every property and field-table type one to one', async () => {
    const ch = await conn.createChannel();
    const { queue } = await ch.assertQueue('', { exclusive: true });
    const headers = {
      str: 'text',
      int8: 7,
      int16: 3000,
      int32: 100_000,
      int64: 2 ** 40,
      dbl: 1.5,
      yes: true,
      nothing: null,
      bytes: Buffer.from([1, 2, 3]),
      list: [1, 'two', false],
      nested: { deep: { deeper: 'x' } },
      dec: { '!': 'decimal', value: { places: 2, digits: 12345 } },
      ts: { '!': 'timestamp', value: 1_700_000_000 },
    };
    const props = {
      contentType: 'application/json',
      contentEncoding: 'gzip',
      headers,
      persistent: true,
      priority: 3,
      correlationId: 'corr',
      replyTo: 'reply',
      expiration: '60000',
      messageId: 'mid',
      timestamp: 1_700_000_000,
      type: 'kind',
      userId: 'guest',
      appId: 'app',
    };
    ch.sendToQueue(queue, Buffer.from('{}'), props);
    const m = await getOne(ch, queue, true);
    const p = m.properties;
    expect(p).to.include({
      contentType: 'application/json',
      contentEncoding: 'gzip',
      deliveryMode: 2,
      priority: 3,
      correlationId: 'corr',
      replyTo: 'reply',
      expiration: '60000',
      messageId: 'mid',
      timestamp: 1_700_000_000,
      type: 'kind',
      userId: 'guest',
      appId: 'app',
    });
    const h = p.headers as Record<string, unknown>;
    expect(h['str']).to.equal('text');
    expect(h['int8']).to.equal(7);
    expect(h['int16']).to.equal(3000);
    expect(h['int32']).to.equal(100_000);
    expect(h['int64']).to.equal(2 ** 40);
    expect(h['dbl']).to.equal(1.5);
    expect(h['yes']).to.equal(true);
    expect(h['nothing']).to.equal(null);
    expect(Buffer.from(h['bytes'] as Uint8Array).equals(Buffer.from([1, 2, 3]))).to.equal(true);
    expect(h['list']).to.deep.equal([1, 'two', false]);
    expect(h['nested']).to.deep.equal({ deep: { deeper: 'x' } });
    expect(h['dec']).to.deep.equal({ '!': 'decimal', value: { places: 2, digits: 12345 } });
    expect(h['ts']).to.deep.equal({ '!': 'timestamp', value: 1_700_000_000 });
  });
});
