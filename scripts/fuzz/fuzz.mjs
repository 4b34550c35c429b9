// Fuzz harness for the frame decoder and a live broker (issue: hostile input).
//   node scripts/fuzz/fuzz.mjs [--seconds 30] [--frames 100000] [--seed N]
// 1. Decoder: random, truncated, oversized, bit-flipped and type-confused frames; every
//    input must decode or throw ProtocolError — never anything else.
// 2. Live broker (spawned as a child process): persistent messages are published and
//    confirmed first; then bad frames arrive on many connections — garbage, unknown types,
//    frames before hello, frames on closed channels, acks of unknown tags, publishes to
//    missing exchanges, type-confused fields, hostile field tables and names (tables.mjs:
//    every msgpackr extension, deep nesting, huge tables, invalid UTF-8, control characters)
//    published into a TTL queue whose dead-letter queue has a consumer. The broker must answer with protocol errors,
//    stay up, not grow its memory without bound, and still hold every confirmed message.
// 4. The AMQP 0-9-1 port (amqp.mjs, fuzzAmqp): garbage and wrong-version headers, oversize
//    frames, bad frame ends, content without a header, methods on closed channels, unknown
//    and random methods, a heartbeat-silent peer; the reply codes RabbitMQ gives.
// 5. Schemas (schemas.mjs, fuzzSchemas): hostile schemas and REST bodies on the registry,
//    hostile payloads on validating exchanges.
// 3. Pre-auth: half-open sockets on both ports (partial HTTP requests and upgrades, silence),
//    WebSockets that never hello, hello with thousands of frames pipelined behind it: every
//    half-open socket is closed by the handshake timeout and a real client still gets in.
// 5. Link parameters (links.mjs, fuzzLinks): hostile shovel, federation-upstream, federation-upstream-set and policy bodies PUT to the management API;
//    400 naming the field or success, never a 500, and the broker keeps serving.
import { parseArgs } from 'node:util';
import net from 'node:net';
import WebSocket from 'ws';
import { Packr } from 'msgpackr';
import { connect } from '@switchyard/client';
import {
  FRAME_SCHEMAS,
  PROTOCOL_VERSION,
  ProtocolError,
  decodeFrames,
  encodeFrame,
  encodeFrames,
} from '@switchyard/client/protocol';
import { spawnBroker } from '../bench/spawn-broker.mjs';
import { memOf } from '../bench/stats.mjs';
import { hostileTableFrame } from './tables.mjs';
import { fuzzAmqp } from './amqp.mjs';
import { fuzzSchemas } from './schemas.mjs';
import { fuzzLinks } from './links.mjs';

export { fuzzAmqp };

/** Small deterministic PRNG (mulberry32) so a failing seed can be replayed. */
function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const packr = new Packr({ useRecords: false });
const NAMES = Object.keys(FRAME_SCHEMAS);
const WRONG_VALUES = [
  null,
  -1,
  2 ** 60,
  'x'.repeat(300),
  true,
  3.5,
  [],
  {},
  new Uint8Array(3),
  { __proto__: { a: 1 } },
];

/** Hostile `x-stream-offset` and `x-max-age` values for stream consumers and declarations. */
const STREAM_OFFSETS = [
  'yesterday',
  -1,
  1.5,
  2 ** 60,
  { '!': 'timestamp', value: 'x' },
  { '!': 'timestamp', value: 1e300 },
  '999999999999Y',
  '9999999999999D',
  '',
  [],
  null,
  { '!': 'decimal', value: { places: 1, digits: 5 } },
];
const STREAM_AGES = ['-1h', 'forever', 7, '999999999999Y', null, '1x', ''];
/** Hostile `x-stream-reader` names (consume argument and the offset frames' `reader`). */
const STREAM_READERS = ['', 'r'.repeat(256), 'r'.repeat(255), '\u0000', 'a/b.c', 7, null, [], { x: 1 }];
const readerStr = (v) => (typeof v === 'string' ? v : '');

function validFrame(r, channel = 1) {
  const type = NAMES[Math.floor(r() * NAMES.length)];
  return { type, channel };
}

