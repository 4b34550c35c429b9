// The benchmark workloads. Each takes a driver (switchyard-driver.mjs or amqp-driver.mjs,
// identical shape) and a config, uses its own fresh queue/exchange names, deletes them
// afterwards and returns { metrics, info }.
import { performance } from 'node:perf_hooks';
import { randomBytes } from 'node:crypto';
import { percentiles, round } from './stats.mjs';

const now = () => performance.now();
const BODY_SIZE = 1024;

export const DEFAULTS = {
  W1: { messages: 200_000, window: 1000, prefetch: 100 },
  W2: { messages: 200_000 },
  // W3 paces with a 2 ms timer (10 messages per tick at 5,000/s): coarser ticks send bigger
  // bursts and the median then measures queueing behind the burst (10 ms/50 msgs adds ~1.5 ms).
  W3: { rate: 5000, seconds: 10, tickMs: 2, window: 1000, prefetch: 100 },
  W4: { messages: 50_000, window: 1000, prefetch: 100 },
  W5: { messages: 100_000, queues: 1000, window: 1000, prefetch: 100 },
  W6: { messages: 200_000, window: 1000, prefetch: 1000 },
  W7: { messages: 100_000, window: 1000, ttlMs: 2000 },
  W8: { messages: 100_000, window: 1000, maxDelayMs: 10_000 },
  S1: { messages: 200_000, window: 1000, prefetch: 1000, readers: 3 },
  S2: { messages: 1_000_000, window: 1000, prefetch: 1000, readers: 10 },
};

// Metric descriptions, in print order: [key, label, digits]
export const METRICS = {
  W1: [
    ['msgsPerSec', 'end-to-end msgs/s (1st publish -> last ack)'],
    ['publishConfirmPerSec', 'publish-confirm msgs/s'],
  ],
  W2: [['msgsPerSec', 'end-to-end msgs/s (1st publish -> last receive)']],
  W3: [
    ['p50', 'latency p50 ms', 2],
    ['p90', 'latency p90 ms', 2],
    ['p99', 'latency p99 ms', 2],
    ['p99.9', 'latency p99.9 ms', 2],
    ['max', 'latency max ms', 2],
    ['achievedRate', 'achieved publish msgs/s'],
    ['confirmP50', 'confirm latency p50 ms', 2],
    ['confirmP99', 'confirm latency p99 ms', 2],
  ],
  W4: [
    ['deliveriesPerSec', 'deliveries/s'],
    ['publishesPerSec', 'publishes/s (confirmed)'],
    ['avgMatchedQueues', 'avg queues matched per message', 3],
  ],
  W5: [
    ['msgsPerSec', 'msgs/s (1st publish -> last ack)'],
    ['publishesPerSec', 'publishes/s (confirmed)'],
  ],
  W6: [
    ['publishPerSec', 'publish msgs/s (no consumer)'],
    ['drainPerSec', 'drain msgs/s (prefetch 1000)'],
    ['backlogRssMB', 'broker RSS MB with backlog', 1],
    ['backlogAnonMB', '  of which heap/anon MB', 1],
    ['backlogFileMB', '  of which mapped file (LMDB) MB', 1],
  ],
  W7: [
    ['expiriesPerSec', 'expiries dead-lettered/s'],
    ['brokerCpuPerExpiryUs', 'broker CPU us per expiry', 1],
  ],
  W8: [
    ['latenessP50', 'delivery after due p50 ms', 1],
    ['latenessP99', 'delivery after due p99 ms', 1],
    ['latenessMax', 'delivery after due max ms', 1],
    ['waitCpuPercent', 'broker CPU % while they fall due', 1],
    ['cpuPerDeliveryUs', 'broker CPU us per due delivery', 1],
    ['idleWaitCpuPercent', 'broker CPU % holding 100k not yet due', 1],
  ],
  S1: [
    ['publishPerSec', 'stream publish msgs/s (persistent 1 KiB, confirms)'],
    ['replayPerSec', 'replay msgs/s, all readers together (from first)'],
    ['replayPeakRssMB', 'broker peak RSS MB during the replay', 1],
    ['replayPeakRssAnonMB', '  of it anonymous (heap, buffers) MB, peak', 1],
    ['replayPeakRssFileMB', '  of it file-backed (LMDB map, reclaimable) MB, peak', 1],
    ['afterReplayRssMB', 'broker RSS MB after the replay', 1],
    ['publishCpuSeconds', 'broker CPU s during the publish', 2],
    ['replayCpuSeconds', 'broker CPU s during the replay', 2],
  ],
};
METRICS.S2 = METRICS.S1;

export const TITLES = {
  W1: 'W1 durable',
  W2: 'W2 transient',
  W3: 'W3 latency',
  W4: 'W4 topic',
  W5: 'W5 1k queues',
  W6: 'W6 backlog',
  W7: 'W7 TTL -> DLX',
  W8: 'W8 delayed',
  S1: 'S1 stream, 3 readers',
  S2: 'S2 stream, 10 readers',
};

