// W3 with evidence (docs/perf/tail-latency.md): runs W3's load (persistent 1 KiB messages to a
// durable queue at a fixed rate, paced by a 2 ms timer, publisher confirms with <= 1,000
// outstanding, one consumer with prefetch 100 acking each) through @switchyard/client
// against a spawned broker, with stall-probe.mjs preloaded in the broker and in this process.
// Prints the latency percentiles, which slow messages overlapped a GC pause or a loop stall
// of the broker or of the client, the pauses and stalls themselves, and the CPU time of
// every thread of both processes over the run (main thread, V8 GC helpers, libuv pool where
// lmdb-js commits). Usage (must run with the probe preloaded):
//   node --import=./scripts/bench/trace/stall-probe.mjs scripts/bench/trace/w3-trace.mjs \
//     [--rate 5000] [--seconds 10] [--transient] [--prefetch 100] [--stages] [--broker-node-args="--trace-gc"] [--json FILE]
// --stages adds where each message spent its time (stage-probe.mjs): client outbox, wire to
// the broker, broker processing up to the deliver frame, the broker's end of turn, wire to the
// client, client decode up to the callback.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { spawnBroker } from '../spawn-broker.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const probe = path.join(here, 'stall-probe.mjs');
const { values: opt } = parseArgs({
  options: {
    rate: { type: 'string', default: '5000' },
    seconds: { type: 'string', default: '10' },
    transient: { type: 'boolean', default: false },
    stages: { type: 'boolean', default: false },
    prefetch: { type: 'string', default: '100' },
    'broker-node-args': { type: 'string', default: '' },
    json: { type: 'string' },
  },
});
if (typeof globalThis.__stallProbeDump !== 'function') {
  console.error(`run with the probe preloaded: node --import=${path.relative(process.cwd(), probe)} ...`);
  process.exit(2);
}
// --stages: stage-probe.mjs in both processes (it patches ws, so it is loaded before connecting).
if (opt.stages) await import('./stage-probe.mjs');
const sdk = await import('@switchyard/client');
const { FRAME_SCHEMAS } = await import('@switchyard/client/protocol');
const rate = Number(opt.rate);
const total = Math.round(rate * Number(opt.seconds));
const tickMs = 2;
const window = 1000;
// Where our own probe writes (read at its import, before the broker's path is set below).
const selfProbeOut = process.env.STALL_PROBE_OUT || path.join(os.tmpdir(), `stall-probe-${process.pid}.json`);
const brokerProbeOut = path.join(os.tmpdir(), `w3-trace-broker-${process.pid}.json`);
process.env.STALL_PROBE_OUT = brokerProbeOut; // inherited by the spawned broker only: ours was read at start
const stageArgs = opt.stages ? [`--import=${path.join(here, 'stage-probe.mjs')}`] : [];
const broker = await spawnBroker({
  nodeArgs: [`--import=${probe}`, ...stageArgs, ...opt['broker-node-args'].split(/\s+/).filter(Boolean)],
});

/** CPU ms per thread of `pid`, by "name/tid". */
function threadCpu(pid) {
  const m = {};
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const st = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const f = st.slice(st.lastIndexOf(')') + 2).split(' ');
      m[`${st.slice(st.indexOf('(') + 1, st.lastIndexOf(')'))}/${tid}`] = (Number(f[11]) + Number(f[12])) * 10;
    } catch {
      /* thread ended */
    }
  }
  return m;
}
const cpuDiff = (a, b) =>
  Object.entries(b)
    .map(([k, v]) => [k, v - (a[k] ?? 0)])
    .filter(([, d]) => d >= 20)
    .map(([k, d]) => `${k}=${d}`)
    .join(' ');

