import { expect } from 'chai';
import {
  ConnectionClosedError,
  PublishBufferFullError,
  connect,
  type ConsumeMessage,
  type ReconnectingInfo,
} from '@switchyard/client';
import {
  createNodeTransport,
  nodePlatform,
  openConnection,
  type Platform,
  type Transport,
  type TransportHandlers,
} from '@switchyard/client/internal';
import { decodeAll, encodeFrame } from '@switchyard/client/protocol';
import { RestartableBroker } from '../helpers/broker.js';
import { nextEvent, sleep, waitFor, type Connection, type ConnectOptions } from '../helpers/client.js';
import { wiredConnect } from '../helpers/wire.js';

type Msg = ConsumeMessage<Buffer>;
const text = (m: { content: Buffer } | false | null): string => (m ? m.content.toString() : String(m));
/** Fast, deterministic reconnects for tests. */
const FAST: ConnectOptions = { reconnect: { initialDelayMs: 10, maxDelayMs: 100, jitter: 0 }, connectTimeoutMs: 2_000 };

describe('SDK automatic recovery', function () {
  this.timeout(20_000);
  let rb: RestartableBroker;
  const conns: Connection[] = [];

  beforeEach(async () => {
    rb = await RestartableBroker.start();
  });
  afterEach(async () => {
    await Promise.all(conns.splice(0).map((c) => c.close().catch(() => undefined)));
    await rb.dispose();
  });

  async function wired(options: ConnectOptions = FAST, record = false) {
    const w = await wiredConnect(rb.url, options, record);
    conns.push(w.conn);
    return w;
  }

  async function plain(): Promise<Connection> {
    const conn = await connect(rb.url);
    conns.push(conn);
    return conn;
  }

  describe('reconnecting', () => {
    it('reconnects after the socket drops: reconnecting (attempt 1, the cause), then reconnect', async () => {
      const { conn, wire, wires } = await wired();
      const firstId = conn.connectionId;
      const events: string[] = [];
      const infos: ReconnectingInfo[] = [];
      conn.on('reconnecting', (info) => {
        events.push(`reconnecting:${conn.state}`);
        infos.push(info);
      });
      conn.on('reconnect', () => events.push(`reconnect:${conn.state}`));
      conn.on('error', () => events.push('error'));
      conn.on('close', () => events.push('close'));
      wire().kill();
      await nextEvent(conn, 'reconnect');
      expect(events).to.deep.equal(['reconnecting:reconnecting', 'reconnect:open']);
      expect(infos[0]!.attempt).to.equal(1);
      expect(infos[0]!.delayMs).to.equal(10);
      expect(infos[0]!.error).to.be.instanceOf(ConnectionClosedError);
      expect(wires.length).to.equal(2);
      expect(conn.connectionId).to.not.equal(firstId);
      const ch = await conn.createChannel();
      await ch.assertQueue('after', { durable: false });
    });

    it('retries with exponential backoff while the broker is down, and recovers when it is back', async () => {
      const { conn } = await wired({ reconnect: { initialDelayMs: 20, maxDelayMs: 80, multiplier: 2, jitter: 0 } });
      const delays: number[] = [];
      conn.on('reconnecting', (info) => delays.push(info.delayMs));
      await rb.stop();
      await waitFor(() => delays.length >= 5, 'five attempts');
      expect(delays.slice(0, 5)).to.deep.equal([20, 40, 80, 80, 80]);
      await rb.start();
      await nextEvent(conn, 'reconnect');
      expect(conn.state).to.equal('open');
    });

    it('applies jitter: each delay is within [delay * (1 - jitter), delay]', async () => {
      const { conn } = await wired({ reconnect: { initialDelayMs: 40, maxDelayMs: 40, jitter: 0.5 } });
      const delays: number[] = [];
      conn.on('reconnecting', (info) => delays.push(info.delayMs));
      await rb.stop();
      await waitFor(() => delays.length >= 6, 'six attempts');
      expect(delays.every((d) => d >= 20 && d <= 40)).to.equal(true, String(delays));
      expect(new Set(delays).size).to.be.greaterThan(1);
    });

    it('gives up after maxAttempts: recovery-failed, error, close; pending publishes reject', async () => {
      const { conn } = await wired({ reconnect: { initialDelayMs: 5, maxAttempts: 3, jitter: 0 } });
      const ch = await conn.createChannel();
      await ch.assertQueue('gone', { durable: false });
      const events: string[] = [];
      conn.on('reconnecting', (i) => events.push(`reconnecting ${i.attempt}`));
      conn.on('recovery-failed', () => events.push('recovery-failed'));
      conn.on('error', () => events.push('error'));
      ch.on('close', () => events.push('channel close'));
      const closed = nextEvent<Error | undefined>(conn, 'close');
      await rb.stop();
      const pending = ch.sendToQueue('gone', Buffer.from('x'));
      const err = await closed;
      // (The broker still accepts connections for a moment while it shuts down, so a fast
      // first attempt may briefly succeed and start the count again: compare the tail.)
      expect(events.slice(-6)).to.deep.equal([
        'reconnecting 1',
        'reconnecting 2',
        'reconnecting 3',
        'recovery-failed',
        'error',
        'channel close',
      ]);
      expect(err).to.be.instanceOf(ConnectionClosedError);
      expect(err!.message).to.match(/could not recover the connection .* \(3 attempts\)/);
      const rejection = await pending.then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(rejection).to.be.instanceOf(Error);
      expect(conn.state).to.equal('closed');
    });

    it('conn.close() while reconnecting stops recovery and rejects buffered publishes', async () => {
      const { conn } = await wired();
      const ch = await conn.createChannel();
      let reconnects = 0;
      conn.on('reconnect', () => reconnects++);
      await rb.stop();
      await waitFor(() => conn.state === 'reconnecting', 'reconnecting');
      const buffered = ch.sendToQueue('q', Buffer.from('never'));
      expect(conn.bufferedPublishes).to.equal(1);
      await conn.close();
      expect(conn.state).to.equal('closed');
      expect(ch.state).to.equal('closed');
      const rejection = await buffered.then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(rejection).to.be.instanceOf(ConnectionClosedError);
      expect(conn.bufferedPublishes).to.equal(0);
      await rb.start();
      await sleep(150);
      expect(reconnects).to.equal(0);
    });

    it('is off by default: a dropped connection emits error and close, as before', async () => {
      const { conn, wire } = await wired({});
      const events: string[] = [];
      conn.on('error', () => events.push('error'));
      conn.on('reconnecting', () => events.push('reconnecting'));
      const closed = nextEvent(conn, 'close');
      wire().kill();
      await closed;
      expect(events).to.deep.equal(['error']);
      expect(conn.state).to.equal('closed');
    });

    it('gives up at once when the broker refuses the reconnect (403 ACCESS_REFUSED is not retried)', async () => {
      let sessions = 0;
      const platform: Platform<Buffer> = {
        ...nodePlatform,
        // The first session is real; later ones meet a broker that refuses the credentials.
        createTransport: (url, handlers) =>
          ++sessions === 1 ? createNodeTransport(url, handlers) : refusingTransport(handlers),
      };
      const conn = await openConnection(platform, rb.url, FAST);
      conns.push(conn);
      const failed = nextEvent<Error>(conn, 'recovery-failed');
      conn.on('error', () => undefined);
      await rb.stop();
      const err = await failed;
      expect((err.cause as Error & { code: number }).code).to.equal(403);
      expect(sessions).to.equal(2);
      expect(conn.state).to.equal('closed');
    });
    it('abandons a reconnect whose broker stops answering after the handshake (bounded by connectTimeoutMs)', async () => {
      let sessions = 0;
      const platform: Platform<Buffer> = {
        ...nodePlatform,
        // Session 2 meets a broker that completes the handshake and then says nothing more.
        createTransport: (url, handlers) =>
          ++sessions === 2 ? silentTransport(handlers) : createNodeTransport(url, handlers),
      };
      const conn = await openConnection(platform, rb.url, { ...FAST, connectTimeoutMs: 1_000 });
      conns.push(conn);
      const ch = await conn.createChannel();
      await ch.assertQueue('stalled', { durable: false });
      const errors: string[] = [];
      conn.on('reconnecting', (i) => errors.push(i.error.name));
      await rb.stop();
      await rb.start();
      await nextEvent(conn, 'reconnect', 5_000);
      expect(sessions).to.be.at.least(3);
      expect(errors).to.include('TimeoutError');
      await ch.sendToQueue('stalled', Buffer.from('ok'));
    });
  });

  describe('topology', () => {
    it('re-declares the exchanges, queues and bindings it declared after a broker restart', async () => {
      const { conn } = await wired();
      const ch = await conn.createChannel();
      // Transient entities: a broker restart forgets them; recovery must bring them back.
      await ch.assertExchange('src', 'topic', { durable: false });
      await ch.assertExchange('dst', 'fanout', { durable: false });
      await ch.bindExchange('dst', 'src', 'orders.#');
      await ch.assertQueue('orders', { durable: false, arguments: { 'x-max-length': 100 } });
      await ch.bindQueue('orders', 'dst', '');
      const got: string[] = [];
      await ch.consume('orders', (m) => {
        got.push(text(m));
        m!.ack();
      });
      await ch.publish('src', 'orders.eu', Buffer.from('before'));
      await waitFor(() => got.length === 1, 'before');
      await rb.stop();
      await rb.start();
      await nextEvent(conn, 'reconnect');
      // Published by another connection: only the re-declared topology can route it.
      const other = await (await plain()).createChannel();
      await other.publish('src', 'orders.us', Buffer.from('after'));
      await waitFor(() => got.length === 2, 'after');
      expect(got).to.deep.equal(['before', 'after']);
      expect((await other.checkQueue('orders')).consumerCount).to.equal(1);
    });

    it('re-declares an exclusive queue (deleted with the old connection) and keeps its consumer', async () => {
      const { conn, wire } = await wired();
      const ch = await conn.createChannel();
      await ch.assertExchange('events', 'fanout', { durable: false });
      await ch.assertQueue('mine', { exclusive: true, durable: false });
      await ch.bindQueue('mine', 'events', '');
      const got: string[] = [];
      await ch.consume('mine', (m) => void got.push(text(m)), { noAck: true });
      wire().kill();
      await nextEvent(conn, 'reconnect');
      const other = await (await plain()).createChannel();
      await other.publish('events', '', Buffer.from('hello'));
      await waitFor(() => got.length === 1, 'delivery to the re-declared exclusive queue');
    });

    it('forgets what the application deleted or unbound', async () => {
      const { conn } = await wired();
      const ch = await conn.createChannel();
      await ch.assertExchange('tmp-x', 'direct', { durable: false });
      await ch.assertQueue('tmp-q', { durable: false });
      await ch.assertQueue('keep-q', { durable: false });
      await ch.bindQueue('keep-q', 'tmp-x', 'a');
      await ch.bindQueue('keep-q', 'tmp-x', 'b');
      await ch.unbindQueue('keep-q', 'tmp-x', 'b');
      await ch.deleteQueue('tmp-q');
      await rb.stop();
      await rb.start();
      await nextEvent(conn, 'reconnect');
      const other = await (await plain()).createChannel();
      await other.publish('tmp-x', 'a', Buffer.from('a'));
      await other.publish('tmp-x', 'b', Buffer.from('b'));
      expect(text(await other.get('keep-q', { noAck: true }))).to.equal('a');
      expect(await other.get('keep-q', { noAck: true })).to.equal(false);
      const probe = await (await plain()).createChannel();
      const missing = await probe.checkQueue('tmp-q').then(
        () => undefined,
        (e: Error & { code?: number }) => e.code,
      );
      expect(missing).to.equal(404);
    });

    it('re-declares a server-named queue under a new name and maps the old name to it', async () => {
      const { conn } = await wired();
      const ch = await conn.createChannel();
      await ch.assertExchange('logs', 'fanout', { durable: false });
      const { queue } = await ch.assertQueue('', { exclusive: true });
      expect(queue).to.match(/^amq\.gen-/);
      await ch.bindQueue(queue, 'logs', '');
      const got: string[] = [];
      await ch.consume(queue, (m) => void got.push(text(m)), { noAck: true });
      const renamed = nextEvent<{ from: string; to: string }>(conn, 'queue-renamed');
      await rb.stop();
      await rb.start();
      const { from, to } = await renamed;
      await nextEvent(conn, 'reconnect');
      expect(from).to.equal(queue);
      expect(to)
        .to.match(/^amq\.gen-/)
        .and.not.equal(queue);
      const other = await (await plain()).createChannel();
      await other.publish('logs', '', Buffer.from('via binding'));
      // The old name still works on this connection: publish, check, bind.
      await ch.sendToQueue(queue, Buffer.from('via old name'));
      await waitFor(() => got.length === 2, 'two deliveries');
      expect(got).to.have.members(['via binding', 'via old name']);
      const info = await ch.checkQueue(queue);
      expect(info.queue).to.equal(to);
      expect(info.consumerCount).to.equal(1);
      await ch.assertExchange('logs2', 'fanout', { durable: false });
      await ch.bindQueue(queue, 'logs2', '');
      await other.publish('logs2', '', Buffer.from('bound by old name'));
      await waitFor(() => got.length === 3, 'three deliveries');
    });

    it('translates replyTo so RPC replies reach the re-declared reply queue', async () => {
      const { conn } = await wired();
      const ch = await conn.createChannel();
      const { queue: replyQueue } = await ch.assertQueue('', { exclusive: true });
      const replies: string[] = [];
      await ch.consume(replyQueue, (m) => void replies.push(`${m!.properties.correlationId}:${text(m)}`), {
        noAck: true,
      });
      // The server side, on another connection.
      const server = await (await plain()).createChannel();
      await server.assertQueue('rpc', { durable: false });
      await server.consume('rpc', async (m) => {
        await server.sendToQueue(m!.properties.replyTo!, Buffer.from(text(m).toUpperCase()), {
          correlationId: m!.properties.correlationId,
        });
        m!.ack();
      });
      await ch.sendToQueue('rpc', Buffer.from('one'), { replyTo: replyQueue, correlationId: '1' });
      await waitFor(() => replies.length === 1, 'first reply');
      await rb.stop();
      await rb.start();
      await nextEvent(conn, 'reconnect');
      // The server's connection was closed by the restart: start it again.
      const server2 = await (await plain()).createChannel();
      await server2.assertQueue('rpc', { durable: false });
      await server2.consume('rpc', async (m) => {
        await server2.sendToQueue(m!.properties.replyTo!, Buffer.from(text(m).toUpperCase()), {
          correlationId: m!.properties.correlationId,
        });
        m!.ack();
      });
      await ch.sendToQueue('rpc', Buffer.from('two'), { replyTo: replyQueue, correlationId: '2' });
      await waitFor(() => replies.length === 2, 'second reply');
      expect(replies).to.deep.equal(['1:ONE', '2:TWO']);
    });

    it('reports a re-declaration the broker refuses (recovery-error), forgets it, and recovers the rest', async () => {
      const { conn } = await wired({ reconnect: { initialDelayMs: 400, jitter: 0 } });
      const ch = await conn.createChannel();
      await ch.assertQueue('clash', { durable: false, arguments: { 'x-max-length': 5 } });
      await ch.assertQueue('fine', { durable: false });
      const refused: string[] = [];
      conn.on('recovery-error', (err, what) => refused.push(`${what}: ${(err as Error & { code: number }).code}`));
      await rb.stop();
      await rb.start();
      // Before the client is back, someone declares 'clash' differently.
      const other = await (await plain()).createChannel();
      await other.assertQueue('clash', { durable: false, arguments: { 'x-max-length': 7 } });
      await nextEvent(conn, 'reconnect');
      expect(refused).to.deep.equal(["queue 'clash': 406"]);
      expect((await other.checkQueue('fine')).queue).to.equal('fine');
      expect(ch.state).to.equal('open');
      await ch.sendToQueue('fine', Buffer.from('ok'));
    });
  });

  describe('channels and consumers', () => {
    it('re-opens channels with the same number and prefetch, and consumers with the same tags', async () => {
      const { conn, wire } = await wired();
      const ch = await conn.createChannel();
      await ch.assertQueue('work', { durable: false });
      await ch.prefetch(2);
      const held: Msg[] = [];
      const given = await ch.consume('work', (m) => void held.push(m!), { consumerTag: 'my-tag' });
      const generated = await ch.consume('work', (m) => void held.push(m!));
      expect(given.consumerTag).to.equal('my-tag');
      expect(generated.consumerTag).to.match(/^amq\.ctag-/);
      wire().kill();
      await nextEvent(conn, 'reconnect');
      const other = await (await plain()).createChannel();
      await Promise.all(Array.from({ length: 10 }, (_, i) => other.sendToQueue('work', Buffer.from(String(i)))));
      await waitFor(() => held.length === 4, 'two per consumer (prefetch 2)');
      await sleep(100);
      expect(held.length).to.equal(4, 'prefetch 2 per consumer was restored');
      expect(new Set(held.map((m) => m.fields.consumerTag))).to.deep.equal(new Set(['my-tag', generated.consumerTag]));
      const cancelled = await ch.cancel('my-tag');
      expect(cancelled.consumerTag).to.equal('my-tag');
      expect((await other.checkQueue('work')).consumerCount).to.equal(1);
    });

    it('messages delivered before the drop are redelivered; acking the old ones is a harmless no-op', async () => {
      const { conn, wire } = await wired();
      const ch = await conn.createChannel();
      await ch.assertQueue('redo', { durable: false });
      await ch.sendToQueue('redo', Buffer.from('job'));
      const got: Msg[] = [];
      await ch.consume('redo', (m) => void got.push(m!));
      await waitFor(() => got.length === 1, 'first delivery');
      wire().kill();
      await nextEvent(conn, 'reconnect');
      await waitFor(() => got.length === 2, 'redelivery');
      const [old, again] = got as [Msg, Msg];
      expect(again.fields.redelivered).to.equal(true);
      expect(again.fields.deliveryTag).to.be.greaterThan(old.fields.deliveryTag);
      old.ack(); // from the dead session: ignored, must not ack tag 1 of the new session
      ch.ack(old, true);
      await sleep(50);
      expect(ch.state).to.equal('open');
      const other = await (await plain()).createChannel();
      expect((await other.checkQueue('redo')).messageCount).to.equal(0);
      again.ack();
      await ch.checkQueue('redo');
      await conn.close();
      expect((await other.checkQueue('redo')).messageCount).to.equal(0, 'the redelivered copy was acked');
    });

    it('createChannel while reconnecting resolves once the connection is back', async () => {
      const { conn } = await wired();
      await rb.stop();
      await waitFor(() => conn.state === 'reconnecting', 'reconnecting');
      const pending = conn.createChannel();
      await sleep(50);
      await rb.start();
      const ch = await pending;
      expect(ch.state).to.equal('open');
      await ch.assertQueue('late', { durable: false });
    });

    it('ch.close() while reconnecting closes the channel at once, locally', async () => {
      const { conn } = await wired();
      const ch = await conn.createChannel();
      await rb.stop();
      await waitFor(() => conn.state === 'reconnecting', 'reconnecting');
      const buffered = ch.sendToQueue('x', Buffer.from('x'));
      await ch.close();
      expect(ch.state).to.equal('closed');
      expect(
        await buffered.then(
          () => 'resolved',
          () => 'rejected',
        ),
      ).to.equal('rejected');
      await rb.start();
      await nextEvent(conn, 'reconnect');
      const ch2 = await conn.createChannel();
      expect(ch2.number).to.not.equal(ch.number);
    });
  });

  describe('publishes', () => {
    it('buffers publishes made while the broker is down and sends them after recovery, in order', async () => {
      const { conn } = await wired();
      const ch = await conn.createChannel();
      await ch.assertQueue('buf', { durable: true });
      await rb.stop();
      await waitFor(() => conn.state === 'reconnecting', 'reconnecting');
      const publishes = Array.from({ length: 20 }, (_, i) =>
        ch.sendToQueue('buf', Buffer.from(String(i)), { persistent: true }),
      );
      expect(conn.bufferedPublishes).to.equal(20);
      expect(ch.outstandingConfirms).to.equal(20);
      await rb.start();
      await Promise.all(publishes);
      expect(conn.bufferedPublishes).to.equal(0);
      const other = await (await plain()).createChannel();
      const out: string[] = [];
      for (let m = await other.get('buf', { noAck: true }); m; m = await other.get('buf', { noAck: true }))
        out.push(text(m));
      expect(out).to.deep.equal(Array.from({ length: 20 }, (_, i) => String(i)));
    });

    it('rejects a publish beyond maxBufferedPublishes / maxBufferedBytes with PublishBufferFullError', async () => {
      const { conn } = await wired({
        reconnect: { initialDelayMs: 10, jitter: 0, maxBufferedPublishes: 3, maxBufferedBytes: 10 },
      });
      const ch = await conn.createChannel();
      await ch.assertQueue('small', { durable: true });
      await rb.stop();
      await waitFor(() => conn.state === 'reconnecting', 'reconnecting');
      const ok = [
        ch.sendToQueue('small', 'aaaa', { persistent: true }),
        ch.sendToQueue('small', 'bbbb', { persistent: true }),
      ];
      // 8 bytes buffered: 4 more would exceed maxBufferedBytes (10).
      const tooBig = await ch.sendToQueue('small', 'cccc').then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(tooBig).to.be.instanceOf(PublishBufferFullError);
      ok.push(ch.sendToQueue('small', 'dd', { persistent: true }));
      // 3 publishes buffered: the count limit.
      const tooMany = await ch.sendToQueue('small', '').then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(tooMany).to.be.instanceOf(PublishBufferFullError);
      expect((tooMany as Error).name).to.equal('PublishBufferFullError');
      expect(ch.state).to.equal('open');
      await rb.start();
      await Promise.all(ok);
      const other = await (await plain()).createChannel();
      expect((await other.checkQueue('small')).messageCount).to.equal(3);
    });

    it('re-sends publishes sent but unconfirmed at the drop: duplicates are exactly those (at-least-once)', async () => {
      const { conn, wire } = await wired(FAST, true);
      const ch = await conn.createChannel();
      await ch.assertQueue('dup', { durable: true });
      await ch.sendToQueue('dup', Buffer.from('confirmed'), { persistent: true });
      // The broker stores the next five, but the client never sees their confirms.
      wire().hold();
      const unconfirmed = Array.from({ length: 5 }, (_, i) =>
        ch.sendToQueue('dup', Buffer.from(`u${i}`), { persistent: true }),
      );
      const probe = await (await plain()).createChannel();
      for (let i = 0; i < 100 && (await probe.checkQueue('dup')).messageCount < 6; i++) await sleep(10);
      expect((await probe.checkQueue('dup')).messageCount).to.equal(6);
      wire().kill();
      await Promise.all(unconfirmed);
      const out: string[] = [];
      for (let m = await probe.get('dup', { noAck: true }); m; m = await probe.get('dup', { noAck: true }))
        out.push(text(m));
      expect(out).to.deep.equal(['confirmed', 'u0', 'u1', 'u2', 'u3', 'u4', 'u0', 'u1', 'u2', 'u3', 'u4']);
    });

    it('re-sends requests that were in flight: an assertQueue resolves after recovery', async () => {
      const { conn, wire } = await wired();
      const ch = await conn.createChannel();
      wire().hold();
      const declared = ch.assertQueue('inflight', { durable: false });
      await sleep(30);
      wire().kill();
      const info = await declared;
      expect(info.queue).to.equal('inflight');
      const other = await (await plain()).createChannel();
      expect((await other.checkQueue('inflight')).queue).to.equal('inflight');
    });

    it('keeps the order of publishes and requests across the drop', async () => {
      const { conn, wire } = await wired(FAST, true);
      const ch = await conn.createChannel();
      wire().hold();
      const q = ch.assertQueue('order', { durable: false });
      const p1 = ch.sendToQueue('order', Buffer.from('1'));
      const purge = ch.purgeQueue('order');
      const p2 = ch.sendToQueue('order', Buffer.from('2'));
      await sleep(20);
      wire().kill();
      await Promise.all([q, p1, purge, p2]);
      const resent = wire()
        .sent.filter((f) => ['queueDeclare', 'publish', 'queuePurge'].includes(f.type))
        .map((f) => f.type);
      expect(resent).to.deep.equal(['queueDeclare', 'publish', 'queuePurge', 'publish']);
      const other = await (await plain()).createChannel();
      expect(text(await other.get('order', { noAck: true }))).to.equal('2');
    });
  });
});

