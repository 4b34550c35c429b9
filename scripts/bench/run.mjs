#!/usr/bin/env node
// Switchyard benchmark runner. See scripts/bench/README.md.
//
//   npm run bench                                    # Switchyard only (spawned child broker)
//   npm run bench -- --amqp-url amqp://guest:guest@127.0.0.1:5672   # + RabbitMQ side by side
//   node scripts/bench/run.mjs --only-amqp --amqp-url amqp://...     # AMQP broker only
//   npm run bench -- --protocol amqp   # amqplib against Switchyard's AMQP port AND RabbitMQ
//   options: --workloads W1,W2,W3,W4,W5,W6,routing  --messages N  --quick  --json file  ...
import { parseArgs } from 'node:util';
import { existsSync, readFileSync } from 'node:fs';
import { writeFile, mkdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { spawnBroker } from './spawn-broker.mjs';
import { createSwitchyardDriver } from './switchyard-driver.mjs';
import { createAmqpDriver } from './amqp-driver.mjs';
import { WORKLOADS, DEFAULTS, METRICS, TITLES, w4Fixture } from './workloads.mjs';
import {
  startProcessSampler,
  pidsByComm,
  memOf,
  cpuOf,
  fmt,
  round,
  table,
  MB,
  fmtSpread,
  defaultResultFile,
} from './stats.mjs';
import { combineRuns } from './runs.mjs';
import { eventLoopDelayProbe } from './event-loop-delay.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(here, '..', '..');

const HELP = `Usage: node scripts/bench/run.mjs [options]   (npm run bench -- [options])

  --amqp-url URL           also run every workload against this AMQP 0-9-1 broker (amqplib)
                           e.g. amqp://guest:guest@127.0.0.1:5672
  --protocol ws|amqp       how the bench talks to Switchyard (default ws: @switchyard/client).
                           amqp: amqplib against the spawned broker's AMQP 0-9-1 port
                           (--amqp-port on a free port) AND against --amqp-url (default
                           amqp://guest:guest@127.0.0.1:5672), the same driver on both sides
  --only-amqp              skip Switchyard (default --amqp-url amqp://guest:guest@127.0.0.1:5672)
  --broker-url WS_URL      use a running Switchyard broker instead of spawning one
  --broker-pid PID         pid of that broker, for RSS/CPU figures
  --broker-management-url URL  that broker's management API (http://127.0.0.1:PORT), for its
                           event-loop delay per workload (spawned brokers: found automatically)
  --amqp-pid PID           pid of the AMQP broker for RSS/CPU (default: the single local beam.smp)
  --workloads LIST         comma list of W1..W8,S1,S2,routing,shovel,deep (default: all but deep)
                           shovel: two spawned brokers, a shovel moves W1's messages / 4 between
                           them (scripts/bench/shovel.mjs), printed beside W1 of the same run
  --deep-messages N        the deep workload: persistent 100-byte messages stored across 10
                           queues before the restarts (default 10000000; disk-heavy)
  --messages N             messages for W1, W2 and W6 (W4 uses N/4, W5 N/2); default 200000
  --rate N                 W3 publish rate, msgs/s (default 5000)
  --latency-seconds S      W3 duration (default 10)
  --tick-ms MS             W3 pacing timer interval (default 2 ms, i.e. 10 messages per tick)
  --quick                  scale down 10x (W1/W2 20000, W4 5000, W3 1 s) for smoke runs
  --runs N                 run every workload N times (default 1); each run spawns a fresh broker,
                           runs alternate between Switchyard and AMQP; figures are the median
                           with [min-max] over the runs
  --json FILE              write the result document to FILE
                           (default bench-results/<timestamp>.json in the repository, gitignored)
  --settle-ms MS           pause between workloads so the broker settles (default 2000)
  --stall-timeout S        fail a workload after S seconds without progress (default 30)
  --switchyard-user U, --switchyard-password P   credentials for connect()
  --broker-log-level L     log level passed to the spawned broker (default warn)
  --broker-node-args ARGS  extra node flags for the spawned broker, space-separated
                           (with "=": --broker-node-args="--trace-gc --cpu-prof")
  --data-dir-parent DIR    where the spawned broker's temporary data dir is created (default os tmpdir)
  --verbose                echo the spawned broker's output
  -h, --help`;

function parseOptions() {
  const { values } = parseArgs({
    options: {
      'amqp-url': { type: 'string' },
      'only-amqp': { type: 'boolean', default: false },
      protocol: { type: 'string', default: 'ws' },
      'broker-url': { type: 'string' },
      'broker-pid': { type: 'string' },
      'broker-management-url': { type: 'string' },
      runs: { type: 'string' },
      'amqp-pid': { type: 'string' },
      workloads: { type: 'string' },
      messages: { type: 'string' },
      rate: { type: 'string' },
      'latency-seconds': { type: 'string' },
      'tick-ms': { type: 'string' },
      'settle-ms': { type: 'string' },
      quick: { type: 'boolean', default: false },
      json: { type: 'string' },
      'stall-timeout': { type: 'string' },
      'switchyard-user': { type: 'string' },
      'switchyard-password': { type: 'string' },
      'broker-log-level': { type: 'string', default: 'warn' },
      'broker-node-args': { type: 'string' },
      'data-dir-parent': { type: 'string' },
      'deep-messages': { type: 'string' },
      verbose: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
    allowPositionals: false,
  });
  if (values.help) {
    console.log(HELP);
    process.exit(0);
  }
  const num = (name) => {
    if (values[name] === undefined) return undefined;
    const n = Number(values[name]);
    if (!Number.isFinite(n) || n <= 0) throw new Error(`--${name} must be a positive number`);
    return n;
  };
  if (!['ws', 'amqp'].includes(values.protocol)) throw new Error('--protocol must be ws or amqp');
  const overAmqp = values.protocol === 'amqp';
  if (overAmqp && values['broker-url'])
    throw new Error('--protocol amqp spawns its own broker (with --amqp-port); leave out --broker-url');
  const amqpUrl =
    values['amqp-url'] ?? (values['only-amqp'] || overAmqp ? 'amqp://guest:guest@127.0.0.1:5672' : undefined);
  const all = ['W1', 'W2', 'W3', 'W4', 'W5', 'W6', 'W7', 'W8', 'S1', 'S2', 'routing', 'shovel'];
  const workloads = values.workloads
    ? values.workloads
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean)
        .map((s) => (['routing', 'shovel'].includes(s.toLowerCase()) ? s.toLowerCase() : s.toUpperCase()))
    : all;
  // `deep` (scripts/bench/deep.mjs) runs only when named: it stores 10,000,000 messages.
  const known = [...all, 'deep'];
  for (const i in workloads) if (workloads[i].toLowerCase() === 'deep') workloads[i] = 'deep';
  for (const w of workloads)
    if (!known.includes(w)) throw new Error(`unknown workload ${w} (known: ${known.join(', ')})`);

  const runs = num('runs') ?? 1;
  if (!Number.isInteger(runs)) throw new Error('--runs must be a whole number');
  const scale = values.quick ? 0.1 : 1;
  const messages = num('messages');
  const stallMs = (num('stall-timeout') ?? 30) * 1000;
  const maxMs = Math.max(180_000, stallMs * 2);
  const cfg = {
    W1: { ...DEFAULTS.W1, messages: Math.round(messages ?? DEFAULTS.W1.messages * scale), stallMs, maxMs },
    W2: { ...DEFAULTS.W2, messages: Math.round(messages ?? DEFAULTS.W2.messages * scale), stallMs, maxMs },
    W3: {
      ...DEFAULTS.W3,
      rate: num('rate') ?? DEFAULTS.W3.rate,
      seconds: num('latency-seconds') ?? DEFAULTS.W3.seconds * scale,
      tickMs: num('tick-ms') ?? DEFAULTS.W3.tickMs,
      stallMs,
      maxMs,
    },
    W4: {
      ...DEFAULTS.W4,
      messages: Math.max(1, Math.round(messages ? messages / 4 : DEFAULTS.W4.messages * scale)),
      stallMs,
      maxMs,
    },
    W5: {
      ...DEFAULTS.W5,
      messages: Math.round(messages ? messages / 2 : DEFAULTS.W5.messages * scale),
      queues: values.quick ? 100 : DEFAULTS.W5.queues,
      stallMs,
      maxMs,
    },
    W6: { ...DEFAULTS.W6, messages: Math.round(messages ?? DEFAULTS.W6.messages * scale), stallMs, maxMs },
    W7: {
      ...DEFAULTS.W7,
      messages: Math.round(messages ? messages / 2 : DEFAULTS.W7.messages * scale),
      stallMs,
      maxMs,
    },
    S1: { ...DEFAULTS.S1, messages: Math.round(messages ?? DEFAULTS.S1.messages * scale), stallMs, maxMs },
    S2: {
      ...DEFAULTS.S2,
      messages: Math.round(messages ? messages * 5 : DEFAULTS.S2.messages * scale),
      stallMs,
      // 10,000,000 deliveries: a loaded 2-core machine needs well over the default 3 min.
      maxMs: Math.max(maxMs, 1_200_000),
    },
    W8: {
      ...DEFAULTS.W8,
      messages: Math.round(messages ? messages / 2 : DEFAULTS.W8.messages * scale),
      maxDelayMs: values.quick ? 2000 : DEFAULTS.W8.maxDelayMs,
      stallMs,
      maxMs,
    },
  };
  return {
    amqpUrl,
    protocol: values.protocol,
    onlyAmqp: values['only-amqp'],
    brokerUrl: values['broker-url'],
    brokerPid: values['broker-pid'] ? Number(values['broker-pid']) : undefined,
    brokerManagementUrl: values['broker-management-url'],
    runs,
    amqpPid: values['amqp-pid'] ? Number(values['amqp-pid']) : undefined,
    workloads,
    quick: values.quick,
    json: values.json,
    cfg,
    syUser: values['switchyard-user'],
    syPassword: values['switchyard-password'],
    logLevel: values['broker-log-level'],
    brokerNodeArgs: (values['broker-node-args'] ?? '').split(/\s+/).filter(Boolean),
    dataDirParent: values['data-dir-parent'],
    deepMessages: num('deep-messages'),
    verbose: values.verbose,
    settleMs: values['settle-ms'] !== undefined ? Number(values['settle-ms']) : 2000,
  };
}

const EXTRA_METRICS = [
  ['brokerPeakRssMB', 'broker peak RSS MB', 1],
  ['brokerCpuSeconds', 'broker CPU s', 2],
  ['clientCpuSeconds', 'bench client CPU s', 2],
  // The broker's own event-loop delay over the workload (spec/management.md §Metrics), to
  // correlate a latency tail with stalls of the broker's loop.
  ['brokerEventLoopDelayP99Ms', 'broker event-loop delay p99 ms', 2],
  ['brokerEventLoopDelayP999Ms', 'broker event-loop delay p99.9 ms', 2],
  ['brokerEventLoopDelayMaxMs', 'broker event-loop delay max ms', 1],
];

const log = (...a) => process.stderr.write(a.join(' ') + '\n');

let activeBroker = null; // spawned child to kill on signals

async function runTarget(name, opts, run = 1) {
  const out = { target: name, run, workloads: {} };
  let eld = null; // the Switchyard broker's event-loop delay windows, when its management API answers
  const selected = opts.workloads.filter((w) => w !== 'routing' && w !== 'deep' && w !== 'shovel');
  if (!selected.length) return out;
  let driver;
  let pid;
  let broker = null;
  try {
    if (name === 'switchyard') {
      let url = opts.brokerUrl;
      if (!url) {
        log(`[switchyard] spawning broker (node broker/dist/cli/main.js server) ...`);
        broker = await spawnBroker({
          logLevel: opts.logLevel,
          nodeArgs: opts.brokerNodeArgs,
          dataDirParent: opts.dataDirParent,
          verbose: opts.verbose,
          amqp: opts.protocol === 'amqp',
        });
        activeBroker = broker;
        url = broker.url;
        pid = broker.pid;
        eld = eventLoopDelayProbe(`http://127.0.0.1:${broker.managementPort}`, opts, log);
        log(`[switchyard] broker pid ${pid} at ${url}, data dir ${broker.dataDir}`);
      } else {
        pid = opts.brokerPid;
        if (opts.brokerManagementUrl) eld = eventLoopDelayProbe(opts.brokerManagementUrl, opts, log);
      }
      if (opts.protocol === 'amqp') {
        // the same amqplib driver as the AMQP side, against Switchyard's AMQP 0-9-1 port
        driver = await createAmqpDriver(broker.amqpUrl);
        out.url = driver.label;
        out.protocol = 'amqp';
        log(`[switchyard] driving ${driver.label} with amqplib`);
      } else {
        driver = await createSwitchyardDriver(url, { username: opts.syUser, password: opts.syPassword });
        out.url = url;
      }
    } else {
      driver = await createAmqpDriver(opts.amqpUrl);
      out.url = driver.label;
      pid = opts.amqpPid;
      // Auto-detect only a local broker on the default port (RabbitMQ's beam.smp).
      let u = null;
      try {
        u = new URL(opts.amqpUrl);
      } catch {
        /* amqplib will report it */
      }
      if (
        !pid &&
        u &&
        ['127.0.0.1', 'localhost', '[::1]'].includes(u.hostname) &&
        (u.port === '' || u.port === '5672')
      ) {
        const beams = pidsByComm('beam.smp');
        if (beams.length === 1) pid = beams[0];
        else if (beams.length > 1) log(`[amqp] ${beams.length} beam.smp processes; pass --amqp-pid for RSS figures`);
      }
      if (pid) log(`[amqp] measuring broker process ${pid} (${readComm(pid)})`);
    }
  } catch (err) {
    log(`[${name}] cannot run: ${err.message}`);
    out.error = err.message;
    for (const w of selected) out.workloads[w] = { error: `not run: ${firstLine(err.message)}` };
    if (broker) await broker.stop();
    activeBroker = null;
    return out;
  }
  out.brokerPid = pid ?? null;

  try {
    for (const w of selected) {
      if (broker?.exited()) {
        const e = broker.exited();
        out.workloads[w] = { error: `broker exited (code ${e.code}, signal ${e.signal})` };
        continue;
      }
      log(`[${name}] ${TITLES[w]} ...`);
      if (eld) await eld.reset(); // the window starts with the workload
      const sampler = startProcessSampler(pid);
      const c0 = process.cpuUsage();
      let res;
      try {
        const sampleRss = pid ? () => memOf(pid) : undefined;
        const sampleCpu = pid ? () => cpuOf(pid) : undefined;
        res = await WORKLOADS[w](driver, { ...opts.cfg[w], sampleRss, sampleCpu });
      } catch (err) {
        res = { error: err.message ?? String(err) };
        log(`[${name}] ${w} FAILED: ${res.error}`);
        if (broker?.exited()) log(`--- broker output (tail) ---\n${broker.logTail()}`);
      }
      const s = sampler.stop();
      const c1 = process.cpuUsage(c0);
      res.metrics ??= {};
      if (s) {
        res.metrics.brokerPeakRssMB = s.peakRssBytes ? round(s.peakRssBytes / MB, 1) : null;
        res.metrics.brokerCpuSeconds = s.cpuSeconds;
        res.process = s;
      }
      res.metrics.clientCpuSeconds = round((c1.user + c1.system) / 1e6, 2);
      const delay = eld ? await eld.reset() : null;
      if (delay) {
        res.eventLoopDelayMs = delay;
        res.metrics.brokerEventLoopDelayP99Ms = delay.p99;
        res.metrics.brokerEventLoopDelayP999Ms = delay.p999;
        res.metrics.brokerEventLoopDelayMaxMs = delay.max;
      }
      out.workloads[w] = res;
      if (!res.error) log(`[${name}] ${w} ${summary(w, res.metrics)}`);
      // Let the broker settle (queue deletion, GC, background flushes) before the next workload.
      await new Promise((r) => setTimeout(r, opts.settleMs));
    }
  } finally {
    const peaks = Object.values(out.workloads)
      .filter((r) => !r.error)
      .map((r) => r.process?.peakRssBytes)
      .filter(Boolean);
    const mem = pid ? memOf(pid) : null;
    out.peakRssMB = peaks.length ? round(Math.max(...peaks) / MB, 1) : null;
    out.endRssMB = mem?.rss ? round(mem.rss / MB, 1) : null;
    if (broker) {
      const e = await broker.stop();
      log(`[switchyard] broker stopped (${e?.signal ? `signal ${e.signal}` : `exit code ${e?.code}`})`);
      activeBroker = null;
    }
  }
  return out;
}

function readComm(pid) {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return '?';
  }
}

