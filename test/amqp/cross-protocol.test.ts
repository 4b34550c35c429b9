import { expect } from 'chai';
import type { ConsumeMessage, GetMessage } from 'amqplib';
import { connect } from '@switchyard/client';
import { type Connection, type Message, waitFor } from '../helpers/client.js';
import { api } from '../helpers/http.js';
import { AMQP_TEST_URL, uniq, useAmqpBroker } from '../helpers/amqp.js';

// One broker, two protocols (spec/amqp.md): what amqplib publishes on the AMQP port our SDK
// consumes on the WebSocket port and the other way round, with the properties, headers and
// the redelivered flag mapped one to one. Switchyard only.
describe('AMQP 0-9-1 and the WebSocket protocol on one broker', function () {
  this.timeout(20_000);
  before(function () {
    if (AMQP_TEST_URL !== undefined) this.skip();
  });
  const fx = useAmqpBroker();
  const sdkConns: Connection[] = [];
  afterEach(async () => {
    await Promise.all(sdkConns.splice(0).map((c) => c.close().catch(() => undefined)));
  });

  async function sdkChannel(): Promise<Awaited<ReturnType<Connection['createChannel']>>> {
    const conn = await connect(fx.tb!.url);
    sdkConns.push(conn);
    return conn.createChannel();
  }

  const props = {
    contentType: 'application/json',
    contentEncoding: 'identity',
    priority: 4,
    correlationId: 'corr-9',
    replyTo: 'replies',
    expiration: '60000',
    messageId: 'mid-9',
    timestamp: 1700000123,
    type: 'thing.happened',
    userId: 'guest',
    appId: 'cross-test',
  };
  const headers = { str: 'grüße', int: 42, neg: -7, float: 2.5, bool: false, nested: { a: ['x', 1] }, nul: null };

  it('amqplib -> SDK: body, every property, headers, persistence, redelivered', async () => {
    const q = uniq('a2s');
    const ach = await fx.confirmChannel();
    await ach.assertQueue(q, { durable: true });
    ach.sendToQueue(q, Buffer.from('{"from":"amqp"}'), { ...props, headers, deliveryMode: 2 });
    await ach.waitForConfirms();

    const sch = await sdkChannel();
    const got: Message[] = [];
    await sch.consume(q, (m) => void (m && got.push(m)));
    await waitFor(() => got.length === 1, 'the SDK delivery');
    const m = got[0]!;
    expect(Buffer.from(m.content).toString()).to.equal('{"from":"amqp"}');
    expect(m.fields.redelivered).to.equal(false);
    expect(m.properties).to.deep.include({ ...props, persistent: true });
    expect(m.properties.headers).to.deep.equal(headers);
    m.nack({ requeue: true });
    await waitFor(() => got.length === 2, 'the SDK redelivery');
    expect(got[1]!.fields.redelivered).to.equal(true);
    await sch.close();

    // requeued by the SDK consumer: amqplib sees it redelivered, with the same properties
    const back = (await ach.get(q, { noAck: true })) as GetMessage;
    expect(back.fields.redelivered).to.equal(true);
    expect(back.properties).to.deep.include({ ...props, deliveryMode: 2 });
    expect(back.properties.headers).to.deep.equal(headers);
    await ach.deleteQueue(q);
  });

  it('SDK -> amqplib: body, every property, headers, persistence, redelivered', async () => {
    const q = uniq('s2a');
    const sch = await sdkChannel();
    await sch.assertQueue(q, { durable: false });
    await sch.sendToQueue(q, Buffer.from('from-sdk'), { ...props, headers, persistent: false });
    await sch.sendToQueue(q, Buffer.from([0, 255, 1]), { persistent: true });

    const ach = await fx.channel();
    const got: ConsumeMessage[] = [];
    await ach.consume(q, (m) => void (m && got.push(m)));
    await waitFor(() => got.length === 2, 'two amqplib deliveries');
    const [m, bin] = got as [ConsumeMessage, ConsumeMessage];
    expect(m.content.toString()).to.equal('from-sdk');
    expect(m.fields).to.deep.include({ redelivered: false, exchange: '', routingKey: q });
    expect(m.properties).to.deep.include(props);
    expect(m.properties.deliveryMode).to.not.equal(2);
    expect(m.properties.headers).to.deep.equal(headers);
    expect([...bin.content]).to.deep.equal([0, 255, 1]);
    expect(bin.properties.deliveryMode).to.equal(2);
    ach.nack(m, false, true);
    await waitFor(() => got.length === 3, 'the amqplib redelivery');
    expect(got[2]!.fields.redelivered).to.equal(true);
    await ach.deleteQueue(q);
  });

  it('an exchange declared over one protocol routes publishes from the other', async () => {
    const ex = uniq('ex');
    const q = uniq('q');
    const ach = await fx.channel();
    await ach.assertExchange(ex, 'topic', { durable: false });
    await ach.assertQueue(q, { durable: false });
    await ach.bindQueue(q, ex, 'a.*');
    const sch = await sdkChannel();
    await sch.publish(ex, 'a.b', Buffer.from('routed'));
    await sch.publish(ex, 'b.a', Buffer.from('dropped'));
    await sch.checkQueue(q);
    const m = (await ach.get(q, { noAck: true })) as GetMessage;
    expect([m.content.toString(), m.fields.exchange, m.fields.routingKey]).to.deep.equal(['routed', ex, 'a.b']);
    expect(await ach.get(q)).to.equal(false);
    await ach.deleteQueue(q);
    await ach.deleteExchange(ex);
  });

  it('the management connection list and /metrics label connections with their protocol', async () => {
    const aconn = await fx.connect();
    await aconn.createChannel();
    await sdkChannel();
    const list = (await api<{ protocol?: string }[]>(fx.tb!, 'GET', '/api/connections')).body;
    // RabbitMQ's management API says 'AMQP 0-9-1' for its connections
    const protocols = [...new Set(list.map((c) => c.protocol))].sort();
    expect(protocols).to.have.length(2);
    expect(protocols.some((p) => /^(amqp|AMQP 0-9-1)$/.test(p ?? ''))).to.equal(true, String(protocols));
    expect(protocols.some((p) => /^(ws|WebSocket)$/.test(p ?? ''))).to.equal(true, String(protocols));
    const metrics = (await api<string>(fx.tb!, 'GET', '/metrics')).body;
    expect(metrics).to.match(/protocol="amqp"/);
    expect(metrics).to.match(/protocol="ws"/);
  });
});
