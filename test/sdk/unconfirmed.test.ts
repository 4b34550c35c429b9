import { expect } from 'chai';
import { BrokerError, ChannelClosedError, PROTOCOL_VERSION } from '@switchyard/client';
import type { Frame } from '@switchyard/client/protocol';
import { managementGet, useBroker } from '../helpers/broker.js';
import { nextEvent, sleep, waitFor, type ConnectOptions } from '../helpers/client.js';
import type { ReturnMessage } from '@switchyard/client';
import { parseExposition, valueOf } from '../helpers/exposition.js';
import { RawClient, guestHello } from '../helpers/raw-client.js';
import { wiredConnect } from '../helpers/wire.js';

const settled = <T>(p: Promise<T>): Promise<'resolved' | 'rejected' | 'pending'> =>
  Promise.race([
    p.then(
      () => 'resolved' as const,
      () => 'rejected' as const,
    ),
    sleep(50).then(() => 'pending' as const),
  ]);

/** Polls the queue's depth until it is `n`. */
async function depthIs(ch: { checkQueue(q: string): Promise<{ messageCount: number }> }, queue: string, n: number) {
  const deadline = Date.now() + 5_000;
  while ((await ch.checkQueue(queue)).messageCount !== n) {
    if (Date.now() > deadline) throw new Error(`queue ${queue} never held ${n} messages`);
    await sleep(5);
  }
}

const confirmsOn = (frames: Frame[], channel: number): Frame[] =>
  frames.filter((f) => (f.type === 'publishAck' || f.type === 'publishNack') && f.channel === channel);

describe('SDK channels without publisher confirms (createChannel({ confirm: false }))', function () {
  this.timeout(20_000);
  const fx = useBroker({ noSync: true });

  async function wired(options: ConnectOptions = {}) {
    const w = await wiredConnect(fx.tb.url, options, true);
    fx.conns.push(w.conn);
    return w;
  }

  async function confirmCount(): Promise<number> {
    const res = await fetch(`${fx.tb.broker.managementUrl}/metrics`);
    return valueOf(parseExposition(await res.text()), 'switchyard_confirm_latency_seconds_count') ?? 0;
  }

  it('sends confirmSelect after channelOpen; the broker sends no confirms; publishes resolve and arrive', async () => {
    const { conn, wire } = await wired();
    const plain = await conn.createChannel({ confirm: false });
    const confirmed = await conn.createChannel();
    expect(plain.confirm).to.equal(false);
    expect(confirmed.confirm).to.equal(true);
    await plain.assertQueue('uc', { durable: true });
    const before = await confirmCount();
    await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        plain.sendToQueue('uc', Buffer.from(String(i)), { persistent: i % 2 === 0 }),
      ),
    );
    await plain.waitForConfirms(); // nothing to wait for: resolves once handed over
    await depthIs(plain, 'uc', 200);
    // The broker kept no confirm bookkeeping for those publishes (no end-of-turn durability wait).
    expect(await confirmCount()).to.equal(before);
    await confirmed.sendToQueue('uc', Buffer.from('confirmed'));
    expect(await confirmCount()).to.be.greaterThan(before);

    const sent = wire()
      .sent.filter((f) => f.channel === plain.number)
      .map((f) => f.type);
    expect(sent.slice(0, 2)).to.deep.equal(['channelOpen', 'confirmSelect']);
    expect(wire().sentOf('confirmSelect')).to.deep.equal([
      { type: 'confirmSelect', channel: plain.number, enabled: false },
    ]);
    expect(confirmsOn(wire().received, plain.number)).to.deep.equal([]);
    // The management API shows the channel's mode, as RabbitMQ's channel `confirm`.
    const views = await managementGet<{ number: number; confirm: boolean; unconfirmed: number }[]>(
      fx.tb,
      `/api/connections/${conn.connectionId}/channels`,
    );
    expect(views.find((v) => v.number === plain.number)).to.include({ confirm: false, unconfirmed: 0 });
    expect(views.find((v) => v.number === confirmed.number)).to.include({ confirm: true });
    expect(confirmsOn(wire().received, confirmed.number)).to.have.length(1);
    const got: string[] = [];
    for (let i = 0; i < 201; i++) {
      const m = await confirmed.get('uc', { noAck: true });
      if (m) got.push(m.content.toString());
    }
    expect(got).to.deep.equal([...Array.from({ length: 200 }, (_, i) => String(i)), 'confirmed']);
  });

  it('resolves without waiting for anything from the broker', async () => {
    const { conn, wire } = await wired();
    const ch = await conn.createChannel({ confirm: false });
    await ch.assertQueue('uc-hold', { durable: false });
    wire().hold(); // nothing from the broker reaches the client
    expect(await settled(ch.sendToQueue('uc-hold', Buffer.from('x')))).to.equal('resolved');
    wire().release();
    await depthIs(ch, 'uc-hold', 1);
  });

  it('keeps mandatory returns', async () => {
    const { conn } = await wired();
    const ch = await conn.createChannel({ confirm: false });
    const returned = nextEvent<ReturnMessage<Buffer>>(ch, 'return');
    await ch.publish('amq.direct', 'nobody', Buffer.from('back'), { mandatory: true });
    const msg = await returned;
    expect(msg.fields.replyCode).to.equal(312);
    expect(msg.content.toString()).to.equal('back');
  });

  it('a publish to a missing exchange closes the channel with 404: error event, later calls reject', async () => {
    const { conn } = await wired();
    const ch = await conn.createChannel({ confirm: false });
    const errored = nextEvent<Error>(ch, 'error');
    const closed = nextEvent(ch, 'close');
    await ch.publish('no-such-exchange', 'k', Buffer.from('x')); // handed over: resolves
    const err = await errored;
    await closed;
    expect(err).to.be.instanceOf(BrokerError);
    expect((err as BrokerError).code).to.equal(404);
    const later = await ch.publish('amq.direct', 'k', Buffer.from('y')).catch((e: unknown) => e);
    expect(later).to.be.instanceOf(ChannelClosedError);
    // The connection and its other channels carry on.
    const other = await conn.createChannel({ confirm: false });
    await other.assertQueue('uc-after', { durable: false });
  });

  it('waits while the socket is backed up, and sends once it drains', async () => {
    const { conn, wire } = await wired();
    const ch = await conn.createChannel({ confirm: false });
    await ch.assertQueue('uc-bp', { durable: false });
    wire().bufferedOverride = 64 * 1024 * 1024;
    const publishes = [1, 2, 3].map((i) => ch.sendToQueue('uc-bp', Buffer.from(String(i))));
    const declared = ch.assertQueue('uc-bp2', { durable: false }); // waits behind them, in order
    expect(await settled(publishes[0]!)).to.equal('pending');
    expect(wire().sentOf('publish')).to.have.length(0);
    expect(wire().sentOf('queueDeclare')).to.have.length(1);
    wire().bufferedOverride = undefined;
    await Promise.all(publishes);
    await declared;
    expect(
      wire()
        .sentOf('publish')
        .map((f) => Buffer.from(f.content).toString()),
    ).to.deep.equal(['1', '2', '3']);
    await depthIs(ch, 'uc-bp', 3);
  });

  it('holds publishes while the broker has the connection blocked', async () => {
    const { conn, wire } = await wired();
    const ch = await conn.createChannel({ confirm: false });
    await ch.assertQueue('uc-blk', { durable: false });
    const blocked = nextEvent(conn, 'blocked');
    wire().inject({ type: 'blocked', channel: 0, reason: 'low on memory' });
    await blocked;
    const p = ch.sendToQueue('uc-blk', Buffer.from('during'));
    expect(await settled(p)).to.equal('pending');
    expect(wire().sentOf('publish')).to.have.length(0);
    wire().inject({ type: 'unblocked', channel: 0 });
    await p;
    await depthIs(ch, 'uc-blk', 1);
  });

  it('recovery: re-opens without confirms; publishes made while down are sent after it, none twice', async () => {
    const fast: ConnectOptions = { reconnect: { initialDelayMs: 10, maxDelayMs: 100, jitter: 0 } };
    const { conn, wire, wires } = await wired(fast);
    const ch = await conn.createChannel({ confirm: false });
    await ch.assertQueue('uc-rec', { durable: true });
    await ch.sendToQueue('uc-rec', Buffer.from('before'));
    await depthIs(ch, 'uc-rec', 1);
    const reconnected = nextEvent(conn, 'reconnect');
    wire().kill();
    await waitFor(() => conn.state === 'reconnecting', 'reconnecting');
    const during = ch.sendToQueue('uc-rec', Buffer.from('during'));
    await reconnected;
    await during;
    await depthIs(ch, 'uc-rec', 2);
    expect(wires).to.have.length(2);
    const again = wire()
      .sent.filter((f) => f.channel === ch.number)
      .map((f) => f.type);
    expect(again.slice(0, 2)).to.deep.equal(['channelOpen', 'confirmSelect']);
    expect(
      wire()
        .sentOf('publish')
        .map((f) => Buffer.from(f.content).toString()),
    ).to.deep.equal(['during']);
    expect(confirmsOn(wire().received, ch.number)).to.deep.equal([]);
  });

  it('validates the option', async () => {
    const { conn } = await wired();
    expect(() => conn.createChannel({ confirm: 'no' as unknown as boolean })).to.throw(
      TypeError,
      'options.confirm must be a boolean',
    );
    const ch = await conn.createConfirmChannel({ confirm: false });
    expect(ch.confirm).to.equal(true);
  });
});

