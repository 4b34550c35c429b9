// Fuzz of the link endpoints (spec/links.md): hostile `value` objects (wrong types, huge
// and deep values, bad and credential-laden URIs, unknown keys, URIs of closed ports) PUT to
// /api/parameters/shovel and /api/parameters/federation-upstream, hostile upstream-set values
// (non-arrays, entries without or with bad `upstream`, hostile override keys) PUT to
// /api/parameters/federation-upstream-set, and hostile policy bodies
// (patterns that are no regular expression or too long, unknown definition keys) PUT to
// /api/policies. Every answer must be 201/204 or a 400 that names a field, never a 500; the
// broker stays up and GET /api/shovels and /api/federation-links still answer.
import { spawnBroker } from '../bench/spawn-broker.mjs';

const KEYS = [
  'src-uri',
  'src-queue',
  'src-exchange',
  'src-exchange-key',
  'src-prefetch-count',
  'src-delete-after',
  'dest-uri',
  'dest-queue',
  'dest-exchange',
  'dest-exchange-key',
  'ack-mode',
  'reconnect-delay',
  'dest-add-forward-headers',
  'dest-add-timestamp-header',
  'src-protocol',
  '__proto__',
  'constructor',
  'x'.repeat(300),
];

const UPSTREAM_KEYS = [
  'uri',
  'exchange',
  'prefetch-count',
  'max-hops',
  'expires',
  'message-ttl',
  'ack-mode',
  'reconnect-delay',
  'trust-user-id',
  'local-uri',
  'queue',
  '__proto__',
  'x'.repeat(300),
];

const POLICY_KEYS = ['pattern', 'definition', 'priority', 'apply-to', 'vhost', 'name', 'x'];
const DEFINITION_KEYS = ['federation-upstream', 'federation-upstream-set', 'ha-mode', '__proto__'];
const PATTERNS = ['(', '^fx$', '.*', '(a+)+$', '[', '\\', 'x'.repeat(300), '(?<n>a)\\k<n>', ''];

/** A `federation-upstream-set` value: an array of entries, each `{upstream, ...overrides}` or worse. */
function hostileSet(r) {
  if (r() < 0.15) return hostileValue(r);
  const entries = [];
  for (let e = 0; e < Math.floor(r() * 5); e++) {
    if (r() < 0.1) {
      entries.push(hostileValue(r));
      continue;
    }
    const entry = {};
    // most entries name an upstream the fuzz also PUTs (f0..f19), so links start
    if (r() < 0.8) entry.upstream = r() < 0.8 ? `f${Math.floor(r() * 20)}` : hostileValue(r);
    for (let k = 0; k < Math.floor(r() * 3); k++)
      entry[UPSTREAM_KEYS[Math.floor(r() * UPSTREAM_KEYS.length)]] = hostileValue(r);
    entries.push(entry);
  }
  return entries;
}

function deep(n) {
  let v = {};
  for (let i = 0; i < n; i++) v = { a: v };
  return v;
}

/** Values of every kind a client could send. */
function hostileValue(r) {
  const pick = [
    () => null,
    () => -1,
    () => 2 ** 60,
    () => 1.5,
    () => true,
    () => [],
    () => ['ws://127.0.0.1:1'],
    () => deep(2000),
    () => 'x'.repeat(100_000),
    () => 'ws://u:p@127.0.0.1:1/v',
    () => 'amqp://127.0.0.1:1',
    () => 'ws://',
    () => 'http://127.0.0.1',
    () => 'ws://[::1',
    () => 'ws://127.0.0.1:1/%ZZ',
    () => '\u0000\uD800',
    () => 'on-confirm',
    () => 'queue-length',
    () => 0,
    () => 65536,
  ];
  return pick[Math.floor(r() * pick.length)]();
}

export async function fuzzLinks({ r, count = 300, log = () => {} }) {
  const broker = await spawnBroker();
  const base = `http://127.0.0.1:${broker.managementPort}`;
  const auth = `Basic ${Buffer.from('guest:guest').toString('base64')}`;
  const statuses = {};
  let serverErrors = 0;
  try {
    // an exchange for policies to match, so federation links start (to a closed port)
    await fetch(`${base}/api/exchanges/%2F/fx`, {
      method: 'PUT',
      headers: { authorization: auth, 'content-type': 'application/json' },
      body: JSON.stringify({ type: 'topic', durable: true }),
    });
    for (let i = 0; i < count; i++) {
      const kind = i % 4;
      let value = {};
      const n = Math.floor(r() * 8);
      let path;
      let body;
      if (kind === 2) {
        for (let k = 0; k < n; k++) value[POLICY_KEYS[Math.floor(r() * POLICY_KEYS.length)]] = hostileValue(r);
        if (r() < 0.6) value.pattern = PATTERNS[Math.floor(r() * PATTERNS.length)];
        if (r() < 0.6) {
          const def = {};
          for (let k = 0; k < 1 + Math.floor(r() * 2); k++)
            def[DEFINITION_KEYS[Math.floor(r() * DEFINITION_KEYS.length)]] =
              r() < 0.3 ? 'all' : r() < 0.5 ? `s${Math.floor(r() * 5)}` : hostileValue(r);
          value.definition = def;
        }
        path = `/api/policies/%2F/p${i % 10}`;
      } else if (kind === 3) {
        value = hostileSet(r);
        path = `/api/parameters/federation-upstream-set/%2F/s${i % 5}`;
      } else {
        const keys = kind === 0 ? KEYS : UPSTREAM_KEYS;
        for (let k = 0; k < n; k++) value[keys[Math.floor(r() * keys.length)]] = hostileValue(r);
        // half the time a valid core, so the fuzz reaches deeper checks and running links
        if (r() < 0.5)
          Object.assign(
            value,
            kind === 0
              ? { 'src-uri': 'ws://127.0.0.1:1', 'src-queue': 'q', 'dest-uri': 'ws://127.0.0.1:1' }
              : { uri: 'ws://127.0.0.1:1' },
          );
        path = `/api/parameters/${kind === 0 ? 'shovel' : 'federation-upstream'}/%2F/f${i % 20}`;
      }
      try {
        body = JSON.stringify(kind === 2 || r() < 0.1 ? value : { value });
      } catch {
        continue; // a value JSON cannot carry
      }
      const res = await fetch(`${base}${path}`, {
        method: 'PUT',
        headers: { authorization: auth, 'content-type': 'application/json' },
        body,
      });
      statuses[res.status] = (statuses[res.status] ?? 0) + 1;
      if (res.status >= 500) {
        serverErrors++;
        log(`  500 for ${body.slice(0, 200)}: ${await res.text()}`);
      } else await res.arrayBuffer();
      if (broker.exited()) throw new Error(`broker died: ${JSON.stringify(broker.exited())}\n${broker.logTail()}`);
    }
    const list = await fetch(`${base}/api/shovels`, { headers: { authorization: auth } });
    const fed = await fetch(`${base}/api/federation-links`, { headers: { authorization: auth } });
    return {
      requests: count,
      statuses,
      serverErrors,
      brokerAlive: !broker.exited(),
      listStatus: list.status === 200 ? fed.status : list.status,
    };
  } finally {
    await broker.stop();
  }
}
