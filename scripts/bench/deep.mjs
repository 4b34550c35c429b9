// The `deep` workload (issue 19): a deep backlog on disk. Fills N persistent 100-byte messages
// across Q durable queues (default 10,000,000 over 10), reports the broker's RSS, anonymous
// memory and V8 heap when full, then the restart time spawn -> listening and spawn -> first
// delivery after `kill -9` and after a graceful stop (with the queue depths the restarted
// broker reports at once), and last the drain rate with consumers on every queue.
//   npm run bench -- --workloads deep [--deep-messages N]
//   node scripts/bench/deep.mjs [--messages N] [--queues Q] [--data-dir-parent DIR]
//   node scripts/bench/deep.mjs --data-dir DIR [--drain]
// With --data-dir the store is kept: a filled store (DIR/deep-filled.json) is not filled again,
// so restarts can be measured many times without storing 10,000,000 messages each time; the
// drain (which empties it) runs only with --drain.
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import { connect } from '@switchyard/client';
import { brokerMain, freePort, repoRoot } from './spawn-broker.mjs';
import { cpuOf, memOf, MB, round } from './stats.mjs';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function start(dataDir, port, managementPort) {
  const t0 = performance.now();
  const child = spawn(
    process.execPath,
    [
      brokerMain,
      'server',
      '--port',
      String(port),
      '--management-port',
      String(managementPort),
      '--data-dir',
      dataDir,
      '--log-level',
      'info',
      '--no-amqp', // 5672 may be taken (RabbitMQ for side-by-side runs); the bench speaks WebSocket
    ],
    { cwd: repoRoot, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal)));
  const listening = new Promise((resolve, reject) => {
    let buf = '';
    const onData = (d) => {
      buf += d.toString();
      if (buf.includes('"listening"')) {
        child.stdout.off('data', onData);
        child.stdout.resume(); // keep draining the pipe
        resolve(performance.now() - t0);
      } else if (buf.length > 1e6) buf = buf.slice(-1e5);
    };
    child.stdout.on('data', onData);
    exited.then((c) => reject(new Error(`broker exited with ${c}`)));
  });
  return { child, t0, listening, exited };
}

/**
 * Samples the broker's RSS (anonymous and file-backed: LMDB pages it has mapped) every 200 ms
 * and keeps the peak of each phase (`phase(name)` switches).
 */
function rssSampler(pid) {
  const peaks = {};
  let current = 'filling';
  const sample = () => {
    const m = memOf(pid);
    if (!m) return;
    const p = (peaks[current] ??= { rssMB: 0, rssAnonMB: 0, rssFileMB: 0 });
    p.rssMB = Math.max(p.rssMB, round(m.rss / MB, 1));
    p.rssAnonMB = Math.max(p.rssAnonMB, round(m.rssAnon / MB, 1));
    p.rssFileMB = Math.max(p.rssFileMB, round(m.rssFile / MB, 1));
  };
  const timer = setInterval(sample, 200);
  return {
    phase(name) {
      sample();
      current = name;
      sample();
    },
    stop() {
      sample();
      clearInterval(timer);
      return peaks;
    },
  };
}

async function overviewMemory(managementPort) {
  try {
    const res = await fetch(`http://127.0.0.1:${managementPort}/api/overview`, {
      headers: { authorization: 'Basic ' + Buffer.from('guest:guest').toString('base64') },
    });
    return (await res.json()).memory;
  } catch {
    return undefined;
  }
}

/** Spawns the broker, measures spawn -> listening and spawn -> first delivery, and the depths it reports. */
async function restart(dataDir, port, managementPort, names) {
  const b = start(dataDir, port, managementPort);
  const listeningMs = await b.listening;
  const conn = await connect(`ws://127.0.0.1:${port}`);
  const ch = await conn.createChannel();
  // basic.get (no ack): exactly one message leaves the first queue.
  while (!(await ch.get(names[0], { noAck: true }))) await sleep(1);
  const firstDeliveryMs = performance.now() - b.t0;
  // CPU the broker process used until then (user + system): unlike wall time, it does not grow
  // with the load other processes put on the machine.
  const cpu = cpuOf(b.child.pid);
  let depth = 0;
  for (const q of names.slice(1)) depth += (await ch.checkQueue(q)).messageCount;
  await conn.close();
  return {
    b,
    listeningMs: Math.round(listeningMs),
    firstDeliveryMs: Math.round(firstDeliveryMs),
    firstDeliveryCpuMs: cpu === null ? undefined : Math.round(cpu * 1000),
    depthOfOthers: depth,
  };
}

