import { expect } from 'chai';
import { PROTOCOL_VERSION, encodeFrame, type Frame } from '@switchyard/client/protocol';
import { useBroker } from '../helpers/broker.js';
import { nextEvent, open, text } from '../helpers/client.js';
import { RawClient } from '../helpers/raw-client.js';

describe('bad input', () => {
  const raws: RawClient[] = [];
  afterEach(() => {
    // registered first: runs before the broker stops
    for (const r of raws.splice(0)) r.ws.terminate();
  });
  const fx = useBroker({ noSync: true, maxMessageBytes: 64 * 1024 });

  /** A bystander connection with a confirmed message, checked after each bad input. */
  async function bystander(): Promise<() => Promise<void>> {
    const { ch } = await open(fx.tb.url, fx.conns);
    await ch.assertQueue('safe', { durable: true });
    await ch.sendToQueue('safe', Buffer.from('confirmed'), { persistent: true });
    return async () => {
      const m = await ch.get('safe', { noAck: true });
      expect(text(m)).to.equal('confirmed');
    };
  }

  async function expectConnectionClose(raw: RawClient, code: number, pattern: RegExp): Promise<void> {
    const close = (await raw.waitFor((f) => f.type === 'close')) as Extract<Frame, { type: 'close' }>;
    expect(close.code).to.equal(code);
    expect(close.message).to.match(pattern);
    raw.send({ type: 'closeOk', channel: 0 });
    await raw.waitClosed();
  }

  it('closes the connection with 501 on a malformed frame; others are unaffected', async () => {
    const check = await bystander();
    const raw = await RawClient.connect(fx.tb.url);
    raws.push(raw);
    raw.ws.send(Buffer.from([0, 0, 0, 50, 1, 2]));
    await expectConnectionClose(raw, 501, /FRAME_ERROR - truncated frame/);
    await check();
  });

  it('closes the connection with 501 on an unknown frame type', async () => {
    const check = await bystander();
    const raw = await RawClient.connect(fx.tb.url);
    raws.push(raw);
    const bytes = encodeFrame({ type: 'heartbeat', channel: 0 });
    bytes[4] = 0x7f;
    raw.ws.send(bytes);
    await expectConnectionClose(raw, 501, /unknown frame type 0x7f/);
    await check();
  });

  it('closes the connection with 501 on a frame over the limit', async () => {
    const check = await bystander();
    const raw = await RawClient.connect(fx.tb.url);
    raws.push(raw);
    const big = new Uint8Array(64 * 1024 + 64 * 1024 + 10);
    raw.send({ type: 'channelOpen', channel: 1 });
    raw.send({
      type: 'publish',
      channel: 1,
      exchange: '',
      routingKey: 'safe',
      mandatory: false,
      properties: null,
      content: big,
    });
    await expectConnectionClose(raw, 501, /exceeds the limit/);
    await check();
  });

  it('closes only the channel with 406 when a publish exceeds the message size limit', async () => {
    const check = await bystander();
    const raw = await RawClient.connect(fx.tb.url);
    raws.push(raw);
    raw.send({ type: 'channelOpen', channel: 1 }, { type: 'channelOpen', channel: 2 });
    raw.send({
      type: 'publish',
      channel: 1,
      exchange: '',
      routingKey: 'safe',
      mandatory: false,
      properties: null,
      content: new Uint8Array(64 * 1024 + 1),
    });
    const close = (await raw.waitFor((f) => f.type === 'channelClose')) as Extract<Frame, { type: 'channelClose' }>;
    expect(close).to.include({ channel: 1, code: 406 });
    expect(close.message).to.match(/message size 65537 is larger than configured max size 65536/);
    raw.send({
      type: 'queueDeclare',
      channel: 2,
      rid: 1,
      queue: 'safe',
      passive: true,
      durable: true,
      exclusive: false,
      autoDelete: false,
      arguments: {},
    });
    await raw.waitFor((f) => f.type === 'queueDeclareOk' && f.channel === 2);
    await check();
  });

  it('the SDK refuses an oversize body before sending it (311), and the channel stays usable', async () => {
    const { ch } = await open(fx.tb.url, fx.conns);
    await ch.assertQueue('big', { durable: false });
    const err = await ch.sendToQueue('big', Buffer.alloc(64 * 1024 + 1)).catch((e: unknown) => e);
    expect(err).to.include({ code: 311, name: 'CONTENT_TOO_LARGE' });
    await ch.sendToQueue('big', Buffer.alloc(10));
    expect((await ch.checkQueue('big')).messageCount).to.equal(1);
  });

  it('closes the connection with 503 on frames before hello', async () => {
    const raw = await RawClient.connect(fx.tb.url, false);
    raws.push(raw);
    raw.send({ type: 'channelOpen', channel: 1 });
    await expectConnectionClose(raw, 503, /before hello/);
  });

  it('refuses bad credentials with 403', async () => {
    const raw = await RawClient.connect(fx.tb.url, false);
    raws.push(raw);
    raw.send({
      type: 'hello',
      channel: 0,
      version: PROTOCOL_VERSION,
      username: 'guest',
      password: 'nope',
      vhost: '/',
      heartbeatMs: 0,
      clientProperties: {},
    });
    await expectConnectionClose(raw, 403, /ACCESS_REFUSED - login refused/);
  });

  it('closes the connection with 504 for a frame on a channel that is not open', async () => {
    const raw = await RawClient.connect(fx.tb.url);
    raws.push(raw);
    raw.send({ type: 'ack', channel: 9, deliveryTag: 1, multiple: false });
    await expectConnectionClose(raw, 504, /channel 9 is not open/);
  });

  it('publish to a missing exchange: 404 closes that channel only, its publish rejects', async () => {
    const check = await bystander();
    const { conn, ch } = await open(fx.tb.url, fx.conns);
    const other = await conn.createChannel();
    const closed = nextEvent(ch, 'close');
    const err = await ch.publish('no-such-exchange', 'k', Buffer.from('x')).catch((e: unknown) => e);
    expect(err).to.include({ code: 404, name: 'NOT_FOUND' });
    expect((err as Error).message).to.match(/no exchange 'no-such-exchange' in vhost '\/'/);
    await closed;
    await other.assertQueue('still-works', { durable: false });
    await check();
  });

  it('redeclare with different properties: 406 naming the property', async () => {
    const check = await bystander();
    const { conn, ch } = await open(fx.tb.url, fx.conns);
    await ch.assertQueue('q406', { durable: true });
    const err = await ch.assertQueue('q406', { durable: false }).catch((e: unknown) => e);
    expect(err).to.include({ code: 406, name: 'PRECONDITION_FAILED' });
    expect((err as Error).message).to.match(/inequivalent arg 'durable' for queue 'q406'/);
    const ch2 = await conn.createChannel();
    await ch2.assertExchange('x406', 'direct', { durable: true });
    const err2 = await ch2.assertExchange('x406', 'topic', { durable: true }).catch((e: unknown) => e);
    expect(err2).to.include({ code: 406 });
    expect((err2 as Error).message).to.match(/inequivalent arg 'type' for exchange 'x406'/);
    await check();
  });

  it('ack of an unknown delivery tag: 406 closes the channel', async () => {
    const check = await bystander();
    const raw = await RawClient.connect(fx.tb.url);
    raws.push(raw);
    raw.send({ type: 'channelOpen', channel: 1 });
    await raw.waitFor((f) => f.type === 'channelOpenOk');
    raw.send({ type: 'ack', channel: 1, deliveryTag: 42, multiple: false });
    const close = (await raw.waitFor((f) => f.type === 'channelClose')) as Extract<Frame, { type: 'channelClose' }>;
    expect(close.code).to.equal(406);
    expect(close.message).to.match(/unknown delivery tag 42/);
    raw.send({ type: 'channelCloseOk', channel: 1 }, { type: 'channelOpen', channel: 2 });
    await raw.waitFor((f) => f.type === 'channelOpenOk' && f.channel === 2);
    expect(raw.closed).to.equal(undefined);
    await check();
  });

  it('a field of the wrong type: 502 naming frame and field', async () => {
    const raw = await RawClient.connect(fx.tb.url);
    raws.push(raw);
    raw.send({ type: 'channelOpen', channel: 1 });
    raw.send({
      type: 'queueDeclare',
      channel: 1,
      rid: 1,
      queue: 5 as unknown as string,
      passive: false,
      durable: true,
      exclusive: false,
      autoDelete: false,
      arguments: {},
    });
    await expectConnectionClose(raw, 502, /queueDeclare frame field "queue": expected a string/);
  });
});
