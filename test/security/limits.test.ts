import { expect } from 'chai';
import { createConnection, type Socket } from 'node:net';
import WebSocket from 'ws';
import { connect } from '@switchyard/client';
import type { Frame } from '@switchyard/client/protocol';
import { RawClient, guestHello } from '../helpers/raw-client.js';
import { managementGet, useBroker } from '../helpers/broker.js';
import { nextEvent, open, waitFor } from '../helpers/client.js';
import { brokerInternals } from '@switchyard/broker/internal';

describe('limits and browser safety', () => {
  const fx = useBroker({ noSync: true }, { start: 'test' });

  it('refuses connections beyond maxConnections with 530 naming the limit', async () => {
    const tb = await fx.start({ maxConnections: 2 });
    await open(tb.url, fx.conns);
    await open(tb.url, fx.conns);
    const err = await connect(tb.url).catch((e: unknown) => e);
    expect(err).to.include({ code: 530, name: 'NOT_ALLOWED' });
    expect((err as Error).message).to.match(
      /connection limit reached: the broker allows 2 connections \(maxConnections\)/,
    );
  });

  it('refuses channels beyond maxChannelsPerConnection (530, connection closed)', async () => {
    const tb = await fx.start({ maxChannelsPerConnection: 2 });
    const { conn } = await open(tb.url, fx.conns);
    await conn.createChannel();
    const closed = nextEvent(conn, 'close');
    const err = await conn.createChannel().catch((e: unknown) => e);
    expect(err).to.include({ code: 530 });
    expect((err as Error).message).to.match(/channel limit reached: 2 channels .*maxChannelsPerConnection/);
    await closed;
    await open(tb.url, fx.conns); // the broker carries on
  });

  it('refuses consumers beyond maxConsumersPerChannel (406, channel closed)', async () => {
    const tb = await fx.start({ maxConsumersPerChannel: 1 });
    const { ch } = await open(tb.url, fx.conns);
    await ch.assertQueue('c', { durable: false });
    await ch.consume('c', () => undefined);
    const err = await ch.consume('c', () => undefined).catch((e: unknown) => e);
    expect(err).to.include({ code: 406 });
    expect((err as Error).message).to.match(
      /consumer limit reached: 1 consumers on channel \d+ \(maxConsumersPerChannel\)/,
    );
  });

  it('refuses queues beyond maxQueues (406) but still allows redeclaring existing ones', async () => {
    const tb = await fx.start({ maxQueues: 2 });
    const { conn, ch } = await open(tb.url, fx.conns);
    await ch.assertQueue('a', { durable: false });
    await ch.assertQueue('b', { durable: false });
    await ch.assertQueue('a', { durable: false });
    const err = await ch.assertQueue('c', { durable: false }).catch((e: unknown) => e);
    expect(err).to.include({ code: 406 });
    expect((err as Error).message).to.match(/queue limit reached: vhost '\/' has 2 queues \(maxQueues\)/);
    const ch2 = await conn.createChannel();
    await ch2.checkQueue('a');
  });

  describe('allowed origins', () => {
    const tryOrigin = (url: string, origin: string | undefined): Promise<number> =>
      new Promise((resolve) => {
        const ws = new WebSocket(url, origin === undefined ? {} : { origin });
        ws.once('open', () => {
          ws.close();
          resolve(101);
        });
        ws.once('unexpected-response', (_req, res) => {
          resolve(res.statusCode ?? 0);
          ws.terminate();
        });
        ws.once('error', () => undefined);
      });

    it('by default allows loopback pages and non-browser clients, refuses other origins with 403', async () => {
      const tb = await fx.start();
      expect(await tryOrigin(tb.url, undefined)).to.equal(101);
      expect(await tryOrigin(tb.url, 'http://localhost:3000')).to.equal(101);
      expect(await tryOrigin(tb.url, 'http://127.0.0.1:8080')).to.equal(101);
      expect(await tryOrigin(tb.url, 'https://evil.example.com')).to.equal(403);
      expect(await tryOrigin(tb.url, 'http://192.168.1.20')).to.equal(403);
    });

    it('allows exactly the configured origins', async () => {
      const tb = await fx.start({ allowedOrigins: ['https://app.example.com'] });
      expect(await tryOrigin(tb.url, 'https://app.example.com')).to.equal(101);
      expect(await tryOrigin(tb.url, 'http://localhost:3000')).to.equal(403);
    });
  });

  describe('resource alarms', () => {
    it('raises the disk alarm when free space is below the limit: the first publish blocks', async () => {
      const tb = await fx.start({ diskFreeLimitBytes: Number.MAX_SAFE_INTEGER });
      expect(brokerInternals(tb.broker).alarms.state.disk).to.equal(true);
      const { conn, ch } = await open(tb.url, fx.conns);
      await ch.assertQueue('d', { durable: false });
      const blocked = nextEvent<string>(conn, 'blocked');
      void ch.sendToQueue('d', Buffer.from('x')).catch(() => undefined);
      expect(await blocked).to.match(/disk alarm/);
      const unblocked = nextEvent(conn, 'unblocked');
      brokerInternals(tb.broker).alarms.setDiskFreeLimit(1);
      await unblocked;
      expect(brokerInternals(tb.broker).alarms.state.disk).to.equal(false);
    });

    it('blocks publishing connections while the memory alarm is raised; consumers keep draining', async () => {
      const tb = await fx.start({ alarmCheckMs: 20 });
      const pub = await open(tb.url, fx.conns);
      const sub = await open(tb.url, fx.conns);
      await pub.ch.assertQueue('alarm', { durable: false });
      await pub.ch.sendToQueue('alarm', Buffer.from('before'));
      const got: string[] = [];
      await sub.ch.consume('alarm', (m) => void (m && got.push(Buffer.from(m.content).toString())), { noAck: true });
      await waitFor(() => got.length === 1, 'first delivery');

      // A connection that has published is blocked as soon as the alarm is raised.
      const blocked = nextEvent<string>(pub.conn, 'blocked');
      const watcher = await open(tb.url, fx.conns); // never publishes: never blocked
      let watcherBlocked = false;
      watcher.conn.on('blocked', () => (watcherBlocked = true));
      brokerInternals(tb.broker).alarms.setMemoryHighWatermark(2); // 2 bytes: certainly exceeded
      expect(await blocked).to.match(/memory alarm/);
      const overview = await managementGet<{ alarms: { memory: boolean } }>(tb, '/api/overview');
      expect(overview.alarms.memory).to.equal(true);
      const metrics = await (await fetch(`${tb.broker.managementUrl}/metrics`)).text();
      expect(metrics).to.contain('switchyard_alarm{resource="memory"} 1');
      // publishes made while blocked wait; consumers keep receiving
      let confirmed = false;
      const held = pub.ch.sendToQueue('alarm', Buffer.from('held')).then(() => (confirmed = true));
      await watcher.ch.checkQueue('alarm'); // a non-publishing connection still works
      await new Promise((r) => setTimeout(r, 150));
      expect(confirmed).to.equal(false);
      expect(watcherBlocked).to.equal(false);
      expect(got).to.deep.equal(['before']);

      const unblocked = nextEvent(pub.conn, 'unblocked');
      brokerInternals(tb.broker).alarms.setMemoryHighWatermark(0.99);
      await unblocked;
      await held;
      await waitFor(() => got.length === 2, 'held message delivered after unblock');
      expect(got).to.deep.equal(['before', 'held']);
    });
  });

  describe('sockets that have not logged in (issue 11, items 3 and 7)', () => {
    const hello: Frame = guestHello();

    /** A raw TCP socket that sends `text` and then nothing; resolves when the broker closes it. */
    function halfOpen(port: number, text: string): { socket: Socket; closed: Promise<void> } {
      const socket = createConnection({ host: '127.0.0.1', port });
      socket.on('error', () => undefined);
      socket.on('connect', () => socket.write(text));
      socket.resume();
      return { socket, closed: new Promise((resolve) => socket.once('close', () => resolve())) };
    }

    it('times out half-open HTTP requests and upgrades on both ports, and idle sockets that send nothing', async () => {
      const tb = await fx.start({ handshakeTimeoutMs: 300 });
      const client = Number(new URL(tb.url).port);
      const management = Number(new URL(tb.broker.managementUrl!).port);
      const partial = 'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n'; // headers never end
      const sockets = [client, management].flatMap((port) => [
        halfOpen(port, partial),
        halfOpen(port, partial),
        halfOpen(port, ''),
      ]);
      const started = Date.now();
      const all = Promise.all(sockets.map((s) => s.closed));
      const outcome = await Promise.race([
        all.then(() => 'closed'),
        new Promise((r) => setTimeout(() => r('still open'), 5_000)),
      ]);
      for (const s of sockets) s.socket.destroy();
      expect(outcome).to.equal('closed');
      expect(Date.now() - started).to.be.at.least(250);
      // a completed WebSocket connection is not subject to it
      const { ch } = await open(tb.url, fx.conns);
      await new Promise((r) => setTimeout(r, 700));
      await ch.assertQueue('alive', { durable: false });
    });

    it('sockets that never send hello do not count against maxConnections', async () => {
      const tb = await fx.start({ maxConnections: 2 });
      const silent = await Promise.all([1, 2, 3].map(() => RawClient.connect(tb.url, false)));
      await open(tb.url, fx.conns);
      await open(tb.url, fx.conns);
      const err = await connect(tb.url).catch((e: unknown) => e);
      expect(err).to.include({ code: 530 });
      for (const r of silent) r.ws.terminate();
    });

    it('bounds sockets waiting to log in (maxPendingConnections); they are closed by the handshake timeout', async () => {
      const tb = await fx.start({ maxPendingConnections: 2, handshakeTimeoutMs: 500 });
      const silent = await Promise.all([1, 2].map(() => RawClient.connect(tb.url, false)));
      const third = await RawClient.connect(tb.url, false).then(
        async (r) => (await r.waitClosed(1_000), 'closed'),
        () => 'refused',
      );
      expect(['closed', 'refused']).to.include(third);
      for (const r of silent) await r.waitClosed(3_000); // handshake timeout
      await open(tb.url, fx.conns); // room again
    });

    it('closes a connection that pipelines too many frames behind its hello (506), and stays up', async () => {
      const tb = await fx.start();
      const raw = await RawClient.connect(tb.url, false);
      const flood: Frame[] = [
        hello,
        ...Array.from({ length: 20_000 }, (): Frame => ({ type: 'heartbeat', channel: 0 })),
      ];
      raw.send(...flood);
      const close = await raw.waitFor((f) => f.type === 'close', 5_000);
      expect(close).to.include({ code: 506 });
      expect((close as { message: string }).message).to.match(/frames sent ahead of helloOk/);
      await open(tb.url, fx.conns);
    });

    it('a publish in the first WebSocket message of a connection waits for the memory alarm to clear', async () => {
      const tb = await fx.start();
      const setup = await open(tb.url, fx.conns);
      await setup.ch.assertQueue('first', { durable: false });
      brokerInternals(tb.broker).alarms.setMemoryHighWatermark(2); // raised
      const raw = await RawClient.connect(tb.url, false);
      raw.send(
        hello,
        { type: 'channelOpen', channel: 1 },
        {
          type: 'publish',
          channel: 1,
          exchange: '',
          routingKey: 'first',
          mandatory: false,
          properties: {},
          content: Buffer.from('x'),
        },
      );
      await raw.waitFor((f) => f.type === 'blocked');
      await new Promise((r) => setTimeout(r, 200));
      expect((await setup.ch.checkQueue('first')).messageCount).to.equal(0);
      brokerInternals(tb.broker).alarms.setMemoryHighWatermark(0.99);
      await raw.waitFor((f) => f.type === 'unblocked');
      let count = 0;
      for (let i = 0; i < 100 && count === 0; i++) {
        count = (await setup.ch.checkQueue('first')).messageCount;
        await new Promise((r) => setTimeout(r, 20));
      }
      expect(count, 'the held publish is routed once the alarm clears').to.equal(1);
      raw.ws.terminate();
    });
  });
});
