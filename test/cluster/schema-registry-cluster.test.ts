// The schema registry of a Switchyard cluster (spec/schemas.md §Storage): one registry in the
// JetStream KV bucket sy_schemas, shared by every node. Real nats-server processes, in-process
// brokers on ephemeral ports, the real SDK.
import { expect } from 'chai';
import type { Broker } from '@switchyard/broker';
import { closeAll, open, sleep, text, waitFor, type Connection, type Message } from '../helpers/client.js';
import { ClusterNodes } from '../helpers/cluster-nodes.js';
import { GUEST_AUTH } from '../helpers/http.js';
import { skipWithoutNatsServer, startJetStreamCluster, type JetStreamCluster } from '../helpers/jetstream-cluster.js';

const ORDER_JSON = {
  type: 'object',
  properties: { id: { type: 'integer' }, item: { type: 'string' } },
  required: ['id', 'item'],
};

/** One Confluent REST call on a node's management port; the body read as JSON. */
async function call(b: Broker, method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
  const res = await fetch(b.managementUrl! + path, {
    method,
    headers: {
      authorization: GUEST_AUTH,
      ...(body === undefined ? {} : { 'content-type': 'application/vnd.schemaregistry.v1+json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const t = await res.text();
  return { status: res.status, body: t === '' ? undefined : JSON.parse(t) };
}

/** Waits until `check` holds (the other node learns changes by a KV watch). */
async function eventually(check: () => Promise<boolean>, what: string, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

describe('Schema registry on a Switchyard cluster (2 nodes, 3 nats-servers)', function () {
  this.timeout(120_000);
  let cluster: JetStreamCluster | undefined;
  const clusterNodes = new ClusterNodes(() => cluster!.urls);
  const nodes = clusterNodes.nodes;
  const conns: Connection[] = [];
  const startNode = (name: string): Promise<Broker> => clusterNodes.start(name);

  before(async function () {
    skipWithoutNatsServer(this, 'the cluster schema registry tests');
    cluster = await startJetStreamCluster();
    await cluster.waitForMetaLeader();
    await startNode('a');
    await startNode('b');
  });

  after(async () => {
    await closeAll(conns);
    await clusterNodes.stopAll();
    await cluster?.stop();
  });

  it('a schema registered on node A is listed and served on node B, and B’s exchanges enforce it (406 for invalid)', async () => {
    const [a, b] = nodes as [Broker, Broker];
    const reg = await call(a, 'POST', '/subjects/orders/versions', {
      schemaType: 'JSON',
      schema: JSON.stringify(ORDER_JSON),
    });
    expect(reg.status).to.equal(200);
    const id = reg.body.id as number;
    await eventually(async () => (await call(b, 'GET', '/subjects')).body.includes('orders'), 'subject on B');
    expect((await call(b, 'GET', '/subjects/orders/versions')).body).to.deep.equal([1]);
    const latest = await call(b, 'GET', '/subjects/orders/versions/latest');
    expect(latest.body).to.deep.include({ subject: 'orders', version: 1, id, schemaType: 'JSON' });
    expect(JSON.parse((await call(b, 'GET', `/schemas/ids/${id}`)).body.schema)).to.deep.equal(ORDER_JSON);
    // The same schema registered on B keeps A's id.
    expect(
      (await call(b, 'POST', '/subjects/orders/versions', { schemaType: 'JSON', schema: JSON.stringify(ORDER_JSON) }))
        .body,
    ).to.deep.equal({ id });

    const { ch } = await open(b.url, conns);
    await ch.assertExchange('validated', 'fanout', { durable: true, arguments: { 'x-schema-subject': 'orders' } });
    await ch.assertQueue('validated.q', { durable: true });
    await ch.bindQueue('validated.q', 'validated', '');
    const got: Message[] = [];
    await ch.consume('validated.q', (m) => {
      if (m === null) return;
      got.push(m);
      ch.ack(m);
    });
    await ch.publish('validated', '', Buffer.from(JSON.stringify({ id: 1, item: 'tea' })), {
      contentType: 'application/json',
      persistent: true,
    });
    const err = await ch
      .publish('validated', '', Buffer.from(JSON.stringify({ id: 'one' })), { contentType: 'application/json' })
      .catch((e: unknown) => e);
    expect(err).to.include({ code: 406 });
    expect((err as Error).message).to.match(/subject 'orders' version 1/);
    await waitFor(() => got.length === 1, 'the valid message on B', 30_000);
    expect(JSON.parse(text(got[0]!))).to.deep.equal({ id: 1, item: 'tea' });
    expect(got[0]!.properties.headers).to.deep.include({ 'x-schema-id': id });
  });

  it('concurrent registrations on A and B to one subject: distinct ids, consecutive versions, one view on both', async () => {
    const [a, b] = nodes as [Broker, Broker];
    expect((await call(a, 'PUT', '/config/race', { compatibility: 'NONE' })).status).to.equal(200);
    await eventually(async () => (await call(b, 'GET', '/config/race')).status === 200, 'level on B');
    const perNode = 8;
    const schemaOf = (node: string, i: number): string =>
      JSON.stringify({ type: 'object', title: `${node}-${i}`, properties: { [`f_${node}_${i}`]: { type: 'string' } } });
    const results = await Promise.all(
      [a, b].flatMap((n, k) =>
        Array.from({ length: perNode }, (_, i) =>
          call(n, 'POST', '/subjects/race/versions', { schemaType: 'JSON', schema: schemaOf(k === 0 ? 'a' : 'b', i) }),
        ),
      ),
    );
    for (const r of results) expect(r.status, JSON.stringify(r.body)).to.equal(200);
    const ids = results.map((r) => r.body.id as number);
    expect(new Set(ids).size).to.equal(2 * perNode);
    const expected = Array.from({ length: 2 * perNode }, (_, i) => i + 1);
    const viewOf = async (n: Broker): Promise<string> => {
      const versions = (await call(n, 'GET', '/subjects/race/versions')).body as number[];
      const rows = [];
      for (const v of versions) rows.push((await call(n, 'GET', `/subjects/race/versions/${v}`)).body);
      return JSON.stringify(rows);
    };
    for (const n of [a, b])
      await eventually(
        async () => JSON.stringify((await call(n, 'GET', '/subjects/race/versions')).body) === JSON.stringify(expected),
        'all versions on each node',
      );
    const [va, vb] = [await viewOf(a), await viewOf(b)];
    expect(va).to.equal(vb);
    const rows = JSON.parse(va) as { version: number; id: number }[];
    expect(rows.map((r) => r.id).sort((x, y) => x - y)).to.deep.equal([...ids].sort((x, y) => x - y));
  });

  it('levels, refusals and deletes made on one node hold on the other', async () => {
    const [a, b] = nodes as [Broker, Broker];
    const avro = (fields: object[]): string => JSON.stringify({ type: 'record', name: 'User', fields });
    expect((await call(a, 'PUT', '/config/users', { compatibility: 'BACKWARD' })).status).to.equal(200);
    const v1 = await call(a, 'POST', '/subjects/users/versions', { schema: avro([{ name: 'id', type: 'int' }]) });
    expect(v1.status).to.equal(200);
    await eventually(async () => (await call(b, 'GET', '/subjects/users/versions')).status === 200, 'users on B');
    // A field added without a default breaks BACKWARD: refused on B, which applies A's level.
    const bad = await call(b, 'POST', '/subjects/users/versions', {
      schema: avro([
        { name: 'id', type: 'int' },
        { name: 'email', type: 'string' },
      ]),
    });
    expect(bad.status, JSON.stringify(bad.body)).to.equal(409);
    expect(bad.body.error_code).to.equal(40901);
    expect((await call(b, 'DELETE', '/subjects/users')).body).to.deep.equal([1]);
    await eventually(async () => (await call(a, 'GET', '/subjects/users/versions')).status === 404, 'delete on A');
    expect((await call(a, 'GET', '/subjects/users/versions')).body.error_code).to.equal(40401);
    expect((await call(a, 'GET', '/subjects/users/versions?deleted=true')).body).to.deep.equal([1]);
  });

  it('a node started after the registrations loads every subject, version, id and level from the cluster', async () => {
    const [a] = nodes as [Broker, Broker];
    const before = (await call(a, 'GET', '/api/schemas')).body;
    await a.close();
    nodes.shift();
    const c = await startNode('c');
    expect((await call(c, 'GET', '/api/schemas')).body).to.deep.equal(before);
    expect((await call(c, 'GET', '/config/race')).body).to.deep.equal({ compatibilityLevel: 'NONE' });
    // And new ids continue after the highest.
    const maxId = Math.max(
      ...before.subjects.flatMap((s: { versions: { id: number }[] }) => s.versions.map((v) => v.id)),
    );
    const next = await call(c, 'POST', '/subjects/later/versions', {
      schemaType: 'JSON',
      schema: JSON.stringify({ type: 'string' }),
    });
    expect(next.body.id).to.be.greaterThan(maxId);
  });
});