/** A frame with one field replaced by a value of the wrong type, encoded by hand. */
function typeConfused(r, channel) {
  const type = NAMES[Math.floor(r() * NAMES.length)];
  const schema = FRAME_SCHEMAS[type];
  const good = encodeFrame({ type, channel });
  if (schema.fields.length === 0) return good;
  const fields = schema.fields.filter((f) => f[1] !== 'content').map(() => 0);
  const i = Math.floor(r() * fields.length);
  fields[i] = WRONG_VALUES[Math.floor(r() * WRONG_VALUES.length)];
  const body = packr.pack(fields);
  const out = new Uint8Array(11 + body.length);
  const v = new DataView(out.buffer);
  v.setUint32(0, 7 + body.length);
  v.setUint8(4, schema.code);
  v.setUint16(5, channel);
  v.setUint32(7, body.length);
  out.set(body, 11);
  return out;
}

function mutate(r, bytes) {
  const b = Uint8Array.from(bytes);
  switch (Math.floor(r() * 5)) {
    case 0: // bit flips
      for (let k = 0; k < 1 + r() * 4; k++) b[Math.floor(r() * b.length)] ^= 1 << Math.floor(r() * 8);
      return b;
    case 1: // truncation
      return b.subarray(0, Math.floor(r() * b.length));
    case 2: // size field lies
      new DataView(b.buffer).setUint32(0, Math.floor(r() * 2 ** 32));
      return b;
    case 3: // unknown type code
      b[4] = 0x80 + Math.floor(r() * 0x7f);
      return b;
    default: // random garbage of random length
      return Uint8Array.from({ length: Math.floor(r() * 64) }, () => Math.floor(r() * 256));
  }
}

export function fuzzDecoder({ iterations = 100_000, seed = 1 } = {}) {
  const r = rng(seed);
  let decoded = 0;
  let rejected = 0;
  for (let i = 0; i < iterations; i++) {
    // Hostile field tables and names (tables.mjs) are a fifth of the inputs.
    const hostile = r() < 0.2 ? hostileTableFrame(r) : undefined;
    const base = hostile !== undefined ? hostile.bytes : r() < 0.5 ? encodeFrame(validFrame(r)) : typeConfused(r, 1);
    const input = r() < 0.7 ? mutate(r, base) : base;
    try {
      // Whatever decodes must encode again: a decoded value that cannot be re-encoded is a
      // poison message (issue 11 item 1).
      decodeFrames(input, (f) => encodeFrame(f), 64 * 1024);
      if (input === base && hostile?.expect === 'connection')
        throw new Error(`a hostile table frame decoded (seed ${seed}, iteration ${i})`);
      decoded++;
    } catch (err) {
      if (!(err instanceof ProtocolError))
        throw new Error(`decoder threw ${err?.constructor?.name}: ${err?.message} (seed ${seed}, iteration ${i})`, {
          cause: err,
        });
      rejected++;
    }
  }
  return { iterations, decoded, rejected };
}

const hello = () => ({
  type: 'hello',
  channel: 0,
  version: PROTOCOL_VERSION,
  username: 'guest',
  password: 'guest',
  vhost: '/',
  heartbeatMs: 0,
  clientProperties: {},
});