const firstLine = (s) => String(s).split('\n')[0];

function summary(w, m) {
  return METRICS[w]
    .slice(0, w === 'W3' ? 5 : 2)
    .map(([k, label, d]) => `${label}=${fmt(m[k], d)}`)
    .join(', ');
}

async function runRouting(opts) {
  const file = path.join(here, 'routing.mjs');
  if (!existsSync(file)) {
    log('[routing] scripts/bench/routing.mjs not present: skipped');
    return { skipped: 'scripts/bench/routing.mjs not present' };
  }
  try {
    log('[routing] running runRoutingBench() ...');
    const mod = await import(pathToFileURL(file).href);
    if (typeof mod.runRoutingBench !== 'function') return { skipped: 'routing.mjs does not export runRoutingBench()' };
    const figures = await mod.runRoutingBench({ quick: opts.quick });
    return { figures };
  } catch (err) {
    log(`[routing] FAILED: ${err.stack ?? err.message}`);
    return { error: err.message ?? String(err) };
  }
}

async function runShovel(opts) {
  try {
    const { runShovelBench } = await import(pathToFileURL(path.join(here, 'shovel.mjs')).href);
    const messages = Math.max(1000, Math.round(opts.cfg.W1.messages / 4));
    log(`[shovel] two brokers, on-confirm shovel of ${messages.toLocaleString('en')} persistent 1 KiB messages ...`);
    return await runShovelBench({ messages, stallMs: opts.cfg.W1.stallMs, dataDirParent: opts.dataDirParent, log });
  } catch (err) {
    log(`[shovel] FAILED: ${err.stack ?? err.message}`);
    return { error: err.message ?? String(err) };
  }
}