// ---------------------------------------------------------------------------
// Topic routing fixture for W4: 10 bindings, 27 routing keys used round-robin.

export const W4_PATTERNS = [
  'orders.*.eu',
  'orders.#',
  '#',
  '*.created.*',
  'orders.created.us',
  'payments.#',
  'shipping.*.apac',
  '*.*.us',
  '*.cancelled.#',
  'inventory.#', // matches none of the keys below: a binding that routing must skip
];

export const W4_KEYS = (() => {
  const keys = [];
  for (const domain of ['orders', 'payments', 'shipping'])
    for (const event of ['created', 'updated', 'cancelled'])
      for (const region of ['eu', 'us', 'apac']) keys.push(`${domain}.${event}.${region}`);
  return keys;
})();

/** AMQP topic match: '*' = exactly one word, '#' = zero or more words. */
export function topicMatches(pattern, key) {
  const p = pattern.split('.');
  const k = key === '' ? [] : key.split('.');
  const memo = new Map();
  const go = (i, j) => {
    const id = i * 1000 + j;
    if (memo.has(id)) return memo.get(id);
    let r;
    if (i === p.length) r = j === k.length;
    else if (p[i] === '#') r = go(i + 1, j) || (j < k.length && go(i, j + 1));
    else if (j === k.length) r = false;
    else r = (p[i] === '*' || p[i] === k[j]) && go(i + 1, j + 1);
    memo.set(id, r);
    return r;
  };
  return go(0, 0);
}

export function w4Fixture() {
  const matchesPerKey = W4_KEYS.map((k) => W4_PATTERNS.map((p) => topicMatches(p, k)));
  const counts = matchesPerKey.map((m) => m.filter(Boolean).length);
  const avg = counts.reduce((a, b) => a + b, 0) / counts.length;
  return { patterns: W4_PATTERNS, keys: W4_KEYS, matchesPerKey, avgMatchedQueues: avg };
}

// ---------------------------------------------------------------------------
// Helpers

function deferred() {
  let resolve, reject;
  const promise = new Promise((res, rej) => {
    resolve = res;
    reject = rej;
  });
  promise.catch(() => {}); // consumers race on it; never an unhandled rejection
  return { promise, resolve, reject };
}

/**
 * Rejects if progress() has not changed for stallMs, or after maxMs in total.
 * Returns { promise, stop() }.
 */
function watchdog(name, progress, describe, { stallMs, maxMs }) {
  const d = deferred();
  const t0 = Date.now();
  let last = progress();
  let lastChange = Date.now();
  const timer = setInterval(() => {
    const p = progress();
    if (p !== last) {
      last = p;
      lastChange = Date.now();
    }
    if (Date.now() - lastChange > stallMs) {
      d.reject(new Error(`${name}: no progress for ${Math.round(stallMs / 1000)} s (${describe()})`));
    } else if (Date.now() - t0 > maxMs) {
      d.reject(new Error(`${name}: exceeded ${Math.round(maxMs / 1000)} s (${describe()})`));
    }
  }, 250);
  return {
    promise: d.promise,
    stop: () => clearInterval(timer),
  };
}

const withTimeout = (p, ms, what) =>
  Promise.race([
    Promise.resolve(p),
    new Promise((_, rej) => setTimeout(() => rej(new Error(`${what} timed out after ${ms} ms`)), ms).unref()),
  ]);

/** Run cleanup steps; each bounded in time; never throws (returns list of errors). */
async function cleanup(steps) {
  const errors = [];
  for (const [what, fn] of steps) {
    try {
      await withTimeout(fn(), 5000, what);
    } catch (err) {
      errors.push(`${what}: ${err.message}`);
    }
  }
  return errors;
}

/**
 * Publish n messages with publisher confirms and at most `window` unconfirmed.
 * args(i) -> [exchange, routingKey, body, options]. Returns stats (times in performance.now() ms).
 * state is updated live (published / confirmed) so a watchdog can observe progress.
 */
async function publishWindowed(ch, n, window, args, state) {
  let outstanding = 0;
  let waiter = null;
  let failure = null;
  const wake = () => {
    if (waiter) {
      const w = waiter;
      waiter = null;
      w();
    }
  };
  const ok = () => {
    outstanding--;
    state.confirmed++;
    state.lastConfirmAt = now();
    if (outstanding < window) wake();
  };
  const fail = (err) => {
    outstanding--;
    failure ??= err;
    wake();
  };
  for (let i = 0; i < n; i++) {
    while (outstanding >= window && !failure) await new Promise((r) => (waiter = r));
    if (failure) throw failure;
    const [ex, key, body, opts] = args(i);
    outstanding++;
    state.published++;
    ch.publishConfirmed(ex, key, body, opts).then(ok, fail);
    const w = ch.writable();
    if (w) await w;
  }
  while (outstanding > 0 && !failure) await new Promise((r) => (waiter = r));
  if (failure) throw failure;
}

