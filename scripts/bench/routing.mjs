#!/usr/bin/env node
// Routing micro-benchmark: routing decisions per second of the pure routing layer (no I/O).
//
//   npx tsc -b broker && node scripts/bench/routing.mjs [--quick]
//
// Builds a topic exchange with 100,000 bindings (literal, '*' and '#' patterns over keys like
// orders.<id>.eu) and times route() over key streams that mostly hit the per-key result cache,
// mostly miss it, and an adversarial many-'#' case; direct and headers exchanges for scale.
// Prints a table and one JSON line. scripts/bench/run.mjs calls runRoutingBench().
import { fileURLToPath } from 'node:url';

const ROUTING_MODULE = new URL('../../broker/dist/routing/index.js', import.meta.url);

/** Tunables; `quick` scales them down for smoke runs. */
const DEFAULTS = {
  topicBindings: 100_000,
  ids: 5_000,
  hotKeys: 1_000,
  missKeys: 200_000,
  directBindings: 100_000,
  headersBindings: 1_000,
  /** Wall time each case runs for, after warm-up. */
  caseMillis: 1_500,
  warmupMillis: 500,
};
const QUICK = {
  ...DEFAULTS,
  topicBindings: 20_000,
  ids: 1_000,
  missKeys: 50_000,
  directBindings: 20_000,
  caseMillis: 300,
  warmupMillis: 100,
};

const REGIONS = ['eu', 'us', 'ap', 'sa'];
const SERVICES = ['orders', 'payments', 'shipping', 'audit', 'billing', 'users', 'stock', 'mail'];

/** mulberry32: seeded, so every run builds the same fixture. */
function random(seed) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const queueBinding = (source, routingKey, queue, args = {}) => ({
  source,
  destination: queue,
  destinationKind: 'queue',
  routingKey,
  arguments: args,
});

/**
 * A realistic pattern mix, as [pattern, queue]: ~60% literal, ~25% with '*', ~15% with '#'
 * (a few broad "audit" patterns shared by one queue each). About 3 queues match a key.
 */
function topicBinding(next, cfg, i) {
  const id = Math.floor(next() * cfg.ids);
  const region = REGIONS[Math.floor(next() * REGIONS.length)];
  const service = SERVICES[Math.floor(next() * SERVICES.length)];
  const queue = `q${i % 5_000}`;
  const r = next();
  if (r < 0.6) return [`${service}.${id}.${region}`, queue];
  if (r < 0.75) return [`${service}.${id}.*`, queue];
  if (r < 0.85) return [`*.${id}.${region}`, queue];
  if (r < 0.95) return [`${service}.${id}.#`, queue];
  if (r < 0.999) return [`#.${id}.${region}`, queue];
  return [`${service}.*.${region}.#`, `audit.${service}.${region}`];
}

function topicKey(next, cfg) {
  const service = SERVICES[Math.floor(next() * SERVICES.length)];
  const id = Math.floor(next() * cfg.ids);
  const region = REGIONS[Math.floor(next() * REGIONS.length)];
  return `${service}.${id}.${region}`;
}

/** Runs `decide(i)` over and over for about `millis`; returns decisions per second. */
function timeLoop(decide, millis) {
  let count = 0;
  const start = process.hrtime.bigint();
  const budget = BigInt(millis) * 1_000_000n;
  let elapsed = 0n;
  // Check the clock every 1,024 decisions so timing itself stays off the profile.
  while (elapsed < budget) {
    for (let j = 0; j < 1024; j++) decide(count++);
    elapsed = process.hrtime.bigint() - start;
  }
  return (count * 1e9) / Number(elapsed);
}

/**
 * Times route() on `exchange` over `keys` (and `headersFor(i)`, if given) and returns a row.
 * `extra` fields are added to (or override) the row.
 */
function measure(routing, cfg, { name, exchange, keys, headersFor, extra = {} }) {
  const lookup = () => undefined;
  const decide = (i) => routing.route(exchange, keys[i % keys.length], headersFor?.(i), lookup).queues.length;
  timeLoop(decide, cfg.warmupMillis);
  const perSecond = timeLoop(decide, cfg.caseMillis);
  let matched = 0;
  const sample = Math.min(keys.length, 2_000);
  for (let i = 0; i < sample; i++) matched += decide(i);
  return {
    case: name,
    bindings: exchange.matcher.size,
    distinctKeys: keys.length,
    decisionsPerSec: Math.round(perSecond),
    nsPerDecision: Math.round(1e9 / perSecond),
    avgQueues: Math.round((matched / sample) * 100) / 100,
    ...extra,
  };
}

function buildTopic(routing, cfg, options) {
  const next = random(1);
  const matcher = routing.createMatcher('topic', options);
  const t0 = performance.now();
  let i = 0;
  while (matcher.size < cfg.topicBindings) {
    const [pattern, queue] = topicBinding(next, cfg, i++);
    matcher.add(queueBinding('events', pattern, queue));
  }
  return { exchange: { name: 'events', matcher }, buildMs: Math.round(performance.now() - t0) };
}