/** Sends one hostile session on a fresh connection; resolves with frames sent and errors seen. */
function hostileSession(url, r) {
  return new Promise((resolve) => {
    const ws = new WebSocket(url);
    let sent = 0;
    let errors = 0;
    const finish = () => {
      clearTimeout(timer);
      ws.terminate();
      resolve({ sent, errors });
    };
    const timer = setTimeout(finish, 2000);
    ws.on('message', (data) => {
      try {
        decodeFrames(new Uint8Array(data), (f) => {
          if (f.type === 'close' || f.type === 'channelClose') errors++;
          if (f.type === 'close') ws.send(encodeFrame({ type: 'closeOk', channel: 0 }));
        });
      } catch {
        /* the broker only sends valid frames; ignore */
      }
    });
    ws.on('close', finish);
    ws.on('error', () => undefined);
    ws.on('open', () => {
      const kind = r();
      if (kind < 0.25) {
        // connection-level garbage, sometimes before hello
        if (r() < 0.5) ws.send(encodeFrame(hello()));
        ws.send(mutate(r, r() < 0.5 ? encodeFrame(validFrame(r)) : typeConfused(r, Math.floor(r() * 3))));
        sent++;
        return;
      }
      if (kind < 0.5 && kind >= 0.35) {
        // a hostile field table or name (tables.mjs), published into a TTL queue whose
        // dead-letter queue has a consumer: refused, never stored, never a crash
        const { bytes } = hostileTableFrame(r, 1, '', 'fuzz-ttl');
        ws.send(encodeFrames([hello(), { type: 'channelOpen', channel: 1 }]));
        ws.send(bytes);
        ws.send(
          encodeFrames([
            { type: 'channelCloseOk', channel: 1 },
            { type: 'close', channel: 0, code: 200, message: 'bye' },
          ]),
        );
        sent++;
        return;
      }
      if (kind < 0.35) {
        // out of order: channel frames before hello
        ws.send(
          encodeFrames([
            { type: 'channelOpen', channel: 1 },
            {
              type: 'publish',
              channel: 1,
              exchange: '',
              routingKey: 'x',
              mandatory: false,
              properties: null,
              content: new Uint8Array(1),
            },
          ]),
        );
        sent += 2;
        return;
      }
      // channel-level errors, many per connection: each closes its channel, which we
      // acknowledge and reopen, pipelined in one message
      const frames = [hello()];
      const rounds = 20 + Math.floor(r() * 30);
      for (let k = 0; k < rounds; k++) {
        const ch = 1 + (k % 5);
        frames.push({ type: 'channelOpen', channel: ch });
        switch (Math.floor(r() * 6)) {
          case 5: {
            // a stream with hostile retention arguments, then a consumer with a hostile start
            // (spec/semantics.md §Streams): 406 on the channel, never a crash
            const pick = (list) => list[Math.floor(r() * list.length)];
            frames.push({
              type: 'queueDeclare',
              channel: ch,
              rid: k + 1,
              queue: 'fuzz-stream',
              passive: false,
              durable: true,
              exclusive: false,
              autoDelete: false,
              arguments: { 'x-queue-type': 'stream', 'x-max-age': pick(STREAM_AGES) },
            });
            frames.push({ type: 'qos', channel: ch, rid: k + 2, prefetchCount: 10, global: false });
            frames.push({
              type: 'consume',
              channel: ch,
              rid: k + 3,
              queue: 'fuzz-stream',
              consumerTag: '',
              noAck: false,
              exclusive: false,
              priority: 0,
              arguments: { 'x-stream-offset': pick(STREAM_OFFSETS), 'x-stream-reader': pick(STREAM_READERS) },
            });
            // A named reader's offset stored or queried with a hostile name (protocol 3).
            frames.push(
              r() < 0.5
                ? {
                    type: 'streamOffsetStore',
                    channel: ch,
                    rid: k + 5,
                    queue: r() < 0.8 ? 'fuzz-stream' : 'fuzz-missing',
                    reader: readerStr(pick(STREAM_READERS)),
                    offset: pick([0, 1, 2 ** 53 - 1]),
                  }
                : {
                    type: 'streamOffsetQuery',
                    channel: ch,
                    rid: k + 5,
                    queue: r() < 0.8 ? 'fuzz-stream' : 'fuzz-missing',
                    reader: readerStr(pick(STREAM_READERS)),
                  },
            );
            // Some values are accepted (a numeric offset past the end starts at the next
            // message): a bind to a missing queue makes the round end in one channel error
            // either way, counted like every other round's.
            frames.push({
              type: 'queueBind',
              channel: ch,
              rid: k + 4,
              queue: 'fuzz-missing',
              exchange: 'amq.direct',
              routingKey: 'x',
              arguments: {},
            });
            break;
          }
          case 0:
            frames.push({ type: 'ack', channel: ch, deliveryTag: 1 + Math.floor(r() * 1000), multiple: false });
            break;
          case 1:
            frames.push({
              type: 'publish',
              channel: ch,
              exchange: `missing-${k}`,
              routingKey: 'k',
              mandatory: false,
              properties: null,
              content: new Uint8Array(8),
            });
            break;
          case 2:
            frames.push({
              type: 'queueDeclare',
              channel: ch,
              rid: k + 1,
              queue: `missing-${k}`,
              passive: true,
              durable: true,
              exclusive: false,
              autoDelete: false,
              arguments: {},
            });
            break;
          case 3:
            frames.push({ type: 'nack', channel: ch, deliveryTag: 99, multiple: false, requeue: true, delayMs: 0 });
            break;
          default:
            frames.push({
              type: 'queueBind',
              channel: ch,
              rid: k + 1,
              queue: 'fuzz-missing',
              exchange: 'amq.direct',
              routingKey: 'x',
              arguments: {},
            });
        }
        frames.push({ type: 'channelCloseOk', channel: ch });
        sent++;
      }
      frames.push({ type: 'close', channel: 0, code: 200, message: 'bye' });
      ws.send(encodeFrames(frames));
    });
  });
}