const T0 = performance.timeOrigin;
const pubConn = await sdk.connect(broker.url, { reconnect: false });
const conConn = await sdk.connect(broker.url, { reconnect: false });
// Closing at the end rejects what is still pending on the other connection: not a failure.
for (const c of [pubConn, conConn]) c.on('error', () => {});
process.on('unhandledRejection', (err) => {
  if (err?.name !== 'ConnectionClosedError') throw err;
});
const pub = await pubConn.createChannel();
const con = await conConn.createChannel();
const q = `w3trace.${process.pid}`;
await pub.assertQueue(q, { durable: true });
await con.prefetch(Number(opt.prefetch));
const sent = new Float64Array(total);
const lat = new Float64Array(total);
let consumed = 0;
let published = 0;
let outstanding = 0;
let done;
const allConsumed = new Promise((r) => (done = r));
await con.consume(q, (msg) => {
  const t = performance.now();
  lat[msg.content.readUInt32LE(8)] = t - msg.content.readDoubleLE(0);
  con.ack(msg);
  if (++consumed === total) done();
});
const cpuB0 = threadCpu(broker.pid);
const cpuC0 = threadCpu(process.pid);
const t0 = performance.now();
const timer = setInterval(() => {
  const target = Math.min(total, Math.ceil(((performance.now() - t0) / 1000) * rate));
  while (published < target && outstanding < window) {
    const body = Buffer.alloc(1024);
    const s = performance.now();
    body.writeDoubleLE(s, 0);
    body.writeUInt32LE(published, 8);
    sent[published++] = s;
    outstanding++;
    pub.publish('', q, body, { persistent: !opt.transient }).then(
      () => outstanding--,
      () => outstanding--,
    );
  }
  if (published >= total) clearInterval(timer);
}, tickMs);
await allConsumed;
const cpuB = cpuDiff(cpuB0, threadCpu(broker.pid));
const cpuC = cpuDiff(cpuC0, threadCpu(process.pid));
await pub.deleteQueue(q).catch(() => {});
await pubConn.close().catch(() => {});
await conConn.close().catch(() => {});
await broker.stop();
globalThis.__stallProbeDump();
const client = JSON.parse(readFileSync(selfProbeOut, 'utf8'));
const brk = JSON.parse(readFileSync(brokerProbeOut, 'utf8'));

const sorted = Float64Array.from(lat).sort();
const pct = (p) => sorted[Math.min(total - 1, Math.floor((p / 100) * total))];
const f2 = (x) => x.toFixed(2);
console.log(
  `W3 ${rate}/s x ${opt.seconds} s, ${opt.transient ? 'transient' : 'persistent'}, prefetch ${opt.prefetch}: latency ms p50 ${f2(pct(50))} p90 ${f2(pct(90))} p99 ${f2(pct(99))} p99.9 ${f2(pct(99.9))} max ${f2(sorted[total - 1])}`,
);
const overlaps = (list, a, b) => list.some(([s, d]) => s < b && s + d > a);
for (const thr of [1, 5]) {
  const c = { slow: 0, brokerGc: 0, clientGc: 0, brokerStall: 0, clientStall: 0, none: 0 };
  for (let i = 0; i < total; i++) {
    if (lat[i] <= thr) continue;
    c.slow++;
    const a = T0 + sent[i];
    const b = a + lat[i];
    const hits = [
      ['brokerGc', overlaps(brk.gc, a, b)],
      ['clientGc', overlaps(client.gc, a, b)],
      ['brokerStall', overlaps(brk.stalls, a, b)],
      ['clientStall', overlaps(client.stalls, a, b)],
    ];
    for (const [k, hit] of hits) if (hit) c[k]++;
    if (!hits.some(([, hit]) => hit)) c.none++;
  }
  console.log(`  messages > ${thr} ms overlapping:`, JSON.stringify(c));
}
const dist = (l) => {
  const d = l.map((x) => x[1]).sort((x, y) => x - y);
  const sum = d.reduce((s, x) => s + x, 0);
  return d.length
    ? `n=${d.length} p50=${f2(d[d.length >> 1])} max=${f2(d[d.length - 1])} sum=${sum.toFixed(0)}`
    : 'n=0';
};
const cpuSplit = (l) => {
  let on = 0;
  let off = 0;
  for (const [, d, c] of l) {
    on += Math.min(c, d);
    off += Math.max(0, d - c);
  }
  return `busy ${on.toFixed(0)} ms, waiting for a core ${off.toFixed(0)} ms`;
};
for (const [who, t] of [
  ['broker', brk],
  ['client', client],
]) {
  console.log(`  ${who} GC pauses ms: ${dist(t.gc)} | loop stalls > 2 ms: ${dist(t.stalls)} (${cpuSplit(t.stalls)})`);
}
console.log(`  thread CPU ms over the run: broker ${cpuB}`);
console.log(`                              client ${cpuC}`);
if (opt.stages) printStages();
if (opt.json) writeFileSync(opt.json, JSON.stringify({ sent: [...sent], lat: [...lat], broker: brk, client }));
process.exit(0);

