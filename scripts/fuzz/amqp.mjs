// Hostile input on the AMQP 0-9-1 port (issue 14), over raw sockets (node:net):
//   garbage instead of the protocol header, a wrong protocol version (both answered with
//   AMQP 0-9-1's header, AMQP 0-9-1 §4.2.2), frames over frame-max, a bad frame-end octet,
//   content without a header, methods on a channel that is not open, unknown class/method
//   ids, random method frames, a heartbeat-silent peer. Every class expects the reply codes
//   RabbitMQ gives; afterwards an amqplib client must still get in and every message
//   confirmed before the run must still be there, in order.
// fuzzAmqp({ url }) runs against an already running broker (e.g. RabbitMQ, to check the
// expectations); without url it spawns a Switchyard broker with --amqp-port.
//
// The frames are built here by hand (a few methods), because the point is to send what no
// client library would, and amqplib does not export its codec.
import net from 'node:net';
import amqp from 'amqplib';
import { spawnBroker } from '../bench/spawn-broker.mjs';

export const AMQP_0091_HEADER = Buffer.from([0x41, 0x4d, 0x51, 0x50, 0, 0, 9, 1]);
const FRAME_END = 0xce;
const METHOD = 1;
const HEADER = 2;
const BODY = 3;
const HEARTBEAT = 8;

/** Small deterministic PRNG (mulberry32) so a failing seed can be replayed. */
export function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const u8 = (n) => Buffer.from([n]);
const u16 = (n) => {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n);
  return b;
};
const u32 = (n) => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
};
const shortstr = (s) => Buffer.concat([u8(Buffer.byteLength(s)), Buffer.from(s)]);
const longstr = (b) => Buffer.concat([u32(b.length), b]);
const EMPTY_TABLE = u32(0);

/** A frame: type, channel, size, payload, frame-end (`end` overrides the end octet). */
export function frame(type, channel, payload, end = FRAME_END) {
  return Buffer.concat([u8(type), u16(channel), u32(payload.length), payload, u8(end)]);
}
const method = (channel, classId, methodId, args = Buffer.alloc(0)) =>
  frame(METHOD, channel, Buffer.concat([u16(classId), u16(methodId), args]));

const M = {
  startOk: (user = 'guest', pass = 'guest') =>
    method(
      0,
      10,
      11,
      Buffer.concat([EMPTY_TABLE, shortstr('PLAIN'), longstr(Buffer.from(`\0${user}\0${pass}`)), shortstr('en_US')]),
    ),
  tuneOk: (channelMax, frameMax, heartbeat) =>
    method(0, 10, 31, Buffer.concat([u16(channelMax), u32(frameMax), u16(heartbeat)])),
  open: (vhost = '/') => method(0, 10, 40, Buffer.concat([shortstr(vhost), shortstr(''), u8(0)])),
  closeOk: () => method(0, 10, 51),
  channelOpen: (ch) => method(ch, 20, 10, shortstr('')),
  queueDeclare: (ch, name) => method(ch, 50, 10, Buffer.concat([u16(0), shortstr(name), u8(0), EMPTY_TABLE])),
  publish: (ch, exchange, key) => method(ch, 60, 40, Buffer.concat([u16(0), shortstr(exchange), shortstr(key), u8(0)])),
  contentHeader: (ch, size) => {
    const b = Buffer.alloc(14);
    b.writeUInt16BE(60, 0);
    b.writeBigUInt64BE(BigInt(size), 4);
    return frame(HEADER, ch, b);
  },
  body: (ch, bytes) => frame(BODY, ch, bytes),
  heartbeat: () => frame(HEARTBEAT, 0, Buffer.alloc(0)),
};

/** The class/method ids of the methods a client may send, for random method frames. */
const CLIENT_METHODS = [
  [10, 11],
  [10, 31],
  [10, 40],
  [10, 50],
  [10, 51],
  [20, 10],
  [20, 20],
  [20, 21],
  [20, 40],
  [20, 41],
  [40, 10],
  [40, 20],
  [40, 30],
  [40, 40],
  [50, 10],
  [50, 20],
  [50, 30],
  [50, 40],
  [50, 50],
  [60, 10],
  [60, 20],
  [60, 30],
  [60, 40],
  [60, 70],
  [60, 80],
  [60, 90],
  [60, 100],
  [60, 110],
  [60, 120],
  [85, 10],
  [90, 10],
  [90, 20],
  [90, 30],
];

/**
 * A raw client socket that splits what the broker sends into frames (or keeps the raw bytes
 * before the first frame, for the protocol-header replies).
 */