function printShovel(shovel, targets) {
  if (!shovel) return;
  if (shovel.error) return console.log(`\nShovel: ERROR ${shovel.error}`);
  const w1 = targets.find((t) => t.target === 'switchyard')?.workloads.W1?.metrics?.msgsPerSec;
  const vsW1 =
    typeof w1 === 'number' ? ` = ${fmt(shovel.msgsPerSec / w1, 2)}x W1 end-to-end of this run (${fmt(w1)} msgs/s)` : '';
  console.log(
    `\nShovel (scripts/bench/shovel.mjs; two brokers, on-confirm, ws://, persistent 1 KiB, ${fmt(shovel.messages)} msgs):`,
  );
  console.log(
    `  ${fmt(shovel.msgsPerSec)} msgs/s${vsW1}; broker CPU s: source ${shovel.srcBrokerCpuS}, destination (runs the link) ${shovel.dstBrokerCpuS}; load average ${shovel.loadAverage.join(' ')}`,
  );
  console.log(
    `  restore -> first moved message (reconnect-delay 0.1 s, 2 s outage): median ${shovel.restoreToFirstMoveMedianMs} ms (${shovel.restoreToFirstMoveMs.join(', ')})`,
  );
}

async function runDeep(opts) {
  try {
    const { runDeepBench } = await import(pathToFileURL(path.join(here, 'deep.mjs')).href);
    const messages = opts.deepMessages ?? (opts.quick ? 1_000_000 : 10_000_000);
    log(`[deep] ${messages.toLocaleString('en')} persistent 100-byte messages across 10 queues ...`);
    return await runDeepBench({ messages, dataDirParent: opts.dataDirParent, log });
  } catch (err) {
    log(`[deep] FAILED: ${err.stack ?? err.message}`);
    return { error: err.message ?? String(err) };
  }
}

