import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { connect } from '@switchyard/client';
import { GUEST_AUTH } from '../helpers/http.js';
import { CLI } from '../helpers/run-cli.js';
import { makeTmpDir } from '../helpers/tmp.js';

/*
 * Start-up loads only what the first delivery needs (spec/semantics.md §Deep backlogs, "What it
 * costs"): packages for features a broker may never use are loaded when first used. The broker
 * runs with a preload that writes every module it loads to a file, so these tests see what was
 * loaded, not how long it took.
 */

const TRACER = fileURLToPath(new URL('./fixtures/module-trace.mjs', import.meta.url));

/** Packages a plain broker (no cluster, no config file, no schema, no link) must not load. */
const LAZY = ['yaml', 'avsc', 'protobufjs', 'ajv', '@nats-io/transport-node', '@nats-io/jetstream', '@nats-io/kv'];

interface Traced {
  url: string;
  managementUrl: string;
  /** Everything loaded so far, one module a line. */
  modules(): Promise<string>;
  stop(): Promise<void>;
}

async function startTraced(dataDir: string, extraArgs: string[] = []): Promise<Traced> {
  const trace = join(dataDir, '..', `${Date.now()}-${Math.random().toString(36).slice(2)}.modules`);
  await writeFile(trace, '');
  const child = spawn(
    process.execPath,
    [
      '--import',
      TRACER,
      CLI,
      'server',
      '--port',
      '0',
      '--management-port',
      '0',
      '--amqp-port',
      '0',
      '--data-dir',
      dataDir,
      ...extraArgs,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, SWITCHYARD_MODULE_TRACE: trace } },
  );
  const output: string[] = [];
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  createInterface({ input: child.stderr }).on('line', (l) => output.push(l));
  const listening = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`broker did not start in 30 s:\n${output.join('\n')}`)), 30_000);
    createInterface({ input: child.stdout }).on('line', (line) => {
      output.push(line);
      if (line.includes('"listening"')) {
        clearTimeout(timer);
        resolve(line);
      }
    });
    void exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`broker exited before listening:\n${output.join('\n')}`));
    });
  });
  return {
    url: /"url":"(ws:\/\/[^"]+)"/.exec(listening)![1]!,
    managementUrl: /"management":"(http:\/\/[^"]+)"/.exec(listening)![1]!,
    modules: () => readFile(trace, 'utf8'),
    stop: async () => {
      child.kill('SIGKILL');
      await exited;
    },
  };
}

/** Whether the trace shows `pkg` loaded: a file inside it, or a bare `require(pkg)`. */
function loaded(trace: string, pkg: string): boolean {
  return trace.includes(`/node_modules/${pkg}/`) || trace.split('\n').some((l) => l.startsWith(`require ${pkg} `));
}

async function registerSchema(managementUrl: string, subject: string, body: object): Promise<void> {
  const res = await fetch(`${managementUrl}/subjects/${subject}/versions`, {
    method: 'POST',
    headers: { authorization: GUEST_AUTH, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  expect(res.status, await res.text()).to.equal(200);
}

describe('start-up loads only what the first delivery needs', function () {
  this.timeout(60_000);
  let tmp: { dir: string; remove: () => Promise<void> };
  let broker: Traced | undefined;
  beforeEach(async () => {
    tmp = await makeTmpDir('startup-modules');
  });
  afterEach(async () => {
    await broker?.stop();
    broker = undefined;
    await tmp.remove();
  });

  it('serves its first delivery without the cluster client, config parsers, schema formats or the AMQP link client', async () => {
    broker = await startTraced(join(tmp.dir, 'data'));
    const conn = await connect(broker.url);
    try {
      const ch = await conn.createChannel();
      await ch.assertQueue('first', { durable: true });
      await ch.sendToQueue('first', Buffer.from('hello'), { persistent: true });
      const msg = await ch.get('first', { noAck: true });
      expect(msg && Buffer.from(msg.content).toString()).to.equal('hello');
    } finally {
      await conn.close();
    }
    const trace = await broker.modules();
    // The trace works: it shows what the broker needs.
    expect(loaded(trace, 'lmdb'), 'lmdb in the trace').to.equal(true);
    expect(loaded(trace, 'ws'), 'ws in the trace').to.equal(true);
    expect(LAZY.filter((p) => loaded(trace, p))).to.deep.equal([]);
    // The AMQP transport takes amqplib's generated codec only, not its client.
    expect(trace).to.not.match(/amqplib\/(channel_api|lib\/connect)\.js/);
  });

  it('loads each schema format the first time a schema of that format is registered', async () => {
    broker = await startTraced(join(tmp.dir, 'data'));
    const before = await broker.modules();
    expect(['avsc', 'ajv', 'protobufjs'].filter((p) => loaded(before, p))).to.deep.equal([]);
    await registerSchema(broker.managementUrl, 'orders-avro', {
      schema: JSON.stringify({ type: 'record', name: 'Order', fields: [{ name: 'id', type: 'int' }] }),
    });
    const afterAvro = await broker.modules();
    expect(loaded(afterAvro, 'avsc'), 'avsc after an Avro schema').to.equal(true);
    expect(['ajv', 'protobufjs'].filter((p) => loaded(afterAvro, p))).to.deep.equal([]);
    await registerSchema(broker.managementUrl, 'orders-json', { schema: '{"type":"object"}', schemaType: 'JSON' });
    expect(loaded(await broker.modules(), 'ajv'), 'ajv after a JSON Schema').to.equal(true);
    await registerSchema(broker.managementUrl, 'orders-proto', {
      schema: 'syntax = "proto3"; message Order { int32 id = 1; }',
      schemaType: 'PROTOBUF',
    });
    expect(loaded(await broker.modules(), 'protobufjs'), 'protobufjs after a Protobuf schema').to.equal(true);
  });

  it('loads the YAML parser only for a YAML config file', async () => {
    const json = join(tmp.dir, 'switchyard.json');
    await writeFile(json, JSON.stringify({ logLevel: 'info' }));
    broker = await startTraced(join(tmp.dir, 'data'), ['--config', json]);
    expect(loaded(await broker.modules(), 'yaml'), 'yaml with a JSON config file').to.equal(false);
    await broker.stop();
    const yaml = join(tmp.dir, 'switchyard.yaml');
    await writeFile(yaml, 'logLevel: info\n');
    broker = await startTraced(join(tmp.dir, 'data'), ['--config', yaml]);
    expect(loaded(await broker.modules(), 'yaml'), 'yaml with a YAML config file').to.equal(true);
  });
});
