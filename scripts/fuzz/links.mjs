// Fuzz of the shovel runtime-parameter endpoint (spec/links.md): hostile `value` objects
// (wrong types, huge and deep values, bad and credential-laden URIs, unknown keys, URIs of
// closed ports) PUT to /api/parameters/shovel. Every answer must be 201/204 or a 400 that
// names a field, never a 500; the broker stays up and GET /api/shovels still answers.
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
    for (let i = 0; i < count; i++) {
      const value = {};
      const n = Math.floor(r() * 8);
      for (let k = 0; k < n; k++) value[KEYS[Math.floor(r() * KEYS.length)]] = hostileValue(r);
      // half the time a valid core, so the fuzz reaches deeper checks and running links
      if (r() < 0.5)
        Object.assign(value, { 'src-uri': 'ws://127.0.0.1:1', 'src-queue': 'q', 'dest-uri': 'ws://127.0.0.1:1' });
      let body;
      try {
        body = JSON.stringify(r() < 0.1 ? value : { value });
      } catch {
        continue; // a value JSON cannot carry
      }
      const res = await fetch(`${base}/api/parameters/shovel/%2F/f${i % 20}`, {
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
    return { requests: count, statuses, serverErrors, brokerAlive: !broker.exited(), listStatus: list.status };
  } finally {
    await broker.stop();
  }
}
