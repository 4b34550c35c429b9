#!/usr/bin/env node
// W1 through a validating exchange vs the same exchange without a schema (issue 18's target:
// the validating rate at least 80% of the plain one). See scripts/bench/README.md.
//
//   npm run build && node scripts/bench/schemas.mjs [--messages 100000] [--runs 3]
//
// A spawned broker; a durable queue bound to a direct exchange; persistent 1 KiB JSON
// messages with 20 fields, confirms with at most 1,000 outstanding, one consumer on its own
// connection (prefetch 100, ack each): W1's shape. Runs alternate plain / validating so
// machine noise hits both; figures are medians with [min-max].
import { parseArgs } from 'node:util';
import { spawnBroker } from './spawn-broker.mjs';
import { createSwitchyardDriver } from './switchyard-driver.mjs';

const { values } = parseArgs({
  options: {
    messages: { type: 'string', default: '100000' },
    runs: { type: 'string', default: '3' },
    window: { type: 'string', default: '1000' },
  },
});
const N = Number(values.messages);
const RUNS = Number(values.runs);
const WINDOW = Number(values.window);

/** A 20-field JSON Schema and a message of about 1 KiB that matches it. */
function fixture() {
  const properties = {};
  const message = {};
  for (let i = 0; i < 20; i++) {
    const kind = i % 4;
    const name = `field${i}`;
    if (kind === 0) {
      properties[name] = { type: 'integer', minimum: 0 };
      message[name] = i * 1000;
    } else if (kind === 1) {
      properties[name] = { type: 'number' };
      message[name] = i + 0.5;
    } else if (kind === 2) {
      properties[name] = { type: 'string', maxLength: 2000 };
      message[name] = 'x'.repeat(36);
    } else {
      properties[name] = { type: 'boolean' };
      message[name] = i % 8 === 3;
    }
  }
  const schema = { type: 'object', properties, required: Object.keys(properties), additionalProperties: false };
  let body = Buffer.from(JSON.stringify(message));
  // Pad one string field so the body is 1 KiB.
  message.field2 = 'x'.repeat(36 + 1024 - body.length);
  body = Buffer.from(JSON.stringify(message));
  return { schema, body };
}

async function registerSchema(managementUrl, schema) {
  const res = await fetch(`${managementUrl}/subjects/bench-orders/versions`, {
    method: 'POST',
    headers: {
      authorization: `Basic ${Buffer.from('guest:guest').toString('base64')}`,
      'content-type': 'application/vnd.schemaregistry.v1+json',
    },
    body: JSON.stringify({ schemaType: 'JSON', schema: JSON.stringify(schema) }),
  });
  if (!res.ok) throw new Error(`register: HTTP ${res.status} ${await res.text()}`);
}

async function runOnce(driver, exchangeArgs, body) {
  const pub = await driver.connect();
  const con = await driver.connect();
  const pubCh = await pub.channel({ confirm: true });
  const conCh = await con.channel();
  const ex = `bench.schemas.${Math.random().toString(36).slice(2, 8)}`;
  const q = `${ex}.q`;
  await pubCh.assertExchange(ex, 'direct', { durable: true, arguments: exchangeArgs });
  await pubCh.assertQueue(q, { durable: true });
  await pubCh.bindQueue(q, ex, 'k');
  await conCh.prefetch(100);
  let consumed = 0;
  let lastAck = 0;
  const done = new Promise((resolve) => {
    conCh.consume(
      q,
      (msg) => {
        conCh.ack(msg);
        if (++consumed === N) {
          lastAck = performance.now();
          resolve();
        }
      },
      { noAck: false },
    );
  });
  const t0 = performance.now();
  let outstanding = 0;
  let wake;
  for (let i = 0; i < N; i++) {
    while (outstanding >= WINDOW) await new Promise((r) => (wake = r));
    outstanding++;
    pubCh.publishConfirmed(ex, 'k', body, { persistent: true, contentType: 'application/json' }).then(
      () => {
        outstanding--;
        wake?.();
      },
      (err) => {
        console.error(`publish failed: ${err.message}`);
        process.exit(1);
      },
    );
    const w = pubCh.writable();
    if (w) await w;
  }
  await done;
  while (outstanding > 0) await new Promise((r) => (wake = r));
  await pubCh.deleteQueue(q);
  await pub.close();
  await con.close();
  return Math.round((N / (lastAck - t0)) * 1000);
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const broker = await spawnBroker({});
try {
  const { schema, body } = fixture();
  await registerSchema(`http://127.0.0.1:${broker.managementPort}`, schema);
  const driver = await createSwitchyardDriver(broker.url, {});
  const plain = [];
  const validating = [];
  for (let r = 0; r < RUNS; r++) {
    plain.push(await runOnce(driver, {}, body));
    validating.push(await runOnce(driver, { 'x-schema-subject': 'bench-orders' }, body));
  }
  const fmt = (xs) => `${median(xs)} msgs/s [${Math.min(...xs)}-${Math.max(...xs)}]`;
  console.log(`W1 schemas: ${N} persistent ${body.length}-byte JSON messages, 20-field schema, ${RUNS} runs each`);
  console.log(`  plain exchange       ${fmt(plain)}`);
  console.log(`  validating exchange  ${fmt(validating)}`);
  console.log(`  ratio (medians)      ${((median(validating) / median(plain)) * 100).toFixed(1)}%  (target >= 80%)`);
} finally {
  await broker.stop();
}