function buildTable(results, targets) {
  const names = targets.map((t) => t.target);
  const header = ['Workload', 'Metric', ...names.map(colName)];
  const both = names.length === 2;
  if (both) header.push('ratio sy/amqp');
  const rows = [];
  const workloads = [...new Set(targets.flatMap((t) => Object.keys(t.workloads)))];
  for (const w of workloads) {
    const errs = targets.map((t) => t.workloads[w]?.error);
    const metrics = [...METRICS[w], ...EXTRA_METRICS];
    let first = true;
    for (const [key, label, digits] of metrics) {
      const vals = targets.map((t) => (t.workloads[w]?.error ? undefined : t.workloads[w]?.metrics?.[key]));
      if (vals.every((v) => v === undefined || v === null) && !(first && errs.some(Boolean))) continue;
      const cells = vals.map((v, i) => {
        if (errs[i]) return first ? 'ERROR' : '-';
        const sp = targets[i].workloads[w]?.spread?.[key];
        return sp ? fmtSpread(sp, digits) : fmt(v, digits);
      });
      const row = [first ? TITLES[w] : '', label, ...cells];
      if (both) {
        const [a, b] = vals;
        row.push(typeof a === 'number' && typeof b === 'number' && b !== 0 ? `${fmt(a / b, 2)}x` : '-');
      }
      rows.push(row);
      first = false;
    }
  }
  return table(header, rows);
}
let colName = (t) => (t === 'switchyard' ? 'Switchyard' : 'AMQP');

