// Fuzz classes of the schema registry (issue 18): hostile schemas and REST bodies on the
// management port, hostile payloads published to validating exchanges.
//   node scripts/fuzz/schemas.mjs [--iterations 500] [--seed N]
// Every REST answer must be 2xx or 4xx with a JSON body (never 5xx, never a hang); every
// publish to a validating exchange must be confirmed or nacked with 406 on a channel that
// stays usable; afterwards the broker still serves the registry and routes valid messages.
// Publishes carry hostile content types (JSON ones spelled oddly, others, long, control
// characters), bodies framed with real ids and hostile JSON, and no content type at all:
// the exchange reads unframed bodies as JSON by content type (spec/schemas.md §Enforcement).
// The SDK's SchemaHelpers.decode gets hostile bodies and x-schema-id headers: each call
// resolves or rejects with an Error, never hangs.
import { parseArgs } from 'node:util';
import { connect } from '@switchyard/client';
import { SchemaHelpers } from '@switchyard/client/schemas';
import { spawnBroker } from '../bench/spawn-broker.mjs';
import { rng } from './amqp.mjs';

const AVRO = JSON.stringify({
  type: 'record',
  name: 'R',
  fields: [
    { name: 'a', type: 'int' },
    { name: 'b', type: { type: 'array', items: 'string' } },
    { name: 'c', type: ['null', 'long'], default: null },
  ],
});
const JSON_SCHEMA = JSON.stringify({
  type: 'object',
  properties: { a: { type: 'integer' }, b: { type: 'array', items: { type: 'string' } }, c: { $ref: '#' } },
  required: ['a'],
});
const PROTO = 'syntax = "proto3";\nmessage R {\n  int32 a = 1;\n  repeated string b = 2;\n  R c = 3;\n}\n';
const VALID = { AVRO, JSON: JSON_SCHEMA, PROTOBUF: PROTO };
const TYPES = ['AVRO', 'JSON', 'PROTOBUF', 'XML', '', 7, null];
const WEIRD = [null, 7, -1, 2 ** 53, true, [], {}, 'x'.repeat(300_000), '\u0000', '\ud800', [[[[]]]], { schema: 1 }];

/** A schema text: valid, mutated (bytes flipped, cut, spliced), deeply nested, or huge. */
function hostileSchema(r, type) {
  const base = VALID[type] ?? AVRO;
  const pick = Math.floor(r() * 7);
  if (pick === 0) return base;
  if (pick === 1) return base.slice(0, Math.floor(r() * base.length));
  if (pick === 2) {
    const chars = [...base];
    for (let i = 0; i < 1 + r() * 5; i++)
      chars[Math.floor(r() * chars.length)] = String.fromCharCode(Math.floor(r() * 0x3000));
    return chars.join('');
  }
  if (pick === 3) return '['.repeat(1 + Math.floor(r() * 50_000));
  if (pick === 4) return `{"type":"array","items":`.repeat(2000) + '"int"' + '}'.repeat(2000);
  if (pick === 5) return 'x'.repeat(Math.floor(r() * 400_000));
  return `message M { ${'M m = 1; '.repeat(Math.floor(r() * 3000))} }`;
}

function hostileBody(r) {
  const pick = Math.floor(r() * 4);
  const type = TYPES[Math.floor(r() * TYPES.length)];
  if (pick === 0) return { schema: hostileSchema(r, type), schemaType: type };
  if (pick === 1) return { schema: WEIRD[Math.floor(r() * WEIRD.length)], schemaType: type };
  if (pick === 2) return { schema: VALID.AVRO, references: WEIRD[Math.floor(r() * WEIRD.length)] };
  return WEIRD[Math.floor(r() * WEIRD.length)];
}

