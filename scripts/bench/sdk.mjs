// The client SDK's own costs, as the SDK issue asks:
//   1. publish rate with confirms from one Node publisher (@switchyard/client over `ws`);
//   2. the same from a page in headless Chromium (the ESM browser bundle over the browser's
//      WebSocket), if Chromium is installed;
//   3. recovery time, "drop to consumers running again": after a network drop (socket cut,
//      broker alive) and after a broker crash (SIGKILL, restarted on the same port).
// The broker runs as a child process (`node broker/dist/cli/main.js server`), so broker and
// client use separate cores. Needs `npm run build` first.
//
//   node scripts/bench/sdk.mjs [--quick] [--json FILE] [--no-browser]
//   import { runSdkBench } from './scripts/bench/sdk.mjs'; const figures = await runSdkBench({ quick: true });
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { connect } from '@switchyard/client';
import { createNodeTransport, nodePlatform, openConnection } from '@switchyard/client/internal';

const here = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(here, '..', '..');
const brokerMain = path.join(repoRoot, 'broker', 'dist', 'cli', 'main.js');
const dist = path.join(repoRoot, 'client-sdk', 'dist');
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** Starts a broker process; resolves once it logs `listening`. `port` 0 picks a free one. */
async function startBroker(dataDir, port = 0) {
  const child = spawn(
    process.execPath,
    [
      brokerMain,
      'server',
      '--port',
      String(port),
      '--management-port',
      '0',
      '--amqp-port',
      '0',
      '--data-dir',
      dataDir,
      '--log-level',
      'info',
    ],
    { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal)));
  const output = [];
  createInterface({ input: child.stderr }).on('line', (l) => output.push(l));
  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`broker did not start:\n${output.join('\n')}`)), 20_000);
    createInterface({ input: child.stdout }).on('line', (line) => {
      output.push(line);
      const m = /"url":"(ws:\/\/[^"]+)"/.exec(line);
      if (m && line.includes('"listening"')) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    void exited.then((code) => reject(new Error(`broker exited (${code}):\n${output.join('\n')}`)));
  });
  return {
    url,
    port: Number(new URL(url).port),
    kill: async (signal = 'SIGKILL') => {
      child.kill(signal);
      await exited;
    },
  };
}

/**
 * Publishes `n` messages of `size` bytes with confirms from Node: fire-and-forget publishes,
 * bounded by the channel's maxUnconfirmed (the SDK's backpressure), awaiting
 * waitForConfirms() every `window`.
 */
async function nodePublishRate(url, { n, size, persistent, window = 1000 }) {
  const conn = await connect(url);
  const ch = await conn.createChannel();
  const queue = `bench.sdk.node.${persistent ? 'p' : 't'}.${size}`;
  await ch.assertQueue(queue, { durable: persistent });
  const body = Buffer.alloc(size, 120);
  const options = persistent ? { persistent: true } : undefined;
  // warm-up
  for (let i = 0; i < 2000; i++) void ch.sendToQueue(queue, body, options);
  await ch.waitForConfirms();
  const started = performance.now();
  for (let i = 0; i < n; i++) {
    void ch.sendToQueue(queue, body, options);
    if (i % window === window - 1) await ch.waitForConfirms();
  }
  await ch.waitForConfirms();
  const seconds = (performance.now() - started) / 1000;
  await ch.deleteQueue(queue);
  await conn.close();
  return { msgs: n, size, persistent, seconds: +seconds.toFixed(3), rate: Math.round(n / seconds) };
}

/** The page for the browser measurement: imports the ESM bundle, exposes publishRate(). */
const PAGE_JS = `
import { connect } from './switchyard.browser.js';
window.publishRate = async (url, n, size, persistent, window_) => {
  const conn = await connect(url);
  const ch = await conn.createChannel();
  const queue = 'bench.sdk.browser.' + (persistent ? 'p' : 't') + '.' + size;
  await ch.assertQueue(queue, { durable: persistent });
  const body = new Uint8Array(size).fill(120);
  const options = persistent ? { persistent: true } : undefined;
  for (let i = 0; i < 2000; i++) void ch.sendToQueue(queue, body, options);
  await ch.waitForConfirms();
  const started = performance.now();
  for (let i = 0; i < n; i++) {
    void ch.sendToQueue(queue, body, options);
    if (i % window_ === window_ - 1) await ch.waitForConfirms();
  }
  await ch.waitForConfirms();
  const seconds = (performance.now() - started) / 1000;
  await ch.deleteQueue(queue);
  await conn.close();
  return { msgs: n, size, persistent, seconds: +seconds.toFixed(3), rate: Math.round(n / seconds) };
};
window.ready = true;
`;