function topicCases(routing, cfg) {
  const { exchange, buildMs } = buildTopic(routing, cfg);
  const nextKey = random(2);
  const hot = Array.from({ length: cfg.hotKeys }, () => topicKey(nextKey, cfg));
  const cold = Array.from({ length: cfg.missKeys }, () => topicKey(nextKey, cfg));
  // Same trie with caching off: the raw trie walk.
  const uncached = buildTopic(routing, cfg, { topicCacheSize: 0 }).exchange;
  return [
    measure(routing, cfg, { name: 'topic, cache-hit heavy', exchange, keys: hot, extra: { buildMs } }),
    measure(routing, cfg, { name: 'topic, cache-miss heavy', exchange, keys: cold }),
    measure(routing, cfg, { name: 'topic, no cache', exchange: uncached, keys: cold }),
  ];
}

function adversarialCase(routing, cfg) {
  const matcher = routing.createMatcher('topic', { topicCacheSize: 0 });
  const run = (n, word) => Array(n).fill(word).join('.');
  const patterns = [
    `${run(5, '#')}.a`,
    `${run(10, '#')}.z.${run(10, '#')}.y`,
    '#.*.#.*.#.*.#.*.#.q',
    run(30, '#'),
    `*.${run(8, '#')}.*.b.${run(8, '#')}`,
  ];
  for (const p of patterns) matcher.add(queueBinding('adv', p, `q:${p.length}`));
  const keys = [run(64, 'b'), `${run(100, 'x')}.a`, `${run(50, 'z')}.${run(50, 'y')}`, run(200, 'w')];
  const name = "topic, adversarial many-'#' (64-201 words)";
  return measure(routing, cfg, { name, exchange: { name: 'adv', matcher }, keys });
}

function directCase(routing, cfg) {
  const matcher = routing.createMatcher('direct');
  for (let i = 0; i < cfg.directBindings; i++) {
    matcher.add(queueBinding('d', `key.${i}`, `q${i % 5_000}`));
  }
  const next = random(3);
  // 10% of keys have no binding.
  const keys = Array.from({ length: 10_000 }, () => `key.${Math.floor(next() * cfg.directBindings * 1.1)}`);
  return measure(routing, cfg, { name: 'direct', exchange: { name: 'd', matcher }, keys });
}

function headersCase(routing, cfg) {
  const matcher = routing.createMatcher('headers');
  const next = random(4);
  for (let i = 0; i < cfg.headersBindings; i++) {
    const args = {
      'x-match': next() < 0.5 ? 'all' : 'any',
      region: REGIONS[i % REGIONS.length],
      tenant: `t${Math.floor(next() * 200)}`,
    };
    matcher.add(queueBinding('h', '', `q${i}`, args));
  }
  const headers = Array.from({ length: 1_000 }, () => ({
    region: REGIONS[Math.floor(next() * REGIONS.length)],
    tenant: `t${Math.floor(next() * 200)}`,
    priority: 3,
  }));
  return measure(routing, cfg, {
    name: 'headers (distinct header tables)',
    exchange: { name: 'h', matcher },
    keys: [''],
    headersFor: (i) => headers[i % headers.length],
    extra: { distinctKeys: headers.length },
  });
}

/**
 * Runs every case and returns one row per case: decisions per second, nanoseconds per
 * decision, bindings, distinct keys and the average number of queues per decision.
 * @param {{ quick?: boolean }} [options]
 */
export async function runRoutingBench(options = {}) {
  const cfg = options.quick ? QUICK : DEFAULTS;
  let routing;
  try {
    routing = await import(ROUTING_MODULE.href);
  } catch (err) {
    const file = fileURLToPath(ROUTING_MODULE);
    throw new Error(`cannot load ${file}: build first (npx tsc -b broker)`, { cause: err });
  }
  // Small fixtures first: the big topic tries become garbage that would slow later cases.
  return [
    directCase(routing, cfg),
    headersCase(routing, cfg),
    ...topicCases(routing, cfg),
    adversarialCase(routing, cfg),
  ];
}

function printTable(rows) {
  const columns = ['case', 'bindings', 'distinctKeys', 'decisionsPerSec', 'nsPerDecision', 'avgQueues'];
  const cell = (v) => (typeof v === 'number' ? v.toLocaleString('en-US') : String(v));
  const widths = columns.map((c) => Math.max(c.length, ...rows.map((r) => cell(r[c]).length)));
  const line = (values) => values.map((v, i) => (i === 0 ? v.padEnd(widths[i]) : v.padStart(widths[i]))).join('  ');
  console.log(line(columns));
  console.log(line(widths.map((w) => '-'.repeat(w))));
  for (const r of rows) console.log(line(columns.map((c) => cell(r[c]))));
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const quick = process.argv.includes('--quick');
  const started = performance.now();
  const rows = await runRoutingBench({ quick });
  printTable(rows);
  const seconds = Math.round((performance.now() - started) / 100) / 10;
  const summary = { bench: 'routing', node: process.version, quick, seconds, results: rows };
  console.log(JSON.stringify(summary));
}
