import { expect } from 'chai';
import WebSocket from 'ws';
import { connect } from '@switchyard/client';
import { managementGet, useBroker } from '../helpers/broker.js';
import { nextEvent, open, waitFor } from '../helpers/client.js';

describe('limits and browser safety', () => {
  const fx = useBroker({ noSync: true }, { start: 'test' });

  it('refuses connections beyond maxConnections with 530 naming the limit', async () => {
    const tb = await fx.start({ maxConnections: 2 });
    await open(tb.url, fx.conns);
    await open(tb.url, fx.conns);
    const err = await connect(tb.url).catch((e: unknown) => e);
    expect(err).to.include({ code: 530, name: 'NOT_ALLOWED' });
    expect((err as Error).message).to.match(/connection limit reached: the broker allows 2 connections \(maxConnections\)/);
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
    expect((err as Error).message).to.match(/consumer limit reached: 1 consumers on channel \d+ \(maxConsumersPerChannel\)/);
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
      expect(tb.broker.alarms.state.disk).to.equal(true);
      const { conn, ch } = await open(tb.url, fx.conns);
      await ch.assertQueue('d', { durable: false });
      const blocked = nextEvent<string>(conn, 'blocked');
      void ch.sendToQueue('d', Buffer.from('x')).catch(() => undefined);
      expect(await blocked).to.match(/disk alarm/);
      const unblocked = nextEvent(conn, 'unblocked');
      tb.broker.alarms.setDiskFreeLimit(1);
      await unblocked;
      expect(tb.broker.alarms.state.disk).to.equal(false);
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
      tb.broker.alarms.setMemoryHighWatermark(2); // 2 bytes: certainly exceeded
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
      tb.broker.alarms.setMemoryHighWatermark(0.99);
      await unblocked;
      await held;
      await waitFor(() => got.length === 2, 'held message delivered after unblock');
      expect(got).to.deep.equal(['before', 'held']);
    });
  });
});
