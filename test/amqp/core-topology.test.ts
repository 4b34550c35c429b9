import { expect } from 'chai';
import amqp from 'amqplib';
import { amqpCodec } from '@switchyard/broker/internal';
import { useBroker } from '../helpers/broker.js';
import { sleep, waitFor } from '../helpers/client.js';
import { RawAmqp } from './core-raw.js';

const M = amqpCodec.M;

describe('AMQP 0-9-1 topology (amqplib)', function () {
  const fx = useBroker({ noSync: true });
  let conn: amqp.ChannelModel;
  let ch: amqp.Channel;
  beforeEach(async () => {
    conn = await amqp.connect(fx.tb.broker.amqpUrl!.replace('amqp://', 'amqp://guest:guest@'));
    conn.on('error', () => undefined);
    ch = await conn.createChannel();
  });
  afterEach(async () => {
    await conn.close().catch(() => undefined);
  });

  /** Routing keys of what arrives on `queue` (no-ack) within a short while. */
  async function drain(queue: string): Promise<string[]> {
    const got: string[] = [];
    await sleep(50);
    for (;;) {
      const m = await ch.get(queue, { noAck: true });
      if (m === false) return got;
      got.push(m.fields.routingKey);
    }
  }

  it('declares exchanges of every type and queues, binds, routes, unbinds', async () => {
    await ch.assertExchange('t-direct', 'direct', { durable: true });
    await ch.assertExchange('t-topic', 'topic');
    await ch.assertExchange('t-fanout', 'fanout');
    await ch.assertExchange('t-headers', 'headers');
    const q = await ch.assertQueue('t-q', { durable: true, arguments: { 'x-max-length': 100 } });
    expect(q).to.deep.equal({ queue: 't-q', messageCount: 0, consumerCount: 0 });
    await ch.bindQueue('t-q', 't-direct', 'd');
    await ch.bindQueue('t-q', 't-topic', 'a.*');
    await ch.bindQueue('t-q', 't-fanout', '');
    await ch.bindQueue('t-q', 't-headers', '', { 'x-match': 'all', kind: 'h' });
    ch.publish('t-direct', 'd', Buffer.from('1'));
    ch.publish('t-direct', 'other', Buffer.from('x'));
    ch.publish('t-topic', 'a.b', Buffer.from('2'));
    ch.publish('t-topic', 'b.a', Buffer.from('x'));
    ch.publish('t-fanout', 'f', Buffer.from('3'));
    ch.publish('t-headers', 'h', Buffer.from('4'), { headers: { kind: 'h' } });
    ch.publish('t-headers', 'nope', Buffer.from('x'), { headers: { kind: 'other' } });
    expect(await drain('t-q')).to.deep.equal(['d', 'a.b', 'f', 'h']);
    await ch.unbindQueue('t-q', 't-direct', 'd');
    ch.publish('t-direct', 'd', Buffer.from('gone'));
    expect(await drain('t-q')).to.deep.equal([]);
  });

  it('binds exchanges to exchanges (exchange.bind / unbind)', async () => {
    await ch.assertExchange('t-src', 'topic');
    await ch.assertExchange('t-dst', 'fanout');
    await ch.assertQueue('t-e2e');
    await ch.bindQueue('t-e2e', 't-dst', '');
    await ch.bindExchange('t-dst', 't-src', 'logs.#');
    ch.publish('t-src', 'logs.app', Buffer.from('1'));
    ch.publish('t-src', 'metrics.app', Buffer.from('x'));
    expect(await drain('t-e2e')).to.deep.equal(['logs.app']);
    await ch.unbindExchange('t-dst', 't-src', 'logs.#');
    ch.publish('t-src', 'logs.app', Buffer.from('x'));
    expect(await drain('t-e2e')).to.deep.equal([]);
  });

  it('passive declares (checkQueue, checkExchange) report without creating', async () => {
    await ch.assertQueue('t-passive');
    ch.sendToQueue('t-passive', Buffer.from('m'));
    await waitFor(() => true, 'tick');
    await sleep(30);
    expect(await ch.checkQueue('t-passive')).to.deep.equal({ queue: 't-passive', messageCount: 1, consumerCount: 0 });
    await ch.checkExchange('amq.topic');
    const closed = new Promise<Error>((resolve) => ch.once('error', resolve));
    await ch.checkExchange('t-nope').catch(() => undefined);
    expect((await closed).message).to.contain(`NOT_FOUND - no exchange 't-nope' in vhost '/'`);
  });

  it('purges and deletes (if-unused, if-empty) with message counts', async () => {
    await ch.assertQueue('t-purge');
    for (let i = 0; i < 3; i++) ch.sendToQueue('t-purge', Buffer.from(String(i)));
    await sleep(30);
    expect(await ch.purgeQueue('t-purge')).to.deep.equal({ messageCount: 3 });
    ch.sendToQueue('t-purge', Buffer.from('left'));
    await sleep(30);
    expect(await ch.deleteQueue('t-purge')).to.deep.equal({ messageCount: 1 });
    await ch.assertExchange('t-del', 'direct');
    await ch.deleteExchange('t-del', { ifUnused: true });
    const closed = new Promise<Error>((resolve) => ch.once('error', resolve));
    await ch.checkQueue('t-purge').catch(() => undefined);
    expect((await closed).message).to.contain('404');
  });

  it('server-named and exclusive queues; exclusive ones go with their connection', async () => {
    const { queue } = await ch.assertQueue('', { exclusive: true });
    expect(queue).to.match(/^amq\.gen-/);
    await conn.close();
    conn = await amqp.connect(fx.tb.broker.amqpUrl!.replace('amqp://', 'amqp://guest:guest@'));
    conn.on('error', () => undefined);
    ch = await conn.createChannel();
    const closed = new Promise<Error>((resolve) => ch.once('error', resolve));
    await ch.checkQueue(queue).catch(() => undefined);
    expect((await closed).message).to.contain('404');
  });

  it('nowait variants: no reply, and the effect happens', async () => {
    const raw = await RawAmqp.open(fx.tb.broker.amqpUrl!);
    try {
      await raw.handshake();
      raw.method(M.ExchangeDeclare, 1, { exchange: 't-nw-x', type: 'fanout', nowait: true, arguments: {} });
      raw.method(M.QueueDeclare, 1, { queue: 't-nw-q', nowait: true, arguments: {} });
      raw.method(M.QueueBind, 1, { queue: 't-nw-q', exchange: 't-nw-x', routingKey: '', nowait: true, arguments: {} });
      raw.method(M.BasicQos, 1, { prefetchSize: 0, prefetchCount: 5, global: false });
      await raw.next(M.BasicQosOk);
      // Only the qos-ok came back: the nowait declares and the bind answered nothing.
      expect(raw.frames.filter((f) => f.method !== undefined)).to.deep.equal([]);
      ch.publish('t-nw-x', '', Buffer.from('via nowait binding'));
      expect(await drain('t-nw-q')).to.deep.equal(['']);
    } finally {
      raw.close();
    }
  });

  it('channel.flow active=true is acknowledged; active=false is 540 as RabbitMQ', async () => {
    const raw = await RawAmqp.open(fx.tb.broker.amqpUrl!);
    try {
      await raw.handshake();
      raw.method(M.ChannelFlow, 1, { active: true });
      expect((await raw.next(M.ChannelFlowOk)).fields).to.deep.equal({ active: true });
      raw.method(M.ChannelFlow, 1, { active: false });
      const close = await raw.next(M.ConnectionClose);
      expect(close.fields).to.include({ replyCode: 540, replyText: 'NOT_IMPLEMENTED - active=false' });
    } finally {
      raw.close();
    }
  });
});
