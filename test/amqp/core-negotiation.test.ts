import { expect } from 'chai';
import amqp from 'amqplib';
import { amqpCodec as codec } from '@switchyard/broker/internal';
import { useBroker } from '../helpers/broker.js';
import { api } from '../helpers/http.js';
import { readFileSync } from 'node:fs';
import { makeTmpDir } from '../helpers/tmp.js';
import { selfSigned } from '../helpers/self-signed.js';
import { RawAmqp, PROTOCOL_HEADER } from './core-raw.js';

/** The AMQP URL of the fixture's broker, with credentials and query. */
function amqpUrl(fx: ReturnType<typeof useBroker>, auth = 'guest:guest', query = ''): string {
  const u = fx.tb.broker.amqpUrl;
  if (u === undefined) throw new Error('AMQP listener is off');
  return u.replace('amqp://', `amqp://${auth}@`) + query;
}

describe('AMQP 0-9-1 negotiation (amqplib)', function () {
  const fx = useBroker({ noSync: true, loginThrottle: false });
  const conns: amqp.ChannelModel[] = [];
  afterEach(async () => {
    for (const c of conns.splice(0)) await c.close().catch(() => undefined);
  });

  it('is on by default at amqpUrl, and turned off by amqpPort: false', async () => {
    expect(fx.tb.broker.amqpUrl).to.match(/^amqp:\/\/127\.0\.0\.1:\d+$/);
    expect(fx.tb.broker.amqpsUrl).to.equal(undefined);
    await fx.stop();
    await fx.start({ amqpPort: false });
    expect(fx.tb.broker.amqpUrl).to.equal(undefined);
  });

  it("serves amqps:// on amqpsPort with the broker's TLS files", async () => {
    const tmp = await makeTmpDir('amqps');
    try {
      const tls = selfSigned(tmp.dir);
      await fx.stop();
      await fx.start({ tls, amqpsPort: 0 });
      const url = fx.tb.broker.amqpsUrl!;
      expect(url).to.match(/^amqps:\/\/127\.0\.0\.1:\d+$/);
      const c = await amqp.connect(url.replace('amqps://', 'amqps://guest:guest@'), {
        ca: [readFileSync(tls.certFile)],
      });
      conns.push(c);
      const ch = await c.createChannel();
      await ch.checkExchange('amq.direct');
    } finally {
      await tmp.remove();
    }
  });

  it('advertises the capabilities RabbitMQ clients check, and PLAIN and AMQPLAIN', async () => {
    const raw = await RawAmqp.open(fx.tb.broker.amqpUrl!);
    try {
      raw.send(PROTOCOL_HEADER);
      const start = await raw.next(codec.M.ConnectionStart);
      const f = start.fields!;
      expect(f['versionMajor']).to.equal(0);
      expect(f['versionMinor']).to.equal(9);
      expect((f['mechanisms'] as Buffer).toString()).to.equal('PLAIN AMQPLAIN');
      const props = f['serverProperties'] as Record<string, unknown>;
      expect(props['product']).to.equal('Switchyard');
      expect(props['capabilities']).to.include({
        publisher_confirms: true,
        exchange_exchange_bindings: true,
        'basic.nack': true,
        consumer_cancel_notify: true,
        'connection.blocked': true,
        authentication_failure_close: true,
        per_consumer_qos: true,
        direct_reply_to: true,
      });
    } finally {
      raw.close();
    }
  });

  it('logs in with PLAIN and with AMQPLAIN; the broker emits connection events with protocol amqp', async () => {
    const events: { protocol: string; user: string }[] = [];
    fx.tb.broker.on('connection', (c) => events.push(c));
    const plain = await amqp.connect(amqpUrl(fx));
    conns.push(plain);
    expect(events).to.have.length(1);
    expect(events[0]).to.include({ protocol: 'amqp', user: 'guest' });
    const amqplain = await amqp.connect(amqpUrl(fx, ''), {
      credentials: amqp.credentials.amqplain('guest', 'guest'),
    });
    conns.push(amqplain);
    const ch = await amqplain.createChannel();
    await ch.assertQueue('negotiation-q', { exclusive: true });
  });

  it('negotiates frame-max, channel-max and heartbeat as RabbitMQ does', async () => {
    const c = await amqp.connect(amqpUrl(fx, 'guest:guest', '?frameMax=8192&heartbeat=7&channelMax=10'));
    conns.push(c);
    const connection = (c as unknown as { connection: { frameMax: number; heartbeat: number; channelMax: number } })
      .connection;
    expect(connection.frameMax).to.equal(8192);
    expect(connection.heartbeat).to.equal(7);
    expect(connection.channelMax).to.equal(10);
    // A body longer than frame-max travels in several frames, both ways.
    const ch = await c.createChannel();
    const { queue } = await ch.assertQueue('', { exclusive: true });
    const body = Buffer.alloc(50_000, 7);
    ch.sendToQueue(queue, body);
    let got: amqp.GetMessage | false = false;
    for (let i = 0; i < 50 && got === false; i++) {
      got = await ch.get(queue, { noAck: true });
      if (got === false) await new Promise((r) => setTimeout(r, 20));
    }
    expect(got && got.content.equals(body)).to.equal(true);
  });

  it('refuses a wrong password with 403 and RabbitMQ’s text, an unknown vhost with 530', async () => {
    const err = await amqp.connect(amqpUrl(fx, 'guest:wrong')).then(
      () => undefined,
      (e: Error) => e,
    );
    expect(err?.message).to.match(/403 \(ACCESS-REFUSED\).*Login was refused using authentication mechanism PLAIN/);
    const raw = await RawAmqp.open(fx.tb.broker.amqpUrl!);
    try {
      await raw.login();
      raw.method(codec.M.ConnectionOpen, 0, { virtualHost: 'nowhere', capabilities: '', insist: false });
      const close = await raw.next(codec.M.ConnectionClose);
      expect(close.fields).to.include({ replyCode: 530, replyText: 'NOT_ALLOWED - vhost nowhere not found' });
    } finally {
      raw.close();
    }
  });

  it('answers a wrong protocol header with AMQP 0-9-1’s and closes (spec 4.2.2)', async () => {
    for (const bad of [Buffer.from('GET / HTTP/1.1\r\n\r\n'), Buffer.from('AMQP\x00\x00\x08\x00', 'latin1')]) {
      const raw = await RawAmqp.open(fx.tb.broker.amqpUrl!);
      raw.send(bad);
      await raw.untilClosed();
      expect(raw.raw.equals(PROTOCOL_HEADER)).to.equal(true);
    }
    // Everyone else is still served.
    const c = await amqp.connect(amqpUrl(fx));
    conns.push(c);
  });

  it('drops a peer silent for two heartbeat intervals', async function () {
    this.timeout(15_000);
    const raw = await RawAmqp.open(fx.tb.broker.amqpUrl!);
    await raw.handshake({ heartbeat: 1 });
    const t0 = Date.now();
    await raw.untilClosed(6_000);
    expect(Date.now() - t0).to.be.greaterThan(1_500);
    // It heartbeated while it waited for us.
  });

  it('heartbeats an idle client, which then stays connected', async function () {
    this.timeout(10_000);
    const c = await amqp.connect(amqpUrl(fx, 'guest:guest', '?heartbeat=1'));
    conns.push(c);
    let closed = false;
    c.on('close', () => (closed = true));
    await new Promise((r) => setTimeout(r, 3_500));
    expect(closed).to.equal(false);
    const ch = await c.createChannel();
    await ch.checkExchange('amq.direct');
  });

  it('connection.update-secret: a secret that logs the same user in is accepted; a wrong one closes (530)', async () => {
    const c = await amqp.connect(amqpUrl(fx));
    conns.push(c);
    c.on('error', () => undefined);
    const update = (secret: string): Promise<void> =>
      (c as unknown as { updateSecret(s: Buffer, reason: string): Promise<void> }).updateSecret(
        Buffer.from(secret),
        'rotation',
      );
    await update('guest');
    const ch = await c.createChannel();
    await ch.checkExchange('amq.direct');
    const closed = new Promise<Error>((resolve) => c.once('close', resolve));
    void update('wrong').catch(() => undefined); // never answered: the connection closes
    expect(String(await closed)).to.contain(
      '530 (NOT-ALLOWED) with message "NOT_ALLOWED - Update secret was refused for user \'guest\'"',
    );
  });

  it('lists AMQP connections in the management API (protocol "AMQP 0-9-1") and metrics (protocol="amqp")', async () => {
    const c = await amqp.connect(amqpUrl(fx));
    conns.push(c);
    const list = (await api(fx.tb, 'GET', '/api/connections')).body as { protocol?: string; user: string }[];
    expect(list.map((x) => x.protocol)).to.include('AMQP 0-9-1');
    const metrics = await (await fetch(`${fx.tb.broker.managementUrl}/metrics`)).text();
    expect(metrics).to.contain('switchyard_connections{protocol="amqp"} 1');
    expect(metrics).to.contain('switchyard_connections{protocol="ws"} 0');
  });
});