function makeBody() {
  // Mildly compressible but not constant content; 1 KiB.
  const b = Buffer.alloc(BODY_SIZE);
  randomBytes(BODY_SIZE / 2).copy(b);
  return b;
}

function readStamp(content) {
  return new DataView(content.buffer, content.byteOffset, content.byteLength).getFloat64(0, true);
}

function channelErrorsTo(reject, ...things) {
  for (const t of things) t.onError?.((err) => reject(err instanceof Error ? err : new Error(String(err))));
}

const rid = () => randomBytes(4).toString('hex');

/**
 * What every workload shares: a publisher connection and channel and (unless
 * `oneConnection`) a consumer connection with (unless `consumerChannel` is false) a channel;
 * a failure signal that any of their errors trips; a watchdog; and bounded cleanup that
 * closes the connections last and never throws.
 */
async function openHarness(name, driver, cfg, { confirm = true, consumerChannel = true, oneConnection = false } = {}) {
  const pubConn = await driver.connect();
  const conConn = oneConnection ? pubConn : await driver.connect();
  const pubCh = await pubConn.channel({ confirm });
  const conCh = consumerChannel ? await conConn.channel() : undefined;
  const conns = oneConnection ? [pubConn] : [pubConn, conConn];
  const failed = deferred();
  channelErrorsTo(failed.reject, ...conns, pubCh, ...(conCh ? [conCh] : []));
  let wd;
  return {
    pubConn,
    conConn,
    pubCh,
    conCh,
    /** Channels opened later fail the run on error too. */
    watchErrors: (...things) => channelErrorsTo(failed.reject, ...things),
    /** Starts the watchdog: the run fails once progress() stops changing for stallMs, or after maxMs. */
    watch(progress, describe, { stallMs = cfg.stallMs, maxMs = cfg.maxMs } = {}) {
      wd = watchdog(name, progress, describe, { stallMs, maxMs });
    },
    /** Rejects when the watchdog or an error fails the run. */
    failure: () => Promise.race([wd.promise, failed.promise]),
    /** Waits for `work` unless the run fails first. */
    until: (work) => Promise.race([work, wd.promise, failed.promise]),
    /** Stops the watchdog, runs `steps` then closes the connections; reports what failed on stderr. */
    async close(steps) {
      wd?.stop();
      const errs = await cleanup([...steps, ['close', () => Promise.all(conns.map((c) => c.close()))]]);
      if (errs.length) process.stderr.write(`  ${name} cleanup: ${errs.join('; ')}\n`);
    },
  };
}

// ---------------------------------------------------------------------------
// W1 durable: durable queue, persistent 1 KiB, confirms (<= window outstanding),
// one consumer on a separate connection (prefetch 100, ack each).

export async function runW1(driver, cfg) {
  const { messages: N, window, prefetch } = cfg;
  const q = `bench.w1.${rid()}`;
  const body = makeBody();
  const h = await openHarness('W1', driver, cfg);
  const { pubCh, conCh } = h;
  const st = { published: 0, confirmed: 0, consumed: 0, redelivered: 0, lastConfirmAt: 0, lastAckAt: 0 };
  let tag;
  try {
    await pubCh.assertQueue(q, { durable: true });
    await conCh.prefetch(prefetch);
    const allConsumed = deferred();
    tag = await conCh.consume(
      q,
      (msg) => {
        conCh.ack(msg);
        st.consumed++;
        if (msg.fields?.redelivered) st.redelivered++;
        if (st.consumed === N) {
          st.lastAckAt = now();
          allConsumed.resolve();
        }
      },
      { noAck: false },
    );
    h.watch(
      () => st.confirmed + st.consumed,
      () => JSON.stringify(st),
    );
    const t0 = now();
    const pub = publishWindowed(pubCh, N, window, () => ['', q, body, { persistent: true }], st);
    await h.until(Promise.all([pub, allConsumed.promise]));
    const e2e = st.lastAckAt - t0;
    const pubMs = st.lastConfirmAt - t0;
    return {
      metrics: {
        msgsPerSec: round((N / e2e) * 1000),
        publishConfirmPerSec: round((N / pubMs) * 1000),
      },
      info: {
        messages: N,
        bodyBytes: BODY_SIZE,
        window,
        prefetch,
        seconds: round(e2e / 1000, 3),
        redelivered: st.redelivered,
      },
    };
  } finally {
    await h.close([
      ['cancel', () => tag !== undefined && conCh.cancel(tag)],
      ['deleteQueue', () => pubCh.deleteQueue(q)],
    ]);
  }
}

// ---------------------------------------------------------------------------
// W2 transient: non-durable queue, non-persistent 1 KiB, channel without publisher
// confirms on both sides (Switchyard: createChannel({ confirm: false }); amqplib: plain
// channel), noAck consumer.

