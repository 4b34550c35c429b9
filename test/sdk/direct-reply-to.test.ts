import { expect } from 'chai';
import type { Socket } from 'node:net';
import { BrokerError, connect, type ConsumeMessage } from '@switchyard/client';
import { RestartableBroker, startBroker, useBroker } from '../helpers/broker.js';
import { closeAll, nextEvent, open, sleep, waitFor, type Channel, type Connection } from '../helpers/client.js';
import { RawClient } from '../helpers/raw-client.js';
import { brokerInternals } from '@switchyard/broker/internal';

type Msg = ConsumeMessage<Buffer>;
const REPLY_QUEUE = 'amq.rabbitmq.reply-to';
const REPLY_NAME = /^amq\.rabbitmq\.reply-to\.[A-Za-z0-9_-]{24}$/;

/** Resolves with the channel's error, or fails after `ms`. */
async function channelError(ch: Channel, ms = 5_000): Promise<BrokerError> {
  return (await nextEvent<Error>(ch, 'error', ms)) as BrokerError;
}

describe('SDK: direct reply-to (amq.rabbitmq.reply-to)', function () {
  this.timeout(20_000);
  const fx = useBroker();

  /** Makes `requester` consume replies and send a request; the request as the responder got it. */
  async function request(
    requester: Channel,
    responder: Channel,
    replies: Msg[],
  ): Promise<Msg & { consumerTag: string }> {
    const { consumerTag } = await requester.consume(REPLY_QUEUE, (m) => m && replies.push(m), { noAck: true });
    await responder.assertQueue('rpc', { durable: false });
    await requester.sendToQueue('rpc', 'ping', { replyTo: REPLY_QUEUE, correlationId: 'c1' });
    const req = await responder.get('rpc', { noAck: true });
    if (req === false) throw new Error('no request');
    return Object.assign(req as Msg, { consumerTag });
  }

  it('routes a reply published to the rewritten replyTo straight to the requester channel', async () => {
    const { ch: requester } = await open(fx.tb.url, fx.conns);
    const { ch: responder } = await open(fx.tb.url, fx.conns);
    const replies: Msg[] = [];
    const req = await request(requester, responder, replies);
    const replyTo = req.properties.replyTo!;
    expect(replyTo).to.match(REPLY_NAME);
    expect(req.properties.correlationId).to.equal('c1');
    await responder.sendToQueue(replyTo, 'pong', { correlationId: 'c1' });
    await waitFor(() => replies.length === 1, 'the reply');
    const [reply] = replies;
    expect(reply!.content.toString()).to.equal('pong');
    expect(reply!.properties.correlationId).to.equal('c1');
    expect(reply!.fields).to.include({ exchange: '', routingKey: replyTo, redelivered: false });
    // A second request on the same channel carries the same name.
    await requester.sendToQueue('rpc', 'again', { replyTo: REPLY_QUEUE });
    const req2 = await responder.get('rpc', { noAck: true });
    expect(req2 && req2.properties.replyTo).to.equal(replyTo);
  });

  it('refuses an acknowledging reply consumer and a second one on the channel (406, as RabbitMQ)', async () => {
    const { conn, ch } = await open(fx.tb.url, fx.conns);
    const closed = channelError(ch);
    await ch
      .consume(REPLY_QUEUE, () => undefined)
      .then(
        () => expect.fail('consumed in ack mode'),
        (err: BrokerError) => expect(err.code).to.equal(406),
      );
    expect((await closed).message).to.match(/reply consumer cannot acknowledge/);
    const ch2 = await conn.createChannel();
    await ch2.consume(REPLY_QUEUE, () => undefined, { noAck: true });
    await ch2
      .consume(REPLY_QUEUE, () => undefined, { noAck: true })
      .then(
        () => expect.fail('second reply consumer'),
        (err: BrokerError) => {
          expect(err.code).to.equal(406);
          expect(err.message).to.match(/reply consumer already set/);
        },
      );
  });

  it('refuses a request with replyTo amq.rabbitmq.reply-to from a channel without a reply consumer', async () => {
    const { conn, ch } = await open(fx.tb.url, fx.conns);
    const other = await conn.createChannel();
    await other.consume(REPLY_QUEUE, () => undefined, { noAck: true }); // another channel's consumer does not count
    await ch.assertQueue('rpc', { durable: false });
    const err = await ch.sendToQueue('rpc', 'x', { replyTo: REPLY_QUEUE }).then(
      () => expect.fail('published'),
      (e: BrokerError) => e,
    );
    expect(err.code).to.equal(406);
    expect(err.message).to.match(/fast reply consumer does not exist/);
    const check = await conn.createChannel();
    expect((await check.checkQueue('rpc')).messageCount).to.equal(0);
  });

  it('tells a responder whether the requester is still there (declare), drops or returns a reply once it is gone', async () => {
    const { conn: reqConn, ch: requester } = await open(fx.tb.url, fx.conns);
    const { ch: responder } = await open(fx.tb.url, fx.conns);
    const replies: Msg[] = [];
    const req = await request(requester, responder, replies);
    const replyTo = req.properties.replyTo!;
    expect(await responder.checkQueue(replyTo)).to.deep.equal({ queue: replyTo, messageCount: 0, consumerCount: 1 });
    expect(await responder.assertQueue(REPLY_QUEUE)).to.deep.equal({
      queue: REPLY_QUEUE,
      messageCount: 0,
      consumerCount: 1,
    });
    await reqConn.close();
    const returned: string[] = [];
    responder.on('return', (m) => returned.push(m.fields.routingKey));
    await responder.sendToQueue(replyTo, 'lost'); // resolves: confirmed, dropped
    await responder.publish('', replyTo, 'lost too', { mandatory: true });
    expect(returned).to.deep.equal([replyTo]);
    const err = await responder.checkQueue(replyTo).then(
      () => expect.fail('still there'),
      (e: BrokerError) => e,
    );
    expect(err.code).to.equal(404);
  });

  it("cannot be used to receive another channel's replies", async () => {
    const { ch: victim } = await open(fx.tb.url, fx.conns);
    const { ch: responder } = await open(fx.tb.url, fx.conns);
    const victimReplies: Msg[] = [];
    const req = await request(victim, responder, victimReplies);
    const replyTo = req.properties.replyTo!;
    const attackerConn = await connect(fx.tb.url);
    fx.conns.push(attackerConn);
    // The reply name is not a queue: consuming from it is 404.
    const a1 = await attackerConn.createChannel();
    const err = await a1
      .consume(replyTo, () => undefined, { noAck: true })
      .then(
        () => expect.fail('consumed'),
        (e: BrokerError) => e,
      );
    expect(err.code).to.equal(404);
    // Its own reply consumer gets its own, different name; the victim's replies stay the victim's.
    const a2 = await attackerConn.createChannel();
    const stolen: Msg[] = [];
    await a2.consume(REPLY_QUEUE, (m) => m && stolen.push(m), { noAck: true });
    await a2.sendToQueue('rpc', 'mine', { replyTo: REPLY_QUEUE });
    const own = await responder.get('rpc', { noAck: true });
    expect(own && own.properties.replyTo)
      .to.match(REPLY_NAME)
      .and.not.equal(replyTo);
    await responder.sendToQueue(replyTo, 'for the victim');
    await waitFor(() => victimReplies.length === 1, "the victim's reply");
    await sleep(20);
    expect(stolen).to.deep.equal([]);
  });

  it('does not deliver a reply published in another vhost', async () => {
    brokerInternals(fx.tb.broker).access.addVhost('other');
    brokerInternals(fx.tb.broker).access.setPermissions('guest', 'other', { configure: '.*', write: '.*', read: '.*' });
    const { ch: requester } = await open(fx.tb.url, fx.conns);
    const { ch: responder } = await open(fx.tb.url, fx.conns);
    const replies: Msg[] = [];
    const replyTo = (await request(requester, responder, replies)).properties.replyTo!;
    const elsewhere = await connect(fx.tb.url, { vhost: 'other' });
    fx.conns.push(elsewhere);
    const foreign = await elsewhere.createChannel();
    const returned = nextEvent(foreign, 'return');
    await foreign.publish('', replyTo, 'from another vhost', { mandatory: true });
    await returned;
    await responder.sendToQueue(replyTo, 'same vhost');
    await waitFor(() => replies.length === 1, 'the reply');
    expect(replies.map((m) => m.content.toString())).to.deep.equal(['same vhost']);
  });

  it('stops routing replies once the reply consumer is cancelled', async () => {
    const { ch: requester } = await open(fx.tb.url, fx.conns);
    const { ch: responder } = await open(fx.tb.url, fx.conns);
    const replies: Msg[] = [];
    const req = await request(requester, responder, replies);
    await requester.cancel(req.consumerTag);
    const returned = nextEvent(responder, 'return');
    await responder.publish('', req.properties.replyTo!, 'late', { mandatory: true });
    await returned;
    // The channel may consume replies again, under a new name.
    await requester.consume(REPLY_QUEUE, (m) => m && replies.push(m), { noAck: true });
    await requester.sendToQueue('rpc', 'x', { replyTo: REPLY_QUEUE });
    const again = await responder.get('rpc', { noAck: true });
    expect(again && again.properties.replyTo)
      .to.match(REPLY_NAME)
      .and.not.equal(req.properties.replyTo);
  });

  it('drops (returns, if mandatory) replies for a requester whose socket is backed up, instead of buffering them', async () => {
    const tb = await startBroker({ noSync: true, socketHighWaterBytes: 256 * 1024 });
    const conns: Connection[] = [];
    const raw = await RawClient.connect(tb.url);
    try {
      raw.send({ type: 'channelOpen', channel: 1 });
      await raw.waitFor((f) => f.type === 'channelOpenOk');
      raw.send({
        type: 'consume',
        channel: 1,
        rid: 1,
        queue: REPLY_QUEUE,
        consumerTag: 'replies',
        noAck: true,
        exclusive: false,
        priority: 0,
        arguments: {},
      });
      await raw.waitFor((f) => f.type === 'consumeOk');
      const { ch: responder } = await open(tb.url, conns);
      await responder.assertQueue('rpc', { durable: false });
      raw.send({
        type: 'publish',
        channel: 1,
        exchange: '',
        routingKey: 'rpc',
        mandatory: false,
        properties: { replyTo: REPLY_QUEUE },
        content: new Uint8Array(1),
      });
      await waitFor(() => raw.frames.some((f) => f.type === 'publishAck'), "the request's confirm");
      const req = await responder.get('rpc', { noAck: true });
      if (req === false) throw new Error('no request');
      // The requester stops reading: the broker's writes pile up until its high-water mark.
      (raw.ws as unknown as { _socket: Socket })._socket.pause();
      let returned = 0;
      responder.on('return', () => returned++);
      const N = 20_000;
      const body = Buffer.alloc(2048, 7);
      const pending: Promise<void>[] = [];
      for (let i = 0; i < N; i++) {
        pending.push(responder.publish('', req.properties.replyTo!, body, { mandatory: true }));
        if (pending.length === 1000) await Promise.all(pending.splice(0));
      }
      await Promise.all(pending);
      // 40 MB of replies; the broker handed the requester only what its socket could take.
      expect(returned).to.be.greaterThan(N / 2);
      (raw.ws as unknown as { _socket: Socket })._socket.resume();
      await waitFor(
        () => raw.frames.filter((f) => f.type === 'deliver').length === N - returned,
        'the replies that were sent',
        20_000,
      );
    } finally {
      raw.ws.terminate();
      await closeAll(conns);
      await tb.stop();
    }
  });

  it('keeps working across an automatic reconnect: the reply consumer is re-subscribed under a new name', async () => {
    const rb = await RestartableBroker.start();
    const conns: Connection[] = [];
    try {
      const requesterConn = await connect(rb.url, { reconnect: { initialDelayMs: 20, maxDelayMs: 100 } });
      conns.push(requesterConn);
      const requester = await requesterConn.createChannel();
      const replies: string[] = [];
      await requester.consume(REPLY_QUEUE, (m) => m && replies.push(m.content.toString()), { noAck: true });
      const call = async (body: string): Promise<string> => {
        const { ch: responder } = await open(rb.url, conns);
        await responder.assertQueue('rpc', { durable: false });
        await requester.sendToQueue('rpc', body, { replyTo: REPLY_QUEUE });
        const req = await responder.get('rpc', { noAck: true });
        if (req === false) throw new Error('no request');
        await responder.sendToQueue(req.properties.replyTo!, `re: ${body}`);
        return req.properties.replyTo!;
      };
      const before = await call('one');
      await waitFor(() => replies.length === 1, 'the first reply');
      const reconnected = nextEvent(requesterConn, 'reconnect', 10_000);
      await rb.stop();
      await rb.start();
      await reconnected;
      const after = await call('two');
      await waitFor(() => replies.length === 2, 'the reply after the reconnect');
      expect(replies).to.deep.equal(['re: one', 're: two']);
      expect(after).to.match(REPLY_NAME).and.not.equal(before);
    } finally {
      await closeAll(conns);
      await rb.dispose();
    }
  });
});
