import { expect } from 'chai';
import amqp from 'amqplib';
import { brokerInternals } from '@switchyard/broker/internal';
import { useBroker } from '../helpers/broker.js';
import { nextEvent, open, sleep, waitFor, type Message } from '../helpers/client.js';

describe('one broker, two protocols: SDK (WebSocket) <-> AMQP 0-9-1', function () {
  const fx = useBroker({ noSync: true });
  let amqpConn: amqp.ChannelModel;
  beforeEach(async () => {
    amqpConn = await amqp.connect(fx.tb.broker.amqpUrl!.replace('amqp://', 'amqp://guest:guest@'));
    amqpConn.on('error', () => undefined);
  });
  afterEach(async () => {
    await amqpConn.close().catch(() => undefined);
  });

  const props = {
    contentType: 'text/plain',
    contentEncoding: 'utf-8',
    headers: { a: 1, s: 'x', t: true, nested: { n: 2 }, list: [1, 'b'] },
    priority: 4,
    correlationId: 'corr',
    replyTo: 'back',
    expiration: '60000',
    messageId: 'mid',
    timestamp: 1_700_000_000,
    type: 'kind',
    userId: 'guest',
    appId: 'app',
  };

  it('AMQP publish -> SDK consume: properties, headers, persistent, redelivered', async () => {
    const { ch } = await open(fx.tb.url, fx.conns);
    await ch.assertQueue('x-amqp-to-sdk', { durable: true });
    const pub = await amqpConn.createConfirmChannel();
    pub.sendToQueue('x-amqp-to-sdk', Buffer.from('hello'), { ...props, persistent: true });
    await pub.waitForConfirms();
    const got: Message[] = [];
    const { consumerTag } = await ch.consume('x-amqp-to-sdk', (m) => void (m && got.push(m)));
    await waitFor(() => got.length === 1, 'delivery');
    const m = got[0]!;
    expect(Buffer.from(m.content).toString()).to.equal('hello');
    expect(m.fields.redelivered).to.equal(false);
    expect(m.properties).to.deep.include({ ...props, persistent: true });
    // Requeued: the next delivery says redelivered, on either protocol.
    await ch.cancel(consumerTag);
    ch.nack(m, false, true);
    const amqpCh = await amqpConn.createChannel();
    let again: amqp.GetMessage | false = false;
    for (let i = 0; i < 100 && again === false; i++) {
      again = await amqpCh.get('x-amqp-to-sdk', { noAck: true });
      if (again === false) await sleep(20);
    }
    expect(again && again.fields.redelivered).to.equal(true);
    expect(again && again.properties.deliveryMode).to.equal(2);
  });

  it('SDK publish -> AMQP consume: properties and headers one to one', async () => {
    const { ch } = await open(fx.tb.url, fx.conns);
    await ch.assertQueue('x-sdk-to-amqp');
    const amqpCh = await amqpConn.createChannel();
    const got: amqp.ConsumeMessage[] = [];
    await amqpCh.consume('x-sdk-to-amqp', (m) => void (m && got.push(m)), { noAck: true });
    await ch.sendToQueue('x-sdk-to-amqp', Buffer.from('hi'), { ...props, persistent: false });
    await waitFor(() => got.length === 1, 'delivery');
    const m = got[0]!;
    expect(m.content.toString()).to.equal('hi');
    expect(m.properties).to.include({
      contentType: 'text/plain',
      contentEncoding: 'utf-8',
      deliveryMode: 1,
      priority: 4,
      correlationId: 'corr',
      replyTo: 'back',
      expiration: '60000',
      messageId: 'mid',
      timestamp: 1_700_000_000,
      type: 'kind',
      userId: 'guest',
      appId: 'app',
    });
    expect(m.properties.headers).to.deep.equal(props.headers);
  });

  it('resource alarm: connection.blocked to an AMQP publisher, publishes held until unblocked', async () => {
    const tb = fx.tb;
    const pub = await amqpConn.createConfirmChannel();
    await pub.assertQueue('x-alarm');
    pub.sendToQueue('x-alarm', Buffer.from('before'));
    await pub.waitForConfirms();
    const blocked = nextEvent<string>(amqpConn, 'blocked');
    brokerInternals(tb.broker).alarms.setMemoryHighWatermark(2); // certainly exceeded
    expect(await blocked).to.match(/memory alarm/);
    let confirmed = false;
    pub.sendToQueue('x-alarm', Buffer.from('held'));
    const held = pub.waitForConfirms().then(() => (confirmed = true));
    await sleep(150);
    expect(confirmed).to.equal(false);
    const { ch } = await open(tb.url, fx.conns); // a connection that does not publish carries on
    expect((await ch.checkQueue('x-alarm')).messageCount).to.equal(1);
    const unblocked = nextEvent(amqpConn, 'unblocked');
    brokerInternals(tb.broker).alarms.setMemoryHighWatermark(0.99);
    await unblocked;
    await held;
    expect((await ch.checkQueue('x-alarm')).messageCount).to.equal(2);
  });

  it('permissions apply on the AMQP port as on the WebSocket one (403 ACCESS_REFUSED)', async () => {
    const rt = brokerInternals(fx.tb.broker);
    await rt.access.addUser('limited', 'secret-pass', []);
    rt.access.setPermissions('limited', '/', { configure: 'own-.*', write: 'own-.*', read: 'own-.*' });
    const c = await amqp.connect(fx.tb.broker.amqpUrl!.replace('amqp://', 'amqp://limited:secret-pass@'));
    try {
      const ch = await c.createChannel();
      const err = new Promise<Error>((resolve) => ch.once('error', resolve));
      await ch.assertQueue('other-q').catch(() => undefined);
      expect((await err).message).to.contain(
        `403 (ACCESS-REFUSED) with message "ACCESS_REFUSED - configure access to queue 'other-q' in vhost '/' refused for user 'limited'`,
      );
      const ok = await c.createChannel();
      await ok.assertQueue('own-q', { exclusive: true });
    } finally {
      await c.close().catch(() => undefined);
    }
  });
});