export async function runW2(driver, cfg) {
  const { messages: N } = cfg;
  const q = `bench.w2.${rid()}`;
  const body = makeBody();
  const h = await openHarness('W2', driver, cfg, { confirm: false });
  const { pubCh, conCh } = h;
  const st = { published: 0, consumed: 0, lastReceiveAt: 0 };
  let tag;
  try {
    await pubCh.assertQueue(q, { durable: false });
    const allConsumed = deferred();
    tag = await conCh.consume(
      q,
      () => {
        if (++st.consumed === N) {
          st.lastReceiveAt = now();
          allConsumed.resolve();
        }
      },
      { noAck: true },
    );
    h.watch(
      () => st.published + st.consumed,
      () => JSON.stringify(st),
    );
    const t0 = now();
    const pub = (async () => {
      const opts = { persistent: false };
      for (let i = 0; i < N; i++) {
        st.published++;
        const w = pubCh.publishFast('', q, body, opts);
        if (w) await w;
      }
      await pubCh.flush();
      st.publishDoneAt = now();
    })();
    await h.until(Promise.all([pub, allConsumed.promise]));
    const e2e = st.lastReceiveAt - t0;
    return {
      metrics: { msgsPerSec: round((N / e2e) * 1000) },
      info: {
        messages: N,
        bodyBytes: BODY_SIZE,
        seconds: round(e2e / 1000, 3),
        publishSeconds: round((st.publishDoneAt - t0) / 1000, 3),
      },
    };
  } finally {
    await h.close([
      ['cancel', () => tag !== undefined && conCh.cancel(tag)],
      ['deleteQueue', () => pubCh.deleteQueue(q)],
    ]);
  }
}

// ---------------------------------------------------------------------------
// W3 latency: W1's setup at a fixed rate (default 5,000 msgs/s for 10 s), paced by a
// small-interval timer (default 2 ms) that catches up to rate x elapsed; body carries performance.now() at publish.

export async function runW3(driver, cfg) {
  const { rate, seconds, tickMs, window, prefetch } = cfg;
  const total = Math.round(rate * seconds);
  const q = `bench.w3.${rid()}`;
  const h = await openHarness('W3', driver, cfg);
  const { pubCh, conCh } = h;
  const lat = new Float64Array(total);
  const confirmLat = new Float64Array(total);
  const st = { published: 0, confirmed: 0, consumed: 0, lastAckAt: 0, windowFullTicks: 0 };
  let tag;
  let timer;
  try {
    await pubCh.assertQueue(q, { durable: true });
    await conCh.prefetch(prefetch);
    const allConsumed = deferred();
    tag = await conCh.consume(
      q,
      (msg) => {
        const t = now();
        if (st.consumed < total) lat[st.consumed] = t - readStamp(msg.content);
        conCh.ack(msg);
        if (++st.consumed === total) {
          st.lastAckAt = t;
          allConsumed.resolve();
        }
      },
      { noAck: false },
    );
    h.watch(
      () => st.published + st.confirmed + st.consumed,
      () => JSON.stringify(st),
    );
    let outstanding = 0;
    let pubFailure = null;
    let drain = null;
    const allConfirmed = deferred();
    const t0 = now();
    const tick = () => {
      if (pubFailure) {
        clearInterval(timer);
        allConfirmed.reject(pubFailure);
        return;
      }
      if (drain || st.published >= total) return;
      const target = Math.min(total, Math.ceil(((now() - t0) / 1000) * rate));
      while (st.published < target) {
        if (outstanding >= window) {
          st.windowFullTicks++;
          break;
        }
        const body = Buffer.alloc(BODY_SIZE);
        const sentAt = now();
        body.writeDoubleLE(sentAt, 0);
        body.writeUInt32LE(st.published, 8);
        outstanding++;
        st.published++;
        pubCh.publishConfirmed('', q, body, { persistent: true }).then(
          () => {
            outstanding--;
            if (st.confirmed < total) confirmLat[st.confirmed] = now() - sentAt;
            if (++st.confirmed === total) allConfirmed.resolve();
          },
          (err) => {
            outstanding--;
            pubFailure ??= err;
            allConfirmed.reject(err);
          },
        );
        const w = pubCh.writable();
        if (w) {
          drain = w.then(() => (drain = null));
          break;
        }
      }
      if (st.published >= total) {
        clearInterval(timer);
        st.lastPublishAt = now();
      }
    };
    timer = setInterval(tick, tickMs);
    tick();
    await h.until(Promise.all([allConfirmed.promise, allConsumed.promise]));
    const p = percentiles(lat);
    const cp = percentiles(confirmLat);
    const r = (x) => round(x, 3);
    return {
      metrics: {
        p50: r(p.p50),
        p90: r(p.p90),
        p99: r(p.p99),
        'p99.9': r(p['p99.9']),
        max: r(p.max),
        achievedRate: round((total / (st.lastPublishAt - t0)) * 1000),
        confirmP50: r(cp.p50),
        confirmP99: r(cp.p99),
      },
      info: {
        messages: total,
        targetRate: rate,
        seconds,
        tickMs,
        meanMs: r(p.mean),
        minMs: r(p.min),
        windowFullTicks: st.windowFullTicks,
      },
    };
  } finally {
    clearInterval(timer);
    await h.close([
      ['cancel', () => tag !== undefined && conCh.cancel(tag)],
      ['deleteQueue', () => pubCh.deleteQueue(q)],
    ]);
  }
}