export class RawPeer {
  constructor(port, host) {
    this.sock = net.connect({ port, host });
    this.sock.on('error', () => undefined); // a reset is one of the outcomes we look at
    this.buf = Buffer.alloc(0);
    this.raw = Buffer.alloc(0);
    this.frames = [];
    this.waiters = [];
    this.closed = new Promise((resolve) => this.sock.once('close', resolve));
    this.isClosed = false;
    this.closed.then(() => {
      this.isClosed = true;
      this.wake();
    });
    this.connected = new Promise((resolve, reject) => {
      this.sock.once('connect', resolve);
      this.sock.once('error', reject);
    });
    this.sock.on('data', (d) => {
      this.raw = Buffer.concat([this.raw, d]);
      this.buf = Buffer.concat([this.buf, d]);
      this.parse();
      this.wake();
    });
  }

  parse() {
    while (this.buf.length >= 8) {
      if (this.buf[0] === 0x41) return; // 'A': a protocol header, not a frame
      const size = this.buf.readUInt32BE(3);
      if (this.buf.length < size + 8) return;
      const type = this.buf[0];
      const channel = this.buf.readUInt16BE(1);
      const payload = this.buf.subarray(7, 7 + size);
      const f = { type, channel, payload };
      if (type === METHOD && size >= 4) {
        f.classId = payload.readUInt16BE(0);
        f.methodId = payload.readUInt16BE(2);
        if ((f.classId === 10 && f.methodId === 50) || (f.classId === 20 && f.methodId === 40)) {
          f.replyCode = payload.readUInt16BE(4);
          f.replyText = payload.subarray(7, 7 + payload[6]).toString();
        }
      }
      this.frames.push(f);
      this.buf = this.buf.subarray(size + 8);
    }
  }

  wake() {
    for (const w of this.waiters.splice(0)) w();
  }

