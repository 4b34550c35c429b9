// Shovel bench (spec/links.md §Performance): two Switchyard brokers as child processes on
// loopback. `npm run bench` runs it as the `shovel` workload (runShovelBench) and prints its
// rate beside W1's of the same run; alone: node scripts/bench/shovel.mjs [--messages 50000]
// 1. Throughput: N persistent 1 KiB messages (distinct bodies) wait in a durable source queue;
//    a shovel (on-confirm, ws://, defined on the destination broker) moves them to a durable
//    destination queue with a dedup window; msgs/s from the PUT until the destination holds N.
//    Also the CPU seconds each broker spent on it.
// 2. Restore -> first moved message: the link runs through a TCP proxy; the proxy refuses
//    connections for 2 s while a message is published; ms from the proxy accepting again to
//    the message's arrival at a consumer of the destination (reconnect-delay 0.1 s: the
//    link's backoff wait, up to 1.6 s after a 2 s outage, is part of it).
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { connect } from '@switchyard/client';
import { spawnBroker } from './spawn-broker.mjs';

const auth = `Basic ${Buffer.from('guest:guest').toString('base64')}`;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function shovelParam(broker, method, name, value) {
  const res = await fetch(`http://127.0.0.1:${broker.managementPort}/api/parameters/shovel/%2F/${name}`, {
    method,
    headers: { authorization: auth, 'content-type': 'application/json' },
    body: value === undefined ? undefined : JSON.stringify({ value }),
  });
  if (res.status >= 300) throw new Error(`${method} shovel ${name}: ${res.status} ${await res.text()}`);
}

async function shovelStatus(broker) {
  const res = await fetch(`http://127.0.0.1:${broker.managementPort}/api/shovels`, {
    headers: { authorization: auth },
  });
  return res.json();
}

/** CPU seconds (user + system) of a process so far. */
function cpuSeconds(pid) {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
}

/** A TCP proxy the bench cuts and restores. */
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

/** Waits until `done()` holds; fails when `progress()` has not changed for stallMs. */
async function waitFor(what, done, progress, stallMs, broker) {
  let last = await progress();
  let lastChange = Date.now();
  while (!(await done())) {
    await sleep(20);
    const p = await progress();
    if (p !== last) {
      last = p;
      lastChange = Date.now();
    } else if (Date.now() - lastChange > stallMs)
      throw new Error(
        `${what}: no progress for ${stallMs / 1000} s at ${p}; shovels: ${JSON.stringify(await shovelStatus(broker))}`,
      );
  }
}

/**
 * Runs both measurements on two fresh brokers. Returns
 * { messages, seconds, msgsPerSec, srcBrokerCpuS, dstBrokerCpuS, restoreToFirstMoveMs: number[],
 *   restoreToFirstMoveMedianMs, loadAverage }.
 */