// ---------------------------------------------------------------------------
// W4 topic: a topic exchange, 10 durable queues bound by W4_PATTERNS, one consumer each
// (own channel, prefetch 100, manual ack) on one consumer connection, one publisher
// with confirms (<= window outstanding), persistent 1 KiB, keys W4_KEYS round-robin.

export async function runW4(driver, cfg) {
  const { messages: N, window, prefetch } = cfg;
  const fx = w4Fixture();
  const id = rid();
  const ex = `bench.w4.${id}`;
  const queues = fx.patterns.map((_, i) => `bench.w4.${id}.q${i}`);
  // Expected deliveries per queue.
  const expected = new Array(queues.length).fill(0);
  let expectedTotal = 0;
  for (let i = 0; i < N; i++) {
    const m = fx.matchesPerKey[i % fx.keys.length];
    for (let j = 0; j < m.length; j++)
      if (m[j]) {
        expected[j]++;
        expectedTotal++;
      }
  }
  const body = makeBody();
  // one channel per consumer, opened below
  const h = await openHarness('W4', driver, cfg, { consumerChannel: false });
  const { pubCh } = h;
  const st = { published: 0, confirmed: 0, delivered: 0, lastConfirmAt: 0, lastDeliveryAt: 0 };
  const got = new Array(queues.length).fill(0);
  const consumers = []; // [ch, tag]
  try {
    await pubCh.assertExchange(ex, 'topic', { durable: true });
    for (let i = 0; i < queues.length; i++) {
      await pubCh.assertQueue(queues[i], { durable: true });
      await pubCh.bindQueue(queues[i], ex, fx.patterns[i]);
    }
    const allDelivered = deferred();
    for (let i = 0; i < queues.length; i++) {
      const ch = await h.conConn.channel();
      h.watchErrors(ch);
      await ch.prefetch(prefetch);
      const tag = await ch.consume(
        queues[i],
        (msg) => {
          ch.ack(msg);
          got[i]++;
          if (++st.delivered === expectedTotal) {
            st.lastDeliveryAt = now();
            allDelivered.resolve();
          }
        },
        { noAck: false },
      );
      consumers.push([ch, tag]);
    }
    const perQueue = () =>
      fx.patterns
        .map((p, i) => (got[i] === expected[i] ? null : `${p} ${got[i]}/${expected[i]}`))
        .filter(Boolean)
        .join(', ');
    h.watch(
      () => st.confirmed + st.delivered,
      () => `${JSON.stringify({ ...st, expectedTotal })}; short queues (got/expected): ${perQueue()}`,
    );
    const keys = fx.keys;
    const t0 = now();
    const pub = publishWindowed(pubCh, N, window, (i) => [ex, keys[i % keys.length], body, { persistent: true }], st);
    try {
      await h.until(Promise.all([pub, allDelivered.promise]));
    } catch (err) {
      // Diagnose: are the missing deliveries still in the queues (delivery stalled) or gone?
      const counts = [];
      for (let i = 0; i < queues.length; i++) {
        if (got[i] === expected[i]) continue;
        try {
          const r = await withTimeout(pubCh.checkQueue(queues[i]), 2000, 'checkQueue');
          counts.push(`${fx.patterns[i]}: ${r.messageCount} ready, ${r.consumerCount} consumers`);
        } catch (e) {
          counts.push(`${fx.patterns[i]}: checkQueue failed (${e.message})`);
        }
      }
      if (counts.length) err.message += `; queue state: ${counts.join(', ')}`;
      throw err;
    }
    // Give strays (over-delivery from wrong routing) a moment to show up.
    await new Promise((r) => setTimeout(r, 100));
    const mismatches = [];
    for (let i = 0; i < queues.length; i++)
      if (got[i] !== expected[i]) mismatches.push(`${fx.patterns[i]}: expected ${expected[i]} got ${got[i]}`);
    return {
      metrics: {
        deliveriesPerSec: round((expectedTotal / (st.lastDeliveryAt - t0)) * 1000),
        publishesPerSec: round((N / (st.lastConfirmAt - t0)) * 1000),
        avgMatchedQueues: round(expectedTotal / N, 3),
      },
      info: {
        messages: N,
        deliveries: expectedTotal,
        queues: queues.length,
        patterns: fx.patterns,
        keys: fx.keys.length,
        perQueueExpected: expected,
        routingCorrect: mismatches.length === 0,
        ...(mismatches.length ? { routingMismatches: mismatches } : {}),
        seconds: round((st.lastDeliveryAt - t0) / 1000, 3),
      },
    };
  } finally {
    const steps = consumers.map(([ch, tag], i) => [`cancel q${i}`, () => ch.cancel(tag)]);
    for (const q of queues) steps.push([`deleteQueue ${q}`, () => pubCh.deleteQueue(q)]);
    steps.push(['deleteExchange', () => pubCh.deleteExchange(ex)]);
    await h.close(steps);
  }
}