  /** Resolves with the first received frame matching `pred`, or null on close/timeout. */
  async next(pred, ms = 5000) {
    const deadline = Date.now() + ms;
    for (;;) {
      const i = this.frames.findIndex(pred);
      if (i >= 0) return this.frames.splice(i, 1)[0];
      if (this.isClosed || Date.now() >= deadline) return null;
      await new Promise((resolve) => {
        const t = setTimeout(resolve, Math.max(1, deadline - Date.now()));
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  nextMethod(classId, methodId, ms) {
    return this.next((f) => f.classId === classId && f.methodId === methodId, ms);
  }

  /** The connection.close (or channel.close on `channel`) the broker sends, or null. */
  nextClose(ms = 5000) {
    return this.next((f) => f.classId === 10 && f.methodId === 50, ms);
  }

  write(b) {
    if (!this.sock.destroyed) this.sock.write(b);
  }

  /** Resolves true when the broker has closed the socket within `ms`. */
  async closedWithin(ms) {
    return Promise.race([this.closed.then(() => true), new Promise((r) => setTimeout(() => r(false), ms))]);
  }

  destroy() {
    this.sock.destroy();
  }

  /** Header, start/start-ok, tune/tune-ok, open/open-ok. Returns the tune values. */
  async handshake({ frameMax = 4096, heartbeat = 0 } = {}) {
    await this.connected;
    this.write(AMQP_0091_HEADER);
    if (!(await this.nextMethod(10, 10))) throw new Error('no connection.start');
    this.write(M.startOk());
    const tune = await this.nextMethod(10, 30);
    if (!tune) throw new Error('no connection.tune');
    const channelMax = tune.payload.readUInt16BE(4);
    this.write(M.tuneOk(channelMax, frameMax, heartbeat));
    this.write(M.open());
    if (!(await this.nextMethod(10, 41))) throw new Error('no connection.open-ok');
    return { channelMax, serverFrameMax: tune.payload.readUInt32BE(6), serverHeartbeat: tune.payload.readUInt16BE(10) };
  }

  async openChannel(ch) {
    this.write(M.channelOpen(ch));
    if (!(await this.nextMethod(20, 11))) throw new Error(`no channel.open-ok on ${ch}`);
  }
}

/**
 * Expected: the broker sends connection.close with `code`, and closes the socket (after our
 * close-ok). Returns { ok, code, text }.
 */
async function expectConnectionClose(peer, codes, textPrefix = '') {
  const close = await peer.nextClose();
  if (close) peer.write(M.closeOk());
  const socketClosed = await peer.closedWithin(5000);
  peer.destroy();
  const code = close?.replyCode ?? null;
  const text = close?.replyText ?? null;
  const ok = close !== null && codes.includes(code) && socketClosed && text.startsWith(textPrefix);
  return { ok, code, text };
}

/** Each class: a function (port, host, r) -> { ok, ...what was seen }. */
export const AMQP_CLASSES = {
  /** Not AMQP at all: the broker answers with its protocol header and closes (AMQP 0-9-1 §4.2.2). */
  async garbageHeader(port, host) {
    const p = new RawPeer(port, host);
    await p.connected;
    p.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    const closed = await p.closedWithin(5000);
    p.destroy();
    return { ok: closed && p.raw.equals(AMQP_0091_HEADER), reply: p.raw.toString('hex') };
  },

  /** AMQP 1.0 and 0-10 headers: the same, the 0-9-1 header and close. */
  async wrongVersion(port, host) {
    const seen = [];
    for (const h of [
      [0x41, 0x4d, 0x51, 0x50, 0, 1, 0, 0],
      [0x41, 0x4d, 0x51, 0x50, 1, 1, 0, 10],
    ]) {
      const p = new RawPeer(port, host);
      await p.connected;
      p.write(Buffer.from(h));
      const closed = await p.closedWithin(5000);
      p.destroy();
      seen.push({ closed, reply: p.raw.toString('hex') });
    }
    return { ok: seen.every((s) => s.closed && s.reply === AMQP_0091_HEADER.toString('hex')), seen };
  },

  /** A frame over the negotiated frame-max: 501 FRAME_ERROR. */
  async oversizeFrame(port, host) {
    const p = new RawPeer(port, host);
    await p.handshake({ frameMax: 4096 });
    await p.openChannel(1);
    p.write(M.publish(1, '', 'q'));
    p.write(M.contentHeader(1, 100_000));
    p.write(M.body(1, Buffer.alloc(100_000, 1)));
    return expectConnectionClose(p, [501], 'FRAME_ERROR');
  },

  /** A frame whose end octet is not 0xCE: 501 FRAME_ERROR. */
  async badFrameEnd(port, host) {
    const p = new RawPeer(port, host);
    await p.handshake();
    p.write(frame(METHOD, 1, Buffer.concat([u16(20), u16(10), shortstr('')]), 0x00));
    return expectConnectionClose(p, [501], 'FRAME_ERROR');
  },

  /** A body frame with no basic.publish and content header before it: 505 UNEXPECTED_FRAME. */
  async contentWithoutHeader(port, host) {
    const p = new RawPeer(port, host);
    await p.handshake();
    await p.openChannel(1);
    p.write(M.body(1, Buffer.from('orphan body')));
    return expectConnectionClose(p, [505], 'UNEXPECTED_FRAME');
  },

  /** A method on a channel that was never opened, or was closed: 504 CHANNEL_ERROR. */
  async methodOnClosedChannel(port, host) {
    const never = new RawPeer(port, host);
    await never.handshake();
    never.write(M.queueDeclare(7, 'never-opened'));
    const a = await expectConnectionClose(never, [504], "CHANNEL_ERROR - expected 'channel.open'");
    const closed = new RawPeer(port, host);
    await closed.handshake();
    await closed.openChannel(2);
    closed.write(method(2, 20, 40, Buffer.concat([u16(200), shortstr('bye'), u16(0), u16(0)]))); // channel.close
    const closeOk = await closed.nextMethod(20, 41);
    closed.write(M.queueDeclare(2, 'after-close'));
    const b = await expectConnectionClose(closed, [504], "CHANNEL_ERROR - expected 'channel.open'");
    return { ok: a.ok && closeOk !== null && b.ok, neverOpened: a, afterClose: b };
  },

  /**
   * Unknown class and method ids: the connection ends. The spec's connection error is 503
   * COMMAND_INVALID or 540 NOT_IMPLEMENTED; RabbitMQ 3.10 closes the socket without a
   * connection.close, so either is accepted.
   */
  async unknownMethod(port, host) {
    const seen = [];
    for (const [c, m] of [
      [999, 77],
      [60, 999],
    ]) {
      const p = new RawPeer(port, host);
      await p.handshake();
      await p.openChannel(1);
      p.write(method(1, c, m, Buffer.from([1, 2, 3])));
      const r = await expectConnectionClose(p, [503, 540]);
      seen.push({ ...r, ok: r.ok || (r.code === null && p.isClosed) });
    }
    return { ok: seen.every((s) => s.ok), seen };
  },

  /** A silent peer that agreed to 1 s heartbeats: the broker closes the socket (after ~2 s). */
  async silentPeer(port, host) {
    const p = new RawPeer(port, host);
    await p.handshake({ heartbeat: 1 });
    const t0 = Date.now();
    const closed = await p.closedWithin(10_000);
    p.destroy();
    return { ok: closed, closedAfterMs: Date.now() - t0 };
  },

  /**
   * Peers that stall the handshake: one sends nothing, one only the protocol header, one
   * stops after start-ok. The broker closes each after its handshake timeout (Switchyard:
   * SWITCHYARD_HANDSHAKE_TIMEOUT_MS, set short when fuzzAmqp spawns it; RabbitMQ: 10 s).
   */
  async stalledHandshake(port, host, _r, _n, { handshakeWaitMs = 15_000 } = {}) {
    const peers = [new RawPeer(port, host), new RawPeer(port, host), new RawPeer(port, host)];
    await Promise.all(peers.map((p) => p.connected));
    peers[1].write(AMQP_0091_HEADER);
    peers[2].write(AMQP_0091_HEADER);
    if (await peers[2].nextMethod(10, 10)) peers[2].write(M.startOk());
    const closed = await Promise.all(peers.map((p) => p.closedWithin(handshakeWaitMs)));
    for (const p of peers) p.destroy();
    return { ok: closed.every(Boolean), closed };
  },

  /** Random method frames (valid ids, random arguments) on an open channel. */
  async randomMethods(port, host, r, n = 200) {
    let sessions = 0;
    let sent = 0;
    let errorReplies = 0;
    while (sent < n) {
      const p = new RawPeer(port, host);
      sessions++;
      await p.handshake();
      await p.openChannel(1);
      for (let i = 0; i < 10 && !p.isClosed; i++, sent++) {
        const [c, m] = CLIENT_METHODS[Math.floor(r() * CLIENT_METHODS.length)];
        const args = Buffer.from(Array.from({ length: Math.floor(r() * 40) }, () => Math.floor(r() * 256)));
        p.write(method(r() < 0.9 ? 1 : Math.floor(r() * 5), c, m, args));
      }
      const close = await p.next((f) => f.replyCode !== undefined, 2000);
      if (close) errorReplies++;
      p.destroy();
    }
    // random arguments are nearly always malformed: most sessions end in a connection or channel error
    return { ok: errorReplies >= sessions / 2, sessions, sent, errorReplies };
  },
};

/**
 * Runs every class against the broker at `url` (or a spawned Switchyard broker with its AMQP
 * listener), with confirmed persistent messages stored first that must survive.
 */
export async function fuzzAmqp({ url, seed = 1, confirmed = 500, random = 200, log = () => undefined } = {}) {
  const r = rng(seed);
  const handshakeMs = 1000;
  const broker = url
    ? null
    : await spawnBroker({
        amqp: true,
        logLevel: 'error',
        env: { SWITCHYARD_HANDSHAKE_TIMEOUT_MS: String(handshakeMs) },
      });
  const amqpUrl = url ?? broker.amqpUrl;
  const { hostname, port } = new URL(amqpUrl);
  const portNum = Number(port || 5672);
  const queue = `fuzz-amqp-safe-${seed}-${process.pid}`;
  try {
    const conn = await amqp.connect(amqpUrl);
    const ch = await conn.createConfirmChannel();
    await ch.assertQueue(queue, { durable: true });
    for (let i = 0; i < confirmed; i++) ch.sendToQueue(queue, Buffer.from(`m${i}`), { persistent: true });
    await ch.waitForConfirms();
    await conn.close();

    const classes = {};
    for (const [name, fn] of Object.entries(AMQP_CLASSES)) {
      try {
        classes[name] = await fn(portNum, hostname, r, random, {
          handshakeWaitMs: url ? 15_000 : handshakeMs + 4000,
        });
      } catch (err) {
        classes[name] = { ok: false, error: err.message };
      }
      log(`  ${name}: ${JSON.stringify(classes[name])}`);
      if (broker?.exited())
        throw new Error(`broker died in ${name}: ${JSON.stringify(broker.exited())}\n${broker.logTail()}`);
    }
    // another client is still served, and everything confirmed is still there, in order
    const conn2 = await amqp.connect(amqpUrl);
    const ch2 = await conn2.createChannel();
    const { messageCount } = await ch2.checkQueue(queue);
    let intact = 0;
    for (let m = await ch2.get(queue, { noAck: true }); m; m = await ch2.get(queue, { noAck: true }))
      if (m.content.toString() === `m${intact}`) intact++;
    await ch2.deleteQueue(queue);
    await conn2.close();
    return {
      classes,
      brokerAlive: broker ? !broker.exited() : true,
      confirmedBefore: confirmed,
      stillStored: messageCount,
      intactInOrder: intact,
    };
  } finally {
    await broker?.stop();
  }
}