/** Same measurement from headless Chromium; undefined when Chromium or playwright-core is missing. */
async function browserPublishRates(url, workloads) {
  if (!existsSync(CHROMIUM)) return { skipped: `no Chromium at ${CHROMIUM}` };
  if (!existsSync(path.join(dist, 'switchyard.browser.js')))
    return { skipped: 'client-sdk/dist/switchyard.browser.js missing (npm run build)' };
  const { chromium } = await import('playwright-core');
  const server = createServer(async (req, res) => {
    const p = new URL(req.url, 'http://x').pathname;
    if (p === '/')
      return res
        .writeHead(200, { 'content-type': 'text/html' })
        .end('<!doctype html><script type="module" src="/page.js"></script>');
    if (p === '/page.js') return res.writeHead(200, { 'content-type': 'text/javascript' }).end(PAGE_JS);
    if (p === '/switchyard.browser.js')
      return res
        .writeHead(200, { 'content-type': 'text/javascript' })
        .end(await readFile(path.join(dist, 'switchyard.browser.js')));
    res.writeHead(404).end();
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--no-sandbox',
      '--headless',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
  });
  try {
    const page = await browser.newPage();
    await page.goto(`http://127.0.0.1:${server.address().port}/`);
    await page.waitForFunction(() => window.ready === true);
    const rows = [];
    for (const w of workloads) {
      rows.push(
        await page.evaluate(
          ([u, n, size, persistent, win]) => window.publishRate(u, n, size, persistent, win),
          [url, w.n, w.size, w.persistent, 1000],
        ),
      );
    }
    return rows;
  } finally {
    await browser.close();
    server.close();
  }
}

/** A Node platform whose current socket can be cut from outside. */
function cuttablePlatform() {
  const sockets = [];
  return {
    platform: {
      ...nodePlatform,
      createTransport: (url, handlers) => {
        const t = createNodeTransport(url, handlers);
        sockets.push(t);
        return t;
      },
    },
    cut: () => sockets[sockets.length - 1].terminate(),
  };
}

/**
 * Recovery time: a consumer (reconnect on) on a durable queue while a publisher on its own
 * connection publishes every ms; the connection is dropped; measured: drop → 'reconnect'
 * (everything restored), and drop → first delivery after the drop (consumers running);
 * split into the successful attempt's socket + handshake and the SDK's restoring of
 * topology, channels and consumers (helloOk → 'reconnect').
 */
async function measureRecovery(kind, { rounds, reconnect }) {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'switchyard-bench-sdk-'));
  let broker = await startBroker(dataDir);
  const results = [];
  try {
    for (let r = 0; r < rounds; r++) {
      const { platform, cut } = cuttablePlatform();
      // The SDK logs when a reconnect's handshake completed: splits the handshake from the restore.
      let readyAt = 0;
      const logger = {
        info: (message) => message.startsWith('switchyard: reconnected') && (readyAt = performance.now()),
      };
      const consumer = await openConnection(platform, broker.url, { reconnect, logger });
      const cch = await consumer.createChannel();
      const queue = `bench.sdk.recovery.${r}`;
      await cch.assertQueue(queue, { durable: true });
      await cch.prefetch(100);
      let lastDelivery = 0;
      await cch.consume(queue, (m) => {
        lastDelivery = performance.now();
        m.ack();
      });
      let lastAttemptAt = 0;
      consumer.on('reconnecting', (info) => (lastAttemptAt = performance.now() + info.delayMs));
      const reconnected = new Promise((resolve) => consumer.once('reconnect', () => resolve(performance.now())));
      const publisher = await connect(broker.url, { reconnect });
      const pch = await publisher.createChannel();
      let publishing = true;
      const pump = (async () => {
        while (publishing) {
          pch.sendToQueue(queue, Buffer.from('tick'), { persistent: true }).catch(() => undefined);
          await sleep(1);
        }
      })();
      await sleep(200);
      const droppedAt = performance.now();
      let brokerReadyAt = droppedAt;
      if (kind === 'network') cut();
      else {
        await broker.kill('SIGKILL');
        broker = await startBroker(dataDir, broker.port);
        brokerReadyAt = performance.now();
      }
      const reconnectAt = await reconnected;
      while (lastDelivery <= reconnectAt) await sleep(1);
      results.push({
        dropToReconnectMs: reconnectAt - droppedAt,
        dropToConsumingMs: lastDelivery - droppedAt,
        brokerReadyToConsumingMs: lastDelivery - brokerReadyAt,
        handshakeMs: readyAt - lastAttemptAt,
        restoreMs: reconnectAt - readyAt,
      });
      publishing = false;
      await pump;
      await cch.deleteQueue(queue).catch(() => undefined);
      await Promise.all([consumer.close(), publisher.close()]);
    }
  } finally {
    await broker.kill('SIGTERM').catch(() => undefined);
    await rm(dataDir, { recursive: true, force: true });
  }
  const pick = (k) => +median(results.map((x) => x[k])).toFixed(1);
  return {
    kind,
    rounds,
    reconnect,
    medianDropToReconnectMs: pick('dropToReconnectMs'),
    medianDropToConsumingMs: pick('dropToConsumingMs'),
    medianBrokerReadyToConsumingMs: kind === 'crash' ? pick('brokerReadyToConsumingMs') : undefined,
    medianHandshakeMs: pick('handshakeMs'),
    medianRestoreMs: pick('restoreMs'),
  };
}