// ---------------------------------------------------------------------------
// W5 many queues: 1,000 durable queues on a direct exchange, one consumer each (prefetch
// 100, manual ack, all on one consumer channel), persistent 1 KiB messages published
// round-robin over the queues' keys with confirms (<= window outstanding).

export async function runW5(driver, cfg) {
  const { messages: N, queues: Q, window, prefetch } = cfg;
  const id = rid();
  const ex = `bench.w5.${id}`;
  const names = Array.from({ length: Q }, (_, i) => `bench.w5.${id}.q${i}`);
  const body = makeBody();
  const h = await openHarness('W5', driver, cfg);
  const { pubCh, conCh } = h;
  const st = { published: 0, confirmed: 0, consumed: 0, lastConfirmAt: 0, lastAckAt: 0 };
  const tags = [];
  try {
    await pubCh.assertExchange(ex, 'direct', { durable: true });
    await conCh.prefetch(prefetch);
    const allConsumed = deferred();
    for (let i = 0; i < Q; i++) {
      await pubCh.assertQueue(names[i], { durable: true });
      await pubCh.bindQueue(names[i], ex, `k${i}`);
      tags.push(
        await conCh.consume(
          names[i],
          (msg) => {
            conCh.ack(msg);
            if (++st.consumed === N) {
              st.lastAckAt = now();
              allConsumed.resolve();
            }
          },
          { noAck: false },
        ),
      );
    }
    h.watch(
      () => st.confirmed + st.consumed,
      () => JSON.stringify(st),
    );
    const t0 = now();
    const pub = publishWindowed(pubCh, N, window, (i) => [ex, `k${i % Q}`, body, { persistent: true }], st);
    await h.until(Promise.all([pub, allConsumed.promise]));
    return {
      metrics: {
        msgsPerSec: round((N / (st.lastAckAt - t0)) * 1000),
        publishesPerSec: round((N / (st.lastConfirmAt - t0)) * 1000),
      },
      info: { messages: N, queues: Q, seconds: round((st.lastAckAt - t0) / 1000, 3) },
    };
  } finally {
    await h.close([
      ['cancel', () => Promise.all(tags.map((t) => conCh.cancel(t)))],
      ['deleteQueues', () => Promise.all(names.map((q) => pubCh.deleteQueue(q)))],
      ['deleteExchange', () => pubCh.deleteExchange(ex)],
    ]);
  }
}

// ---------------------------------------------------------------------------
// W6 backlog: 200,000 persistent 1 KiB messages published with confirms and no consumer;
// the broker's RSS is read while they sit in the queue; then one consumer (prefetch 1000,
// ack each) drains them.

export async function runW6(driver, cfg) {
  const { messages: N, window, prefetch, sampleRss } = cfg;
  const q = `bench.w6.${rid()}`;
  const body = makeBody();
  const h = await openHarness('W6', driver, cfg);
  const { pubCh, conCh } = h;
  const st = { published: 0, confirmed: 0, consumed: 0, lastConfirmAt: 0, lastAckAt: 0 };
  let tag;
  try {
    await pubCh.assertQueue(q, { durable: true });
    h.watch(
      () => st.confirmed + st.consumed,
      () => JSON.stringify(st),
    );
    const t0 = now();
    await h.until(publishWindowed(pubCh, N, window, () => ['', q, body, { persistent: true }], st));
    const publishMs = st.lastConfirmAt - t0;
    // Let the broker drop in-flight buffers before reading its RSS.
    await new Promise((r) => setTimeout(r, cfg.settleMs ?? 2_000));
    const mem = sampleRss?.() ?? null;
    const allConsumed = deferred();
    await conCh.prefetch(prefetch);
    const t1 = now();
    tag = await conCh.consume(
      q,
      (msg) => {
        conCh.ack(msg);
        if (++st.consumed === N) {
          st.lastAckAt = now();
          allConsumed.resolve();
        }
      },
      { noAck: false },
    );
    await h.until(allConsumed.promise);
    return {
      metrics: {
        publishPerSec: round((N / publishMs) * 1000),
        drainPerSec: round((N / (st.lastAckAt - t1)) * 1000),
        backlogRssMB: mem ? round(mem.rss / 1024 / 1024, 1) : null,
        backlogAnonMB: mem?.rssAnon ? round(mem.rssAnon / 1024 / 1024, 1) : null,
        backlogFileMB: mem?.rssFile ? round(mem.rssFile / 1024 / 1024, 1) : null,
      },
      info: { messages: N, prefetch },
    };
  } finally {
    await h.close([
      ['cancel', () => tag !== undefined && conCh.cancel(tag)],
      ['deleteQueue', () => pubCh.deleteQueue(q)],
    ]);
  }
}

// ---------------------------------------------------------------------------
// W7 TTL into a DLX: N persistent 1 KiB messages published with confirms into a queue with
// x-message-ttl and a dead-letter exchange, no consumer; measures how fast the expiries
// reach the dead-letter queue once due, and the broker's CPU per expiry.