export async function runDeepBench({
  messages = 10_000_000,
  queues = 10,
  dataDirParent = os.tmpdir(),
  keptDataDir,
  drain = !keptDataDir,
  log = (s) => process.stderr.write(s + '\n'),
} = {}) {
  const dataDir = keptDataDir ?? (await mkdtemp(path.join(dataDirParent, 'switchyard-deep-')));
  const marker = path.join(dataDir, 'deep-filled.json');
  if (keptDataDir) await mkdir(keptDataDir, { recursive: true });
  const filled = keptDataDir ? await readFile(marker, 'utf8').then(JSON.parse, () => undefined) : undefined;
  if (filled) ({ messages, queues } = filled);
  const port = await freePort();
  const managementPort = await freePort();
  const url = `ws://127.0.0.1:${port}`;
  const names = Array.from({ length: queues }, (_, i) => `deep.q${i}`);
  let current;
  try {
    current = start(dataDir, port, managementPort);
    await current.listening;
    const conn = await connect(url);
    const ch = await conn.createChannel();
    for (const q of names) await ch.assertQueue(q, { durable: true });
    const body = Buffer.alloc(100, 7);
    const window = new Set();
    const fillRss = rssSampler(current.child.pid);
    const tFill = performance.now();
    for (let i = 0; i < (filled ? 0 : messages); i++) {
      const p = ch.sendToQueue(names[i % queues], body, { persistent: true });
      window.add(p);
      p.then(() => window.delete(p));
      if (window.size >= 2000) await Promise.race(window);
      if (i % 1_000_000 === 0 && i > 0) log(`  [deep] stored ${i.toLocaleString('en')} ...`);
    }
    await Promise.all(window);
    const fillSeconds = (performance.now() - tFill) / 1000;
    if (keptDataDir && !filled) await writeFile(marker, JSON.stringify({ messages, queues }));
    await conn.close();
    fillRss.phase('holding');
    await sleep(3000); // let the broker settle (GC, flushes) before reading its memory
    const mem = memOf(current.child.pid);
    const fillPeaks = fillRss.stop();
    const heap = await overviewMemory(managementPort);
    const full = {
      rssMB: mem ? round(mem.rss / MB, 1) : undefined,
      rssAnonMB: mem ? round(mem.rssAnon / MB, 1) : undefined,
      rssFileMB: mem ? round(mem.rssFile / MB, 1) : undefined,
      heapUsedMB: heap ? round(heap.heapUsed / MB, 1) : undefined,
      // Peaks sampled every 200 ms: while filling, and while holding the full store (3 s).
      peaks: filled ? undefined : fillPeaks,
    };
    log(`  [deep] full: ${JSON.stringify(full)}`);

    current.child.kill('SIGKILL');
    await current.exited;
    const afterKill = await restart(dataDir, port, managementPort, names);
    current = afterKill.b;
    log(
      `  [deep] after kill -9: ${afterKill.listeningMs} ms to listening, ${afterKill.firstDeliveryMs} ms to first delivery (${afterKill.firstDeliveryCpuMs} ms CPU)`,
    );
    current.child.kill('SIGTERM');
    await current.exited;
    const afterStop = await restart(dataDir, port, managementPort, names);
    current = afterStop.b;
    log(
      `  [deep] after a graceful stop: ${afterStop.listeningMs} ms, ${afterStop.firstDeliveryMs} ms (${afterStop.firstDeliveryCpuMs} ms CPU)`,
    );

    const restarts = {
      messages,
      queues,
      fillMsgsPerSec: filled ? undefined : Math.round(messages / fillSeconds),
      // A store filled by an earlier run: the memory of a broker just started on it.
      [filled ? 'startedOnFull' : 'full']: full,
      afterKill9: {
        listeningMs: afterKill.listeningMs,
        firstDeliveryMs: afterKill.firstDeliveryMs,
        firstDeliveryCpuMs: afterKill.firstDeliveryCpuMs,
      },
      afterGracefulStop: {
        listeningMs: afterStop.listeningMs,
        firstDeliveryMs: afterStop.firstDeliveryMs,
        firstDeliveryCpuMs: afterStop.firstDeliveryCpuMs,
      },
      // Depths of queues 2..Q as the restarted broker answered them (expected: (Q-1)/Q of N).
      depthReportedAfterKill9: afterKill.depthOfOthers,
    };
    if (!drain) return restarts;
    // Drain every queue (each restart took one message from the first queue).
    const left = await depthOf(url, names);
    const dconn = await connect(url);
    let got = 0;
    const drainRss = rssSampler(current.child.pid);
    drainRss.phase('draining');
    const tDrain = performance.now();
    for (const q of names) {
      const c = await dconn.createChannel();
      await c.prefetch(1000);
      await c.consume(q, (m) => {
        if (m === null) return;
        got++;
        c.ack(m);
      });
    }
    let last = got;
    let lastAt = performance.now();
    while (got < left) {
      await sleep(200);
      if (got !== last) [last, lastAt] = [got, performance.now()];
      else if (performance.now() - lastAt > 30_000) throw new Error(`drain stalled at ${got} of ${left}`);
    }
    const drainSeconds = (performance.now() - tDrain) / 1000;
    const drainPeak = drainRss.stop().draining;
    await dconn.close();
    current.child.kill('SIGTERM');
    await current.exited;
    current = undefined;
    if (keptDataDir) await rm(marker, { force: true });
    return {
      ...restarts,
      drainMsgsPerSec: Math.round(left / drainSeconds),
      drainPeakRssMB: drainPeak?.rssMB,
      drainPeak,
    };
  } finally {
    if (current) {
      current.child.kill('SIGKILL');
      await current.exited;
    }
    if (!keptDataDir) await rm(dataDir, { recursive: true, force: true });
  }
}

/** The summed depth of the queues, as the broker reports it. */
async function depthOf(url, names) {
  const conn = await connect(url);
  const ch = await conn.createChannel();
  let depth = 0;
  for (const q of names) depth += (await ch.checkQueue(q)).messageCount;
  await conn.close();
  return depth;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({
    options: {
      messages: { type: 'string' },
      queues: { type: 'string' },
      'data-dir-parent': { type: 'string' },
      'data-dir': { type: 'string' },
      drain: { type: 'boolean' },
    },
  });
  const r = await runDeepBench({
    messages: values.messages ? Number(values.messages) : undefined,
    queues: values.queues ? Number(values.queues) : undefined,
    dataDirParent: values['data-dir-parent'],
    keptDataDir: values['data-dir'],
    drain: values['data-dir'] ? Boolean(values.drain) : true,
  });
  console.log(JSON.stringify(r, null, 2));
}
