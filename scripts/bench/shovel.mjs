// Shovel bench (spec/links.md): two Switchyard brokers as child processes on loopback.
//   node scripts/bench/shovel.mjs [--messages 50000]
// 1. Throughput: N persistent 1 KiB messages wait in a durable source queue; a shovel
//    (on-confirm, ws://) moves them to a durable destination queue with a dedup window;
//    msgs/s from the PUT until the destination holds N. Compare with W1 (npm run bench).
// 2. Restore -> first message: the link runs through a TCP proxy; the proxy is down for
//    2 s while a message is published; ms from the proxy accepting again to the message's
//    arrival at a consumer of the destination (reconnect-delay 0.1 s: the backoff wait is in it).
import net from 'node:net';
import { parseArgs } from 'node:util';
import { connect } from '@switchyard/client';
import { spawnBroker } from './spawn-broker.mjs';

const { values } = parseArgs({ options: { messages: { type: 'string' } } });
const N = Number(values.messages ?? 50_000);
const auth = `Basic ${Buffer.from('guest:guest').toString('base64')}`;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function put(broker, name, value) {
  const res = await fetch(`http://127.0.0.1:${broker.managementPort}/api/parameters/shovel/%2F/${name}`, {
    method: 'PUT',
    headers: { authorization: auth, 'content-type': 'application/json' },
    body: JSON.stringify({ value }),
  });
  if (res.status >= 300) throw new Error(`PUT shovel: ${res.status} ${await res.text()}`);
}

function proxy(targetPort) {
  let down = false;
  const socks = new Set();
  const server = net.createServer((c) => {
    if (down) return c.destroy();
    const u = net.connect(targetPort, '127.0.0.1');
    socks.add(c).add(u);
    const end = () => (c.destroy(), u.destroy());
    c.on('error', end).on('close', end);
    u.on('error', end).on('close', end);
    c.pipe(u).pipe(c);
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve({
        port: server.address().port,
        cut() {
          down = true;
          for (const s of socks) s.destroy();
          socks.clear();
        },
        restore() {
          down = false;
        },
        close: () => new Promise((r) => server.close(r)),
      }),
    ),
  );
}

const src = await spawnBroker();
const dst = await spawnBroker();
try {
  const cs = await connect(src.url);
  const cd = await connect(dst.url);
  const chs = await cs.createChannel();
  const chd = await cd.createChannel();
  await chs.assertQueue('src', { durable: true });
  await chd.assertQueue('dst', { durable: true, arguments: { 'x-deduplication-window': 600_000 } });
  const body = Buffer.alloc(1024, 7);
  // distinct bodies: identical messages (no messageId) share a dedup id (spec/links.md §Deduplication)
  const numbered = (i) => {
    const b = Buffer.from(body);
    b.writeUInt32BE(i, 0);
    return b;
  };
  for (let i = 0; i < N; i += 1000)
    await Promise.all(
      Array.from({ length: Math.min(1000, N - i) }, (_, k) =>
        chs.sendToQueue('src', numbered(i + k), { persistent: true }),
      ),
    );
  const t0 = performance.now();
  await put(dst, 'bench', { 'src-uri': src.url, 'src-queue': 'src', 'dest-uri': dst.url, 'dest-queue': 'dst' });
  for (;;) {
    const n = (await chd.checkQueue('dst')).messageCount;
    if (n >= N) break;
    await sleep(20);
  }
  const seconds = (performance.now() - t0) / 1000;
  console.log(
    `shovel on-confirm ws:// persistent 1 KiB: ${N} msgs in ${seconds.toFixed(2)} s = ${Math.round(N / seconds)} msgs/s`,
  );
  await chd.purgeQueue('dst');
  await fetch(`http://127.0.0.1:${dst.managementPort}/api/parameters/shovel/%2F/bench`, {
    method: 'DELETE',
    headers: { authorization: auth },
  });

  const p = await proxy(src.port);
  await put(dst, 'restore', {
    'src-uri': `ws://127.0.0.1:${p.port}`,
    'src-queue': 'src',
    'dest-uri': dst.url,
    'dest-queue': 'dst',
    'reconnect-delay': 0.1,
  });
  const arrived = [];
  await chd.consume('dst', (m) => {
    if (m) arrived.push(performance.now());
    chd.ack(m);
  });
  await sleep(1000);
  const delays = [];
  for (let round = 0; round < 5; round++) {
    arrived.length = 0;
    p.cut();
    await chs.sendToQueue('src', numbered(N + round), { persistent: true });
    await sleep(2000);
    const restoredAt = performance.now();
    p.restore();
    while (arrived.length === 0) await sleep(1);
    delays.push(Math.round(arrived[0] - restoredAt));
  }
  console.log(`restore -> first moved message (reconnect-delay 0.1 s, 5 rounds): ${delays.join(', ')} ms`);
  await p.close();
  await cs.close();
  await cd.close();
} finally {
  await src.stop();
  await dst.stop();
}