/** Handshake timeout of the fuzzed broker: short, so half-open sockets are seen closed. */
const FUZZ_HANDSHAKE_MS = 1_500;

/** Raw TCP socket that sends `text` (maybe nothing) and then nothing more. */
function halfOpenSocket(port, text) {
  const socket = net.createConnection({ host: '127.0.0.1', port });
  const closed = new Promise((resolve) => socket.once('close', () => resolve(true)));
  socket.on('error', () => undefined);
  socket.on('connect', () => text && socket.write(text));
  socket.resume();
  return { socket, closed };
}

/**
 * Pre-auth classes (issue 11): sockets that never finish an HTTP request or upgrade on the
 * client and management ports, WebSockets that never send hello, and hello followed by a flood
 * of pipelined frames. While they are open a real client must still get in and publish; every
 * half-open socket must be closed by the broker's handshake timeout.
 */
async function preAuthFlood(url, managementPort, r, log) {
  const clientPort = Number(new URL(url).port);
  const partial = [
    '',
    'GET / HTTP/1.1\r\n',
    'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n',
  ];
  const halfOpen = [];
  for (let i = 0; i < 120; i++) {
    halfOpen.push(halfOpenSocket(i % 2 === 0 ? clientPort : managementPort, partial[Math.floor(r() * partial.length)]));
  }
  // WebSockets that complete the upgrade and never say hello.
  const silent = await Promise.all(
    Array.from(
      { length: 60 },
      () =>
        new Promise((resolve) => {
          const ws = new WebSocket(url);
          const closed = new Promise((res) => ws.once('close', () => res(true)));
          ws.once('open', () => resolve({ ws, closed }));
          ws.once('error', () => resolve({ ws, closed: Promise.resolve(true) }));
        }),
    ),
  );
  // hello with thousands of frames pipelined behind it, in one message and in several.
  let pipelined = 0;
  await Promise.all(
    Array.from(
      { length: 12 },
      (_, i) =>
        new Promise((resolve) => {
          const ws = new WebSocket(url);
          ws.on('error', () => undefined);
          ws.once('close', resolve);
          ws.once('open', () => {
            const n = 1000 + Math.floor(r() * 20_000);
            const frames = [hello()];
            for (let k = 0; k < n; k++) {
              frames.push(
                k % 3 === 0
                  ? {
                      type: 'publish',
                      channel: 1,
                      exchange: '',
                      routingKey: 'nowhere',
                      mandatory: false,
                      properties: {},
                      content: new Uint8Array(16),
                    }
                  : { type: 'heartbeat', channel: 0 },
              );
            }
            pipelined += frames.length;
            if (i % 2 === 0) ws.send(encodeFrames(frames));
            else for (let k = 0; k < frames.length; k += 500) ws.send(encodeFrames(frames.slice(k, k + 500)));
            setTimeout(() => ws.terminate(), 1_000);
          });
        }),
    ),
  );
  // A real client still gets in during the flood.
  const conn = await connect(url);
  const ch = await conn.createChannel();
  await ch.assertQueue('fuzz-preauth', { durable: true });
  await ch.sendToQueue('fuzz-preauth', Buffer.from('in'), { persistent: true });
  await conn.close();
  const all = [...halfOpen.map((h) => h.closed), ...silent.map((s) => s.closed)];
  const timedOut = await Promise.race([
    Promise.all(all).then(() => true),
    new Promise((res) => setTimeout(() => res(false), FUZZ_HANDSHAKE_MS + 5_000)),
  ]);
  const closedCount = (await Promise.all(all.map((p) => Promise.race([p, Promise.resolve(false)])))).filter(
    Boolean,
  ).length;
  for (const h of halfOpen) h.socket.destroy();
  for (const s of silent) s.ws.terminate();
  log(
    `  pre-auth: ${all.length} half-open sockets (${closedCount} closed by the broker), ${pipelined.toLocaleString()} frames pipelined behind hello`,
  );
  return {
    halfOpen: all.length,
    halfOpenClosed: timedOut ? all.length : closedCount,
    pipelined,
    clientDuringFlood: true,
  };
}

