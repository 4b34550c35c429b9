// Restart time with a large stored backlog: fills a broker with N persistent 1 KiB messages
// (default 1,000,000 over 10 durable queues), stops it, starts it again on the same data
// directory and measures (a) spawn -> listening (every queue recovered: recovery runs
// before the listener opens) and (b) spawn -> first delivery to a consumer.
//   node scripts/bench/restart.mjs [--messages N] [--queues Q]
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import { connect } from '@switchyard/client';
import { brokerMain, freePort, repoRoot } from './spawn-broker.mjs';

function start(dataDir, port) {
  const t0 = performance.now();
  const child = spawn(
    process.execPath,
    [
      brokerMain,
      'server',
      '--port',
      String(port),
      '--no-management',
      '--amqp-port',
      '0',
      '--data-dir',
      dataDir,
      '--log-level',
      'info',
    ],
    {
      cwd: repoRoot,
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  const listening = new Promise((resolve, reject) => {
    let buf = '';
    child.stdout.on('data', (d) => {
      buf += d.toString();
      if (buf.includes('"listening"')) resolve(performance.now() - t0);
    });
    child.once('exit', (code) => reject(new Error(`broker exited with ${code}`)));
  });
  return { child, t0, listening };
}

async function stop(child) {
  child.kill('SIGTERM');
  await new Promise((r) => child.once('exit', r));
}

export async function runRestartBench({
  messages = 1_000_000,
  queues = 10,
  log = (s) => process.stderr.write(s + '\n'),
} = {}) {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'switchyard-restart-'));
  const port = await freePort();
  try {
    let b = start(dataDir, port);
    await b.listening;
    const url = `ws://127.0.0.1:${port}`;
    const conn = await connect(url);
    const ch = await conn.createChannel();
    const names = Array.from({ length: queues }, (_, i) => `restart.q${i}`);
    for (const q of names) await ch.assertQueue(q, { durable: true });
    const body = Buffer.alloc(1024, 7);
    const window = new Set();
    const tFill = performance.now();
    for (let i = 0; i < messages; i++) {
      const p = ch.sendToQueue(names[i % queues], body, { persistent: true });
      window.add(p);
      p.then(() => window.delete(p));
      if (window.size >= 1000) await Promise.race(window);
      if (i % 200_000 === 0 && i > 0) log(`  stored ${i.toLocaleString()} ...`);
    }
    await Promise.all(window);
    const fillSeconds = (performance.now() - tFill) / 1000;
    await conn.close();
    await stop(b.child);

    b = start(dataDir, port);
    const listeningMs = await b.listening;
    const conn2 = await connect(url);
    const ch2 = await conn2.createChannel();
    const first = new Promise((resolve) =>
      ch2.consume(names[0], () => resolve(performance.now() - b.t0), { noAck: true }),
    );
    const firstDeliveryMs = await first;
    const { messageCount } = await ch2.checkQueue(names[1]);
    await conn2.close();
    await stop(b.child);
    return {
      messages,
      queues,
      fillMsgsPerSec: Math.round(messages / fillSeconds),
      restartToListeningMs: Math.round(listeningMs),
      restartToFirstDeliveryMs: Math.round(firstDeliveryMs),
      recoveredInSecondQueue: messageCount,
    };
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({ options: { messages: { type: 'string' }, queues: { type: 'string' } } });
  const r = await runRestartBench({
    messages: values.messages ? Number(values.messages) : undefined,
    queues: values.queues ? Number(values.queues) : undefined,
  });
  console.log(`restart with ${r.messages.toLocaleString()} stored messages in ${r.queues} queues:`);
  console.log(`  fill (publish with confirms)   ${r.fillMsgsPerSec.toLocaleString()} msgs/s`);
  console.log(`  spawn -> all queues recovered  ${r.restartToListeningMs} ms`);
  console.log(`  spawn -> first delivery        ${r.restartToFirstDeliveryMs} ms`);
  console.log(JSON.stringify(r));
}