const PATHS = [
  (s) => ['POST', `/subjects/${s}/versions`],
  (s) => ['POST', `/subjects/${s}`],
  (s, v) => ['POST', `/compatibility/subjects/${s}/versions/${v}`],
  (s) => ['PUT', `/config/${s}`],
  () => ['PUT', '/config'],
  (s, v) => ['GET', `/subjects/${s}/versions/${v}`],
  (s, v) => ['DELETE', `/subjects/${s}/versions/${v}?permanent=${v === '1'}`],
  (s) => ['DELETE', `/subjects/${s}`],
  (_s, v) => ['GET', `/schemas/ids/${v}`],
];
const SUBJECTS = ['fz', 'fz', '%00', 'x'.repeat(300), encodeURIComponent('ü/%'), '%ZZ'];
const VERSIONS = ['1', 'latest', '-1', '0', '99999999999', 'abc', '1.5', '%'];

/** Content types: absent, JSON ones in odd spellings, near misses, others, long, control characters. */
const CONTENT_TYPES = [
  undefined,
  '',
  'application/json',
  'APPLICATION/JSON ; charset=utf-8',
  'application/vnd.x.y+json',
  'application/+json',
  'application/json+',
  'application/jsonx',
  'text/json',
  'text/plain',
  'application/octet-stream',
  ';',
  ' ; ; ',
  'application/json\u0000',
  '\u0000\u0001\u007f',
  `application/${'a'.repeat(240)}+json`,
  'é/ü+json',
  'application/json;'.repeat(14),
];
function hostileContentType(r) {
  if (r() < 0.8) return CONTENT_TYPES[Math.floor(r() * CONTENT_TYPES.length)];
  // Random printable ASCII of up to 255 characters (a short string's limit).
  return String.fromCharCode(...Array.from({ length: Math.floor(r() * 256) }, () => 32 + Math.floor(r() * 95)));
}

/** Payloads for validating exchanges: random bytes, framed with real or random ids, deep or broken JSON. */
function hostilePayload(r, ids) {
  const pick = Math.floor(r() * 8);
  const rand = (n) => Buffer.from(Array.from({ length: n }, () => Math.floor(r() * 256)));
  const framed = (id, body) =>
    Buffer.concat([Buffer.from([0, id >>> 24, (id >>> 16) & 255, (id >>> 8) & 255, id & 255]), body]);
  if (pick === 0) return rand(Math.floor(r() * 64));
  if (pick === 1) return framed(ids[Math.floor(r() * ids.length)], rand(Math.floor(r() * 64)));
  if (pick === 2) return framed(Math.floor(r() * 2 ** 32) >>> 0, rand(8));
  if (pick === 3) return Buffer.from('{"a":1,"c":'.repeat(20_000) + '{"a":1}' + '}'.repeat(20_000));
  if (pick === 4) return Buffer.from('['.repeat(100_000));
  // Framed with a real id (any type) and a JSON body: valid, broken or deep.
  if (pick === 6) return framed(ids[Math.floor(r() * ids.length)], Buffer.from(r() < 0.5 ? '{"a":1}' : '{"a":'));
  if (pick === 7) return Buffer.from(r() < 0.5 ? '{"a":1,"b":["x"]}' : '\ufeff{"a":1}');
  return framed(ids[Math.floor(r() * ids.length)], Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x0f]));
}

/** SchemaHelpers.decode on hostile bodies and headers: counts decoded, refused (an Error), hung or non-Error throws. */
async function fuzzDecode(r, base, ids, iterations) {
  const helpers = new SchemaHelpers({ url: base, username: 'guest', password: 'guest' });
  const HEADERS = [undefined, ...ids, 0, -1, 2 ** 40, 'x', { id: 1 }, [ids[0]]];
  const out = { decoded: 0, refused: 0, bad: 0 };
  for (let i = 0; i < iterations; i++) {
    const header = HEADERS[Math.floor(r() * HEADERS.length)];
    const msg = {
      content: hostilePayload(r, ids),
      properties: { headers: header === undefined ? {} : { 'x-schema-id': header } },
    };
    let timer;
    const hung = new Promise((resolve) => (timer = setTimeout(() => resolve('hung'), 10_000)));
    try {
      const res = await Promise.race([helpers.decode(msg).then(() => 'decoded'), hung]);
      if (res === 'decoded') out.decoded++;
      else out.bad++;
    } catch (err) {
      if (err instanceof Error) out.refused++;
      else out.bad++;
    } finally {
      clearTimeout(timer);
    }
  }
  return out;
}