/**
 * Runs every SDK measurement; resolves with the figures. Options: `quick` (smaller),
 * `browser` (default true), `log` (progress lines; default console.error).
 */
export async function runSdkBench({ quick = false, browser = true, log = (s) => console.error(s) } = {}) {
  if (!existsSync(brokerMain)) throw new Error('broker not built: run `npm run build`');
  const n = quick ? 20_000 : 100_000;
  const workloads = [
    { n, size: 100, persistent: false },
    { n: quick ? 10_000 : 50_000, size: 1024, persistent: true },
  ];
  const figures = { node: [], browser: undefined, recovery: [] };
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'switchyard-bench-sdk-'));
  const b = await startBroker(dataDir);
  try {
    for (const w of workloads) {
      log(`[sdk] Node publish ${w.n} x ${w.size} B ${w.persistent ? 'persistent' : 'transient'} with confirms ...`);
      figures.node.push(await nodePublishRate(b.url, w));
    }
    if (browser) {
      log('[sdk] browser publish with confirms (headless Chromium) ...');
      figures.browser = await browserPublishRates(b.url, workloads);
    }
  } finally {
    await b.kill('SIGTERM');
    await rm(dataDir, { recursive: true, force: true });
  }
  const rounds = quick ? 3 : 7;
  const reconnect = { initialDelayMs: 100, maxDelayMs: 1000 };
  log(`[sdk] recovery after a network drop (${rounds} rounds) ...`);
  figures.recovery.push(await measureRecovery('network', { rounds, reconnect }));
  log(`[sdk] recovery after a broker crash: SIGKILL + restart (${rounds} rounds) ...`);
  figures.recovery.push(await measureRecovery('crash', { rounds, reconnect }));
  return figures;
}

function printTable(f) {
  const rate = (x) => `${x.rate.toLocaleString('en-US')} msgs/s`;
  console.log('\nSDK publish with confirms (one publisher, broker in a child process):');
  for (const x of f.node)
    console.log(`  Node     ${String(x.size).padStart(5)} B ${x.persistent ? 'persistent' : 'transient '}  ${rate(x)}`);
  if (Array.isArray(f.browser))
    for (const x of f.browser)
      console.log(
        `  Chromium ${String(x.size).padStart(5)} B ${x.persistent ? 'persistent' : 'transient '}  ${rate(x)}`,
      );
  else if (f.browser) console.log(`  Chromium: skipped (${f.browser.skipped})`);
  console.log('\nRecovery (median; reconnect initialDelayMs 100, maxDelayMs 1000, jitter 0.5):');
  for (const r of f.recovery) {
    console.log(
      `  ${r.kind.padEnd(8)} drop → reconnect ${r.medianDropToReconnectMs} ms, drop → consuming again ${r.medianDropToConsumingMs} ms` +
        (r.medianBrokerReadyToConsumingMs === undefined
          ? ''
          : `, broker ready → consuming ${r.medianBrokerReadyToConsumingMs} ms`) +
        `; of which: successful attempt's socket + handshake ${r.medianHandshakeMs} ms, ` +
        `restoring topology/channels/consumers ${r.medianRestoreMs} ms`,
    );
  }
}

if (process.argv[1] && pathToFileURL(process.argv[1]).href === import.meta.url) {
  const args = process.argv.slice(2);
  const json = args.includes('--json') ? args[args.indexOf('--json') + 1] : undefined;
  const figures = await runSdkBench({ quick: args.includes('--quick'), browser: !args.includes('--no-browser') });
  printTable(figures);
  console.log(JSON.stringify(figures, null, 2));
  if (json) await writeFile(json, JSON.stringify(figures, null, 2));
}