function printRouting(routing) {
  if (!routing) return;
  if (routing.skipped) return console.log(`\nRouting: skipped (${routing.skipped})`);
  if (routing.error) return console.log(`\nRouting: ERROR ${routing.error}`);
  console.log('\nRouting (scripts/bench/routing.mjs):');
  const f = routing.figures;
  if (Array.isArray(f) && f.every((r) => r && typeof r === 'object')) console.table(f);
  else console.log(typeof f === 'string' ? f : JSON.stringify(f, null, 2));
}

async function main() {
  let opts;
  try {
    opts = parseOptions();
  } catch (err) {
    console.error(`${err.message}\n\n${HELP}`);
    process.exit(2);
  }
  if (opts.protocol === 'amqp') colName = (t) => (t === 'switchyard' ? 'Switchyard (AMQP)' : 'AMQP broker');
  for (const sig of ['SIGINT', 'SIGTERM']) {
    process.on(sig, async () => {
      log(`\n${sig}: stopping`);
      if (activeBroker) await activeBroker.stop().catch(() => {});
      process.exit(130);
    });
  }

  const startedAt = new Date();
  const fx = w4Fixture();
  log(
    `Switchyard bench — ${os.cpus().length} CPUs (${os.cpus()[0]?.model?.trim()}), node ${process.version}${opts.quick ? ', QUICK mode' : ''}`,
  );
  log(
    `${opts.protocol === 'amqp' ? 'protocol amqp: amqplib drives both brokers; ' : ''}workloads: ${opts.workloads.join(', ')}; W1/W2 ${opts.cfg.W1.messages}/${opts.cfg.W2.messages} msgs, W3 ${opts.cfg.W3.rate} msgs/s x ${opts.cfg.W3.seconds} s (tick ${opts.cfg.W3.tickMs} ms), W4 ${opts.cfg.W4.messages} msgs`,
  );
  if (opts.workloads.includes('W4'))
    log(
      `W4 topic fixture: ${fx.patterns.length} bindings, ${fx.keys.length} keys round-robin, average ${fmt(fx.avgMatchedQueues, 3)} queues matched per message`,
    );

  const targetNames = [];
  if (!opts.onlyAmqp) targetNames.push('switchyard');
  if (opts.amqpUrl) targetNames.push('amqp');
  // Each run spawns a fresh broker and runs every selected workload on it in order (so W6
  // still measures a broker after W1-W5); runs alternate between the targets, so a machine
  // that slows down over time affects both alike.
  const perTarget = Object.fromEntries(targetNames.map((t) => [t, []]));
  for (let run = 1; run <= opts.runs; run++) {
    if (opts.runs > 1) log(`--- run ${run}/${opts.runs} ---`);
    for (const t of targetNames) perTarget[t].push(await runTarget(t, opts, run));
  }
  const targets = targetNames.map((t) => combineRuns(perTarget[t]));
  const routing = opts.workloads.includes('routing') ? await runRouting(opts) : undefined;
  const deep = opts.workloads.includes('deep') && !opts.onlyAmqp ? await runDeep(opts) : undefined;
  const shovel = opts.workloads.includes('shovel') && !opts.onlyAmqp ? await runShovel(opts) : undefined;

  // Ratios switchyard / amqp for every numeric metric.
  let ratios;
  if (targets.length === 2) {
    ratios = {};
    const [sy, am] = targets;
    for (const w of Object.keys(sy.workloads)) {
      if (sy.workloads[w]?.error || am.workloads[w]?.error) continue;
      const a = sy.workloads[w]?.metrics ?? {};
      const b = am.workloads[w]?.metrics ?? {};
      for (const k of Object.keys(a))
        if (typeof a[k] === 'number' && typeof b[k] === 'number' && b[k] !== 0)
          (ratios[w] ??= {})[k] = round(a[k] / b[k], 3);
    }
  }

  const doc = {
    bench: 'switchyard',
    startedAt: startedAt.toISOString(),
    durationSeconds: round((Date.now() - startedAt.getTime()) / 1000, 1),
    machine: {
      cpus: os.cpus().length,
      cpuModel: os.cpus()[0]?.model?.trim(),
      memGB: round(os.totalmem() / 2 ** 30, 1),
      platform: `${os.platform()} ${os.release()}`,
      node: process.version,
    },
    options: {
      quick: opts.quick,
      protocol: opts.protocol,
      runs: opts.runs,
      workloads: opts.workloads,
      config: opts.cfg,
      amqpUrl: opts.amqpUrl ? opts.amqpUrl.replace(/\/\/([^:@/]+):([^@/]*)@/, '//$1:***@') : undefined,
    },
    w4Fixture: { patterns: fx.patterns, keys: fx.keys, avgMatchedQueues: round(fx.avgMatchedQueues, 4) },
    results: Object.fromEntries(targets.map((t) => [t.target, t])),
    ratios,
    routing,
    deep,
    shovel,
  };

  const ran = targets.filter((t) => Object.keys(t.workloads).length);
  if (ran.length) {
    console.log('\n' + buildTable(doc.results, ran));
    if (opts.runs > 1) console.log(`figures: median [min-max] over ${opts.runs} runs, each on a fresh broker.`);
    if (ran.length === 2)
      console.log(
        'ratio = Switchyard / AMQP: above 1 is better for rates, below 1 is better for latency, RSS and CPU.',
      );
    if (opts.protocol === 'amqp') console.log('both columns: amqplib over AMQP 0-9-1 (--protocol amqp).');
    for (const t of ran) {
      const errs = Object.entries(t.workloads).filter(([, r]) => r.error);
      for (const [w, r] of errs) console.log(`${colName(t.target)} ${w} error: ${r.error}`);
      for (const [w, r] of Object.entries(t.workloads).filter(([, r]) => !r.error && r.runErrors))
        console.log(`${colName(t.target)} ${w} failed in ${r.runErrors.length} run(s): ${r.runErrors.join('; ')}`);
      console.log(
        `${colName(t.target)}: ${t.url ?? '-'}${t.peakRssMB ? `, broker peak RSS over the run ${fmt(t.peakRssMB, 1)} MB` : ''}`,
      );
    }
  }
  printRouting(routing);
  printShovel(shovel, targets);
  if (deep) console.log(`\nDeep backlog (scripts/bench/deep.mjs):\n${JSON.stringify(deep, null, 2)}`);
  console.log('\n' + JSON.stringify(doc, null, 2));
  const file = opts.json ?? defaultResultFile(repoRoot, startedAt);
  await mkdir(path.dirname(path.resolve(file)), { recursive: true });
  await writeFile(file, JSON.stringify(doc, null, 2) + '\n');
  log(`results written to ${path.resolve(file)}`);
  const failed =
    targets.some((t) => t.error || Object.values(t.workloads).some((r) => r.error || r.runErrors)) ||
    routing?.error ||
    deep?.error ||
    shovel?.error;
  process.exit(failed ? 1 : 0);
}

main().catch(async (err) => {
  console.error(err.stack ?? err);
  if (activeBroker) await activeBroker.stop().catch(() => {});
  process.exit(1);
});