export async function runShovelBench({
  messages = 50_000,
  rounds = 5,
  stallMs = 30_000,
  log = () => {},
  dataDirParent,
  dstNodeArgs = [],
} = {}) {
  const N = messages;
  const src = await spawnBroker({ dataDirParent });
  const dst = await spawnBroker({ dataDirParent, nodeArgs: dstNodeArgs });
  const conns = [];
  try {
    const cs = await connect(src.url);
    const cd = await connect(dst.url);
    conns.push(cs, cd);
    const chs = await cs.createChannel();
    const chd = await cd.createChannel();
    await chs.assertQueue('src', { durable: true });
    // the restore rounds use their own source queue: phase 1's shovel may leave a few
    // delivered-but-unacked messages that go back to 'src' when it is deleted
    await chs.assertQueue('src-restore', { durable: true });
    await chd.assertQueue('dst', { durable: true, arguments: { 'x-deduplication-window': 600_000 } });
    const body = Buffer.alloc(1024, 7);
    // distinct bodies: identical messages (no messageId) share a dedup id (spec/links.md §Deduplication)
    const numbered = (i) => {
      const b = Buffer.from(body);
      b.writeUInt32BE(i, 0);
      return b;
    };
    log(`[shovel] filling the source queue with ${N} persistent 1 KiB messages ...`);
    for (let i = 0; i < N; i += 1000)
      await Promise.all(
        Array.from({ length: Math.min(1000, N - i) }, (_, k) =>
          chs.sendToQueue('src', numbered(i + k), { persistent: true }),
        ),
      );
    const depth = async () => (await chd.checkQueue('dst')).messageCount;
    const cpu0 = [cpuSeconds(src.pid), cpuSeconds(dst.pid)];
    const t0 = performance.now();
    await shovelParam(dst, 'PUT', 'bench', {
      'src-uri': src.url,
      'src-queue': 'src',
      'dest-uri': dst.url,
      'dest-queue': 'dst',
    });
    await waitFor('shovel throughput', async () => (await depth()) >= N, depth, stallMs, dst);
    const seconds = (performance.now() - t0) / 1000;
    const srcBrokerCpuS = cpuSeconds(src.pid) - cpu0[0];
    const dstBrokerCpuS = cpuSeconds(dst.pid) - cpu0[1];
    const loadAverage = (await import('node:os')).loadavg().map((x) => Math.round(x * 100) / 100);
    log(`[shovel] ${N} msgs in ${seconds.toFixed(2)} s = ${Math.round(N / seconds)} msgs/s`);
    await shovelParam(dst, 'DELETE', 'bench');
    await chd.purgeQueue('dst');

    const p = await proxy(src.port);
    await shovelParam(dst, 'PUT', 'restore', {
      'src-uri': `ws://127.0.0.1:${p.port}`,
      'src-queue': 'src-restore',
      'dest-uri': dst.url,
      'dest-queue': 'dst',
      'reconnect-delay': 0.1,
    });
    const arrived = [];
    await chd.consume('dst', (m) => {
      if (m === null) return;
      arrived.push(performance.now());
      chd.ack(m);
    });
    const running = async () => (await shovelStatus(dst)).find((s) => s.name === 'restore')?.state === 'running';
    await waitFor('restore shovel running', running, running, stallMs, dst);
    const delays = [];
    for (let round = 0; round < rounds; round++) {
      arrived.length = 0;
      p.cut();
      await chs.sendToQueue('src-restore', numbered(N + round), { persistent: true });
      await sleep(2000);
      const restoredAt = performance.now();
      p.restore();
      const count = () => arrived.length;
      await waitFor('restore -> first moved message', async () => arrived.length > 0, count, stallMs, dst);
      delays.push(Math.round(arrived[0] - restoredAt));
    }
    log(`[shovel] restore -> first moved message (reconnect-delay 0.1 s, 2 s outage): ${delays.join(', ')} ms`);
    // server.close() waits for open connections: stop the link and drop its sockets first
    await shovelParam(dst, 'DELETE', 'restore');
    p.cut();
    await p.close();
    const sorted = [...delays].sort((a, b) => a - b);
    return {
      messages: N,
      seconds: Math.round(seconds * 1000) / 1000,
      msgsPerSec: Math.round(N / seconds),
      srcBrokerCpuS: Math.round(srcBrokerCpuS * 100) / 100,
      dstBrokerCpuS: Math.round(dstBrokerCpuS * 100) / 100,
      restoreToFirstMoveMs: delays,
      restoreToFirstMoveMedianMs: sorted[Math.floor(sorted.length / 2)],
      loadAverage,
    };
  } finally {
    for (const c of conns) await c.close().catch(() => undefined);
    await src.stop();
    await dst.stop();
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({ options: { messages: { type: 'string' } } });
  const r = await runShovelBench({ messages: Number(values.messages ?? 50_000), log: (s) => console.error(s) });
  console.log(JSON.stringify(r, null, 2));
}