describe('broker: confirmSelect', function () {
  this.timeout(20_000);
  const fx = useBroker({ noSync: true });

  it('changing the confirm mode after the first publish is 406 PRECONDITION_FAILED (a channel error)', async () => {
    const c = await RawClient.connect(fx.tb.url);
    c.send({ type: 'channelOpen', channel: 1 });
    c.send({
      type: 'publish',
      channel: 1,
      exchange: 'amq.direct',
      routingKey: 'k',
      mandatory: false,
      properties: null,
      content: new Uint8Array(1),
    });
    c.send({ type: 'confirmSelect', channel: 1, enabled: false });
    const closed = await c.waitFor((f) => f.type === 'channelClose');
    expect(closed).to.include({ channel: 1, code: 406 });
    c.ws.close();
  });

  it('answers a version it does not speak (one above PROTOCOL_VERSION) with 540 NOT_IMPLEMENTED', async () => {
    const c = await RawClient.connect(fx.tb.url, false);
    c.send(guestHello(PROTOCOL_VERSION + 1));
    const close = await c.waitFor((f) => f.type === 'close');
    expect(close).to.include({ code: 540 });
    expect((close as { message: string }).message).to.contain(`speaks versions 1 to ${PROTOCOL_VERSION}`);
  });

  it('still accepts a version-1 client, whose channels are confirmed', async () => {
    const c = await RawClient.connect(fx.tb.url, false);
    c.send(guestHello(1));
    await c.waitFor((f) => f.type === 'helloOk');
    c.send({ type: 'channelOpen', channel: 1 });
    c.send({
      type: 'publish',
      channel: 1,
      exchange: 'amq.direct',
      routingKey: 'k',
      mandatory: false,
      properties: null,
      content: new Uint8Array(1),
    });
    expect(await c.waitFor((f) => f.type === 'publishAck')).to.include({ channel: 1, seqNo: 1 });
    c.ws.close();
  });
});