/** Starts the broker with the environment `extra` added (restored right after the spawn). */
async function spawnWithEnv(extra, options) {
  const saved = Object.fromEntries(Object.keys(extra).map((k) => [k, process.env[k]]));
  Object.assign(process.env, extra);
  try {
    return await spawnBroker(options);
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

export async function fuzzBroker({
  seconds = 30,
  frames = 100_000,
  seed = 1,
  confirmed = 1000,
  log = () => undefined,
} = {}) {
  const r = rng(seed);
  const broker = await spawnWithEnv(
    { SWITCHYARD_HANDSHAKE_TIMEOUT_MS: String(FUZZ_HANDSHAKE_MS) },
    { logLevel: 'error' },
  );
  try {
    const url = broker.url;
    // confirmed messages that must survive everything below
    const conn = await connect(url);
    const ch = await conn.createChannel();
    await ch.assertQueue('fuzz-safe', { durable: true });
    await Promise.all(
      Array.from({ length: confirmed }, (_, i) =>
        ch.sendToQueue('fuzz-safe', Buffer.from(`m${i}`), { persistent: true }),
      ),
    );
    await conn.close();
    // TTL -> dead-letter -> consumer: the path a poison header used to crash (issue 11 item 1).
    const dlxConn = await connect(url);
    let dlxClosed = false;
    dlxConn.on('close', () => (dlxClosed = true));
    const dlxCh = await dlxConn.createChannel();
    await dlxCh.assertExchange('fuzz-dlx', 'fanout', { durable: true });
    await dlxCh.assertQueue('fuzz-dlq', { durable: true });
    await dlxCh.bindQueue('fuzz-dlq', 'fuzz-dlx', '');
    await dlxCh.assertQueue('fuzz-ttl', {
      durable: true,
      arguments: { 'x-message-ttl': 20, 'x-dead-letter-exchange': 'fuzz-dlx' },
    });
    const deadLettered = [];
    await dlxCh.consume('fuzz-dlq', (m) => m && deadLettered.push(Buffer.from(m.content).toString()), { noAck: true });

    const deadline = Date.now() + seconds * 1000;
    let sent = 0;
    let errors = 0;
    let sessions = 0;
    const rss = [];
    while (sent < frames && Date.now() < deadline) {
      const batch = await Promise.all(Array.from({ length: 16 }, () => hostileSession(url, r)));
      for (const b of batch) {
        sent += b.sent;
        errors += b.errors;
      }
      sessions += batch.length;
      if (sessions % 160 === 0) {
        const m = memOf(broker.pid);
        if (m) rss.push(m.rss);
        log(
          `  ${sent.toLocaleString()} bad frames, ${errors.toLocaleString()} error replies, broker RSS ${m ? Math.round(m.rss / 2 ** 20) : '?'} MB`,
        );
      }
      if (broker.exited()) throw new Error(`broker died: ${JSON.stringify(broker.exited())}\n${broker.logTail()}`);
    }
    const preAuth = await preAuthFlood(url, broker.managementPort, r, log);
    if (broker.exited()) throw new Error(`broker died: ${JSON.stringify(broker.exited())}\n${broker.logTail()}`);
    await dlxCh.sendToQueue('fuzz-ttl', Buffer.from('probe'), { persistent: true });
    for (let t = 0; t < 100 && !deadLettered.includes('probe'); t++) await new Promise((res) => setTimeout(res, 20));
    const probeDeadLettered = deadLettered.includes('probe');
    const dlxConsumerAlive = !dlxClosed;
    await dlxConn.close();
    const conn2 = await connect(url);
    const ch2 = await conn2.createChannel();
    const { messageCount } = await ch2.checkQueue('fuzz-safe');
    let intact = 0;
    for (let m = await ch2.get('fuzz-safe', { noAck: true }); m; m = await ch2.get('fuzz-safe', { noAck: true })) {
      if (Buffer.from(m.content).toString() === `m${intact}`) intact++;
    }
    await conn2.close();
    // Memory: compare the second half of the run with the first: growth means a leak.
    const half = Math.floor(rss.length / 2);
    const early = rss.length > 1 ? Math.max(...rss.slice(0, Math.max(1, half))) : null;
    const late = rss.length > 1 ? Math.max(...rss.slice(half)) : null;
    return {
      badFrames: sent,
      errorReplies: errors,
      sessions,
      brokerAlive: !broker.exited(),
      dlxConsumerAlive,
      probeDeadLettered,
      confirmedBefore: confirmed,
      stillStored: messageCount,
      intactInOrder: intact,
      rssEarlyMB: early && Math.round(early / 2 ** 20),
      rssLateMB: late && Math.round(late / 2 ** 20),
      preAuth,
    };
  } finally {
    await broker.stop();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({
    options: { seconds: { type: 'string' }, frames: { type: 'string' }, seed: { type: 'string' } },
  });
  const seconds = Number(values.seconds ?? 30);
  const frames = Number(values.frames ?? 100_000);
  const seed = Number(values.seed ?? Date.now() % 100000);
  console.log(`fuzz seed ${seed}`);
  const d = fuzzDecoder({ iterations: 200_000, seed });
  console.log(
    `decoder: ${d.iterations.toLocaleString()} inputs, ${d.decoded.toLocaleString()} decoded, ${d.rejected.toLocaleString()} rejected with ProtocolError, nothing else thrown`,
  );
  const b = await fuzzBroker({ seconds, frames, seed, log: (s) => console.log(s) });
  console.log(JSON.stringify(b, null, 2));
  const ok =
    b.brokerAlive &&
    b.dlxConsumerAlive &&
    b.probeDeadLettered &&
    b.stillStored === b.confirmedBefore &&
    b.intactInOrder === b.confirmedBefore;
  console.log('AMQP 0-9-1 port:');
  const a = await fuzzAmqp({ seed, random: 1000, log: (s) => console.log(s) });
  const { classes, ...rest } = a;
  console.log(JSON.stringify(rest, null, 2));
  const amqpOk =
    Object.values(classes).every((c) => c.ok) &&
    a.brokerAlive &&
    a.stillStored === a.confirmedBefore &&
    a.intactInOrder === a.confirmedBefore;
  console.log('Schema registry and validating exchanges:');
  const s = await fuzzSchemas({ seed, iterations: 500, log: (line) => console.log(line) });
  console.log(JSON.stringify(s, null, 2));
  const schemasOk =
    s.serverErrors === 0 &&
    s.nonJsonAnswers === 0 &&
    s.publishes.other === 0 &&
    s.decode.bad === 0 &&
    s.registryServing &&
    s.brokerAlive;
  console.log('shovel parameters:');
  const l = await fuzzLinks({ r: rng(seed), log: (line) => console.log(line) });
  console.log(JSON.stringify(l, null, 2));
  const linksOk = l.serverErrors === 0 && l.brokerAlive && l.listStatus === 200;
  console.log(ok && amqpOk && schemasOk && linksOk ? 'OK' : 'FAILED');
  process.exit(ok && amqpOk && schemasOk && linksOk ? 0 : 1);
}