export async function runW7(driver, cfg) {
  const { messages: N, window, ttlMs, sampleCpu } = cfg;
  const id = rid();
  const dlx = `bench.w7.${id}.dlx`;
  const q = `bench.w7.${id}`;
  const dlq = `bench.w7.${id}.dlq`;
  const body = makeBody();
  const h = await openHarness('W7', driver, cfg, { oneConnection: true, consumerChannel: false });
  const ch = h.pubCh;
  const st = { published: 0, confirmed: 0, dead: 0, lastConfirmAt: 0 };
  try {
    await ch.assertExchange(dlx, 'fanout', { durable: true });
    await ch.assertQueue(dlq, { durable: true });
    await ch.bindQueue(dlq, dlx, '');
    await ch.assertQueue(q, { durable: true, arguments: { 'x-message-ttl': ttlMs, 'x-dead-letter-exchange': dlx } });
    h.watch(
      () => st.confirmed + st.dead,
      () => JSON.stringify(st),
    );
    const t0 = now();
    await h.until(publishWindowed(ch, N, window, () => ['', q, body, { persistent: true }], st));
    const firstDue = t0 + ttlMs;
    // Poll the dead-letter queue's depth until every message has arrived.
    const cpu0 = sampleCpu?.() ?? null;
    let stalled = null;
    h.failure().catch((err) => (stalled = err));
    while (st.dead < N) {
      if (stalled) throw stalled;
      await new Promise((r) => setTimeout(r, 20));
      st.dead = (await ch.checkQueue(dlq)).messageCount;
    }
    const t1 = now();
    const cpu1 = sampleCpu?.() ?? null;
    const span = Math.max(1, t1 - Math.max(firstDue, st.lastConfirmAt));
    return {
      metrics: {
        expiriesPerSec: round((N / span) * 1000),
        brokerCpuPerExpiryUs: cpu0 !== null && cpu1 !== null ? round(((cpu1 - cpu0) / N) * 1e6, 1) : null,
      },
      info: { messages: N, ttlMs, publishSeconds: round((st.lastConfirmAt - t0) / 1000, 2) },
    };
  } finally {
    await h.close([['delete', () => Promise.all([ch.deleteQueue(q), ch.deleteQueue(dlq), ch.deleteExchange(dlx)])]]);
  }
}

// ---------------------------------------------------------------------------
// W8 delayed messages (Switchyard's x-delay; RabbitMQ needs its delayed-message plugin):
// N persistent 1 KiB messages with random delays in 0..maxDelayMs, one noAck consumer;
// measures how late each arrives after its due time and the broker's CPU while waiting.

export async function runW8(driver, cfg) {
  if (driver.name !== 'switchyard') return { skipped: "x-delay needs RabbitMQ's delayed-message plugin" };
  const { messages: N, window, maxDelayMs, stallMs, sampleCpu } = cfg;
  const q = `bench.w8.${rid()}`;
  const h = await openHarness('W8', driver, cfg);
  const { pubCh, conCh } = h;
  const st = { published: 0, confirmed: 0, consumed: 0, lastConfirmAt: 0 };
  const lateness = [];
  let tag;
  try {
    await pubCh.assertQueue(q, { durable: true });
    const all = deferred();
    tag = await conCh.consume(
      q,
      (msg) => {
        const due = readStamp(msg.content);
        lateness.push(Date.now() - due);
        if (++st.consumed === N) all.resolve();
      },
      { noAck: true },
    );
    h.watch(
      () => st.confirmed + st.consumed,
      () => JSON.stringify(st),
      { stallMs: Math.max(stallMs, maxDelayMs + 5000) },
    );
    const body = Buffer.alloc(BODY_SIZE);
    await h.until(
      publishWindowed(
        pubCh,
        N,
        window,
        () => {
          const delay = Math.floor(Math.random() * maxDelayMs);
          const b = Buffer.from(body);
          new DataView(b.buffer, b.byteOffset, b.byteLength).setFloat64(0, Date.now() + delay, true);
          return ['', q, b, { persistent: true, headers: { 'x-delay': delay } }];
        },
        st,
      ),
    );
    // Broker CPU from the end of publishing to the last delivery: the waiting and the
    // deliveries as they fall due (about N / maxDelay per second), nothing else.
    const c0 = sampleCpu?.() ?? null;
    const d0 = st.consumed;
    const w0 = now();
    await h.until(all.promise);
    const c1 = sampleCpu?.() ?? null;
    const waitCpuPercent = c0 !== null && c1 !== null ? round(((c1 - c0) / ((now() - w0) / 1000)) * 100, 1) : null;
    const cpuPerDeliveryUs =
      c0 !== null && c1 !== null && st.consumed > d0 ? round(((c1 - c0) / (st.consumed - d0)) * 1e6, 1) : null;
    // Waiting alone: hold N messages a minute away (no deliveries fall due) and read the
    // broker's CPU over two seconds.
    const far = Buffer.alloc(BODY_SIZE);
    for (let i = 0; i < N; i += window) {
      await Promise.all(
        Array.from({ length: Math.min(window, N - i) }, () =>
          pubCh.publishConfirmed('', q, far, { persistent: true, headers: { 'x-delay': 60_000 } }),
        ),
      );
    }
    await new Promise((r) => setTimeout(r, 500));
    const i0 = sampleCpu?.() ?? null;
    const t0 = now();
    await new Promise((r) => setTimeout(r, 2000));
    const i1 = sampleCpu?.() ?? null;
    const idleWaitCpuPercent = i0 !== null && i1 !== null ? round(((i1 - i0) / ((now() - t0) / 1000)) * 100, 1) : null;
    const p = percentiles(lateness, [50, 99]);
    return {
      metrics: {
        latenessP50: p.p50,
        latenessP99: p.p99,
        latenessMax: p.max,
        waitCpuPercent,
        cpuPerDeliveryUs,
        idleWaitCpuPercent,
      },
      info: { messages: N, maxDelayMs, note: 'lateness = receive time - due time (ms, wall clock)' },
    };
  } finally {
    await h.close([
      ['cancel', () => tag !== undefined && conCh.cancel(tag)],
      ['deleteQueue', () => pubCh.deleteQueue(q)],
    ]);
  }
}