/** A transport to a broker that completes the handshake and then never answers. */
function silentTransport(handlers: TransportHandlers): Transport {
  let open = true;
  const end = (): void => {
    if (!open) return;
    open = false;
    setImmediate(() => handlers.onClose(1006, '', undefined));
  };
  setImmediate(() => handlers.onOpen());
  return {
    send(bytes) {
      if (!open) return;
      for (const f of decodeAll(bytes)) {
        if (f.type !== 'hello') continue;
        handlers.onMessage(
          encodeFrame({
            type: 'helloOk',
            channel: 0,
            heartbeatMs: 0,
            maxFrameBytes: 1 << 24,
            maxMessageBytes: 1 << 23,
            connectionId: 'silent',
            serverProperties: {},
          }),
        );
      }
    },
    close: end,
    terminate: end,
    bufferedAmount: 0,
  };
}

/** A transport to a broker that answers `hello` with `close 403`. */
function refusingTransport(handlers: TransportHandlers): Transport {
  let open = true;
  const end = (): void => {
    if (!open) return;
    open = false;
    setImmediate(() => handlers.onClose(1000, '', undefined));
  };
  setImmediate(() => handlers.onOpen());
  return {
    send(bytes) {
      if (!open) return;
      for (const f of decodeAll(bytes)) {
        if (f.type === 'hello')
          handlers.onMessage(
            encodeFrame({ type: 'close', channel: 0, code: 403, message: 'ACCESS_REFUSED - login refused' }),
          );
        if (f.type === 'closeOk') end();
      }
    },
    close: end,
    terminate: end,
    bufferedAmount: 0,
  };
}