export async function fuzzSchemas({ iterations = 500, seed = 1, log = () => undefined } = {}) {
  const r = rng(seed);
  const broker = await spawnBroker({ logLevel: 'error' });
  const base = `http://127.0.0.1:${broker.managementPort}`;
  const auth = `Basic ${Buffer.from('guest:guest').toString('base64')}`;
  const status = {};
  let serverErrors = 0;
  let nonJson = 0;
  const request = async (method, path, body) => {
    const res = await fetch(base + path, {
      method,
      headers: { authorization: auth, 'content-type': 'application/vnd.schemaregistry.v1+json' },
      body: body === undefined || method === 'GET' || method === 'DELETE' ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(10_000),
    });
    const text = await res.text();
    status[res.status] = (status[res.status] ?? 0) + 1;
    if (res.status >= 500) serverErrors++;
    try {
      JSON.parse(text);
    } catch {
      if (!path.endsWith('/schema')) nonJson++;
    }
    return { status: res.status, text };
  };
  try {
    const ids = [];
    for (const [type, schema] of Object.entries(VALID)) {
      const res = await request('POST', `/subjects/fz-${type}/versions`, { schemaType: type, schema });
      ids.push(JSON.parse(res.text).id);
    }
    for (let i = 0; i < iterations; i++) {
      const s = SUBJECTS[Math.floor(r() * SUBJECTS.length)];
      const v = VERSIONS[Math.floor(r() * VERSIONS.length)];
      const [method, path] = PATHS[Math.floor(r() * PATHS.length)](s, v);
      await request(method, path, hostileBody(r));
      if (i % 100 === 99) log(`  ${i + 1} registry requests, statuses ${JSON.stringify(status)}`);
    }
    // Hostile payloads on validating exchanges.
    const conn = await connect(broker.url);
    let ch = await conn.createChannel();
    let accepted = 0;
    let nacked = 0;
    let other = 0;
    const otherErrors = [];
    for (const type of Object.keys(VALID)) {
      await ch.assertExchange(`fz-${type}`, 'fanout', { arguments: { 'x-schema-subject': `fz-${type}` } });
    }
    await ch.assertQueue('fz-q', { arguments: { 'x-max-length': 100 } });
    for (const type of Object.keys(VALID)) await ch.bindQueue('fz-q', `fz-${type}`, '');
    for (let i = 0; i < iterations; i++) {
      const type = Object.keys(VALID)[i % 3];
      const contentType = hostileContentType(r);
      try {
        await ch.publish(`fz-${type}`, '', hostilePayload(r, ids), contentType === undefined ? {} : { contentType });
        accepted++;
      } catch (err) {
        if (err.code === 406) nacked++;
        else {
          other++;
          if (otherErrors.length < 5) otherErrors.push(`${JSON.stringify(contentType)}: ${err.message}`);
          ch = await conn.createChannel();
        }
      }
    }
    const decode = await fuzzDecode(r, base, ids, iterations);
    // Still serving: the registry answers and a valid message is routed.
    const subjects = await request('GET', '/subjects');
    await ch.publish('fz-JSON', '', Buffer.from('{"a":1,"b":["x"]}'));
    await conn.close();
    return {
      registryRequests: iterations,
      statuses: status,
      serverErrors,
      nonJsonAnswers: nonJson,
      publishes: { accepted, nacked, other, otherErrors },
      decode,
      registryServing: subjects.status === 200,
      brokerAlive: !broker.exited(),
    };
  } finally {
    await broker.stop();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({ options: { iterations: { type: 'string' }, seed: { type: 'string' } } });
  const seed = Number(values.seed ?? Date.now() % 100000);
  console.log(`schemas fuzz seed ${seed}`);
  const res = await fuzzSchemas({ iterations: Number(values.iterations ?? 500), seed, log: (s) => console.log(s) });
  console.log(JSON.stringify(res, null, 2));
  const ok =
    res.serverErrors === 0 &&
    res.nonJsonAnswers === 0 &&
    res.publishes.other === 0 &&
    res.decode.bad === 0 &&
    res.registryServing &&
    res.brokerAlive;
  console.log(ok ? 'OK' : 'FAILED');
  process.exit(ok ? 0 : 1);
}