function printStages() {
  const code = (name) => FRAME_SCHEMAS[name].code;
  const bs = brk.stages;
  const cs = client.stages;
  const byTime = (list, type) =>
    list
      .filter(([, t]) => t === type)
      .map(([t]) => t)
      .sort((a, b) => a - b);
  const firstAtOrAfter = (times, t) => {
    let lo = 0;
    let hi = times.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (times[mid] < t) lo = mid + 1;
      else hi = mid;
    }
    return lo < times.length ? times[lo] : NaN;
  };
  const lastAtOrBefore = (times, t) => {
    let lo = 0;
    let hi = times.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (times[mid] <= t) lo = mid + 1;
      else hi = mid;
    }
    return lo > 0 ? times[lo - 1] : NaN;
  };
  const clientPubSends = byTime(cs.sends, code('publish'));
  const clientDeliverRecvs = byTime(cs.receives, code('deliver'));
  const brokerDeliverSends = byTime(bs.sends, code('deliver'));
  const brokerIn = new Float64Array(total).fill(NaN);
  const deliverQ = new Float64Array(total).fill(NaN);
  for (const [i, t] of bs.brokerIn) if (i >= 0 && i < total && Number.isNaN(brokerIn[i])) brokerIn[i] = t;
  for (const [i, t] of bs.deliverQueued) if (i >= 0 && i < total && Number.isNaN(deliverQ[i])) deliverQ[i] = t;
  const names = [
    'client outbox (publish -> ws.send)',
    'wire + broker wakeup (-> publish decoded)',
    'broker: route, enqueue, dispatch (-> deliver queued)',
    'broker end of turn (-> ws.send)',
    'wire + client wakeup (-> message event)',
    'client decode + earlier frames (-> callback)',
  ];
  const rows = names.map(() => []);
  const full = [];
  for (let i = 0; i < total; i++) {
    const a = T0 + sent[i];
    const h = a + lat[i];
    const b = firstAtOrAfter(clientPubSends, a);
    const bt = brokerSent(i);
    const pts = [a, b, brokerIn[i], deliverQ[i], bt, lastAtOrBefore(clientDeliverRecvs, h), h];
    if (pts.some((x) => Number.isNaN(x))) continue;
    const d = pts.slice(1).map((x, k) => x - pts[k]);
    d.forEach((x, k) => rows[k].push(x));
    full.push([lat[i], d]);
  }
  function brokerSent(i) {
    return Number.isNaN(deliverQ[i]) ? NaN : firstAtOrAfter(brokerDeliverSends, deliverQ[i]);
  }
  const q = (arr, p) => {
    const s = [...arr].sort((x, y) => x - y);
    return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN;
  };
  full.sort((x, y) => y[0] - x[0]);
  const worst = full.slice(0, Math.max(1, Math.floor(full.length / 100)));
  console.log(`  stages of ${full.length} matched messages, ms (clocks: both processes' performance.timeOrigin):`);
  console.log(`    ${'stage'.padEnd(54)} p50    p99    p99.9  | mean in the slowest 1%`);
  names.forEach((n, k) => {
    const mean = worst.reduce((s, [, d]) => s + d[k], 0) / worst.length;
    console.log(
      `    ${n.padEnd(54)} ${f2(q(rows[k], 50)).padEnd(6)} ${f2(q(rows[k], 99)).padEnd(6)} ${f2(q(rows[k], 99.9)).padEnd(6)} | ${f2(mean)}`,
    );
  });
}