// ---------------------------------------------------------------------------
// S1/S2 streams: a stream queue (x-queue-type stream), persistent 1 KiB with confirms, then
// `readers` consumers (own connections, prefetch, ack each) replaying it from `first` at once.
// The broker's RSS is sampled during the replay: a replay must not load the stream.

export async function runStream(driver, cfg) {
  const { messages: N, window, prefetch, readers: R, sampleRss, sampleCpu } = cfg;
  const q = `bench.stream.${rid()}`;
  const body = makeBody();
  const h = await openHarness('S', driver, cfg, { consumerChannel: false });
  const { pubCh } = h;
  const st = { published: 0, confirmed: 0, consumed: 0, lastConfirmAt: 0 };
  const readerConns = [];
  try {
    await pubCh.assertQueue(q, { durable: true, arguments: { 'x-queue-type': 'stream' } });
    h.watch(
      () => st.confirmed + st.consumed,
      () => JSON.stringify(st),
    );
    const cpu0 = sampleCpu?.() ?? null;
    const t0 = now();
    await h.until(publishWindowed(pubCh, N, window, () => ['', q, body, { persistent: true }], st));
    const publishMs = st.lastConfirmAt - t0;
    const cpu1 = sampleCpu?.() ?? null;
    const done = deferred();
    const peak = { rss: 0, rssAnon: 0, rssFile: 0 };
    const sample = () => {
      const m = sampleRss?.();
      if (m) for (const k of Object.keys(peak)) peak[k] = Math.max(peak[k], m[k] ?? 0);
    };
    const sampler = setInterval(sample, 250);
    const t1 = now();
    for (let r = 0; r < R; r++) {
      const conn = await driver.connect();
      readerConns.push(conn);
      const ch = await conn.channel();
      h.watchErrors(conn, ch);
      await ch.prefetch(prefetch);
      await ch.consume(
        q,
        (msg) => {
          ch.ack(msg);
          if (++st.consumed === N * R) done.resolve();
        },
        { arguments: { 'x-stream-offset': 'first' } },
      );
    }
    await h.until(done.promise);
    const replayMs = now() - t1;
    const cpu2 = sampleCpu?.() ?? null;
    sample();
    clearInterval(sampler);
    const after = sampleRss?.() ?? null;
    const mb = (bytes) => (sampleRss ? round(bytes / 1024 / 1024, 1) : null);
    const cpuDiff = (a, b) => (a === null || b === null ? null : round(b - a, 2));
    return {
      metrics: {
        publishPerSec: round((N / publishMs) * 1000),
        replayPerSec: round(((N * R) / replayMs) * 1000),
        replayPeakRssMB: mb(peak.rss),
        replayPeakRssAnonMB: mb(peak.rssAnon),
        replayPeakRssFileMB: mb(peak.rssFile),
        afterReplayRssMB: after ? mb(after.rss) : null,
        publishCpuSeconds: cpuDiff(cpu0, cpu1),
        replayCpuSeconds: cpuDiff(cpu1, cpu2),
      },
      info: {
        messages: N,
        readers: R,
        bodyBytes: BODY_SIZE,
        window,
        prefetch,
        replaySeconds: round(replayMs / 1000, 3),
      },
    };
  } finally {
    await h.close([
      ['readers', () => Promise.all(readerConns.map((c) => c.close()))],
      ['deleteQueue', () => pubCh.deleteQueue(q)],
    ]);
  }
}

export const WORKLOADS = {
  W1: runW1,
  W2: runW2,
  W3: runW3,
  W4: runW4,
  W5: runW5,
  W6: runW6,
  W7: runW7,
  W8: runW8,
  S1: runStream,
  S2: runStream,
};
