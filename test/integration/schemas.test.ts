import { SchemaRegistry as ConfluentClient, SchemaType } from '@kafkajs/confluent-schema-registry';
import amqplib from 'amqplib';
import { expect } from 'chai';
import { amqpUrlOf } from '../helpers/amqp.js';
import { startBroker, useBroker } from '../helpers/broker.js';
import { open, text, waitFor, type Channel, type Message } from '../helpers/client.js';
import { api } from '../helpers/http.js';

const ORDER_AVRO = {
  type: 'record',
  name: 'Order',
  namespace: 'shop',
  fields: [
    { name: 'id', type: 'int' },
    { name: 'item', type: 'string' },
  ],
};
const ORDER_JSON = {
  type: 'object',
  properties: { id: { type: 'integer' }, item: { type: 'string' } },
  required: ['id', 'item'],
  additionalProperties: false,
};
const ORDER_PROTO = 'syntax = "proto3";\npackage shop;\nmessage Order {\n  int32 id = 1;\n  string item = 2;\n}\n';

describe('schema registry: Confluent REST API, exchanges that validate', () => {
  const fx = useBroker({ noSync: true });
  const client = (): ConfluentClient =>
    new ConfluentClient({ host: fx.tb.broker.managementUrl!, auth: { username: 'guest', password: 'guest' } });

  it('serves a real Confluent client: register, encode, decode for Avro, JSON Schema and Protobuf', async () => {
    const registry = client();
    const { id: avroId } = await registry.register(
      { type: SchemaType.AVRO, schema: JSON.stringify(ORDER_AVRO) },
      { subject: 'orders-avro' },
    );
    const { id: jsonId } = await registry.register(
      { type: SchemaType.JSON, schema: JSON.stringify(ORDER_JSON) },
      { subject: 'orders-json' },
    );
    const { id: protoId } = await registry.register(
      { type: SchemaType.PROTOBUF, schema: ORDER_PROTO },
      { subject: 'orders-proto' },
    );
    expect(new Set([avroId, jsonId, protoId]).size).to.equal(3);
    for (const id of [avroId, jsonId, protoId]) {
      const encoded = await registry.encode(id, { id: 7, item: 'tea' });
      expect(encoded[0]).to.equal(0); // Confluent wire format
      expect(encoded.readUInt32BE(1)).to.equal(id);
      expect(await registry.decode(encoded)).to.deep.include({ id: 7, item: 'tea' });
    }
    expect(await registry.getLatestSchemaId('orders-json')).to.equal(jsonId);
    // An identical schema registered again keeps its id.
    const again = await registry.register(
      { type: SchemaType.AVRO, schema: JSON.stringify(ORDER_AVRO) },
      { subject: 'orders-avro' },
    );
    expect(again.id).to.equal(avroId);
    expect((await api(fx.tb, 'GET', '/subjects')).body).to.deep.equal(['orders-avro', 'orders-json', 'orders-proto']);
  });

  it("answers with Confluent's error codes (40401, 40402, 40901, 42201, 42202, 42203)", async () => {
    const ct = { 'content-type': 'application/vnd.schemaregistry.v1+json' };
    expect((await api(fx.tb, 'GET', '/subjects/nope/versions')).body).to.deep.include({ error_code: 40401 });
    const reg = await api(fx.tb, 'POST', '/subjects/o/versions', { schema: JSON.stringify(ORDER_AVRO) }, ct);
    expect(reg.status).to.equal(200);
    expect((await api(fx.tb, 'GET', '/subjects/o/versions/9')).body).to.deep.include({ error_code: 40402 });
    expect((await api(fx.tb, 'GET', '/subjects/o/versions/x')).body).to.deep.include({ error_code: 42202 });
    const bad = await api(fx.tb, 'POST', '/subjects/o/versions', { schema: '{"type":"record"' }, ct);
    expect(bad.status).to.equal(422);
    expect(bad.body).to.deep.include({ error_code: 42201 });
    const narrowed = {
      ...ORDER_AVRO,
      fields: [{ name: 'id', type: 'string' }, ORDER_AVRO.fields[1], { name: 'qty', type: 'int' }],
    };
    const check = await api(
      fx.tb,
      'POST',
      '/compatibility/subjects/o/versions/latest',
      { schema: JSON.stringify(narrowed) },
      ct,
    );
    expect(check.body.is_compatible).to.equal(false);
    const refused = await api(fx.tb, 'POST', '/subjects/o/versions', { schema: JSON.stringify(narrowed) }, ct);
    expect(refused.status).to.equal(409);
    expect(refused.body.error_code).to.equal(40901);
    expect(refused.body.message)
      .to.match(/\/id: type int -> string/)
      .and.match(/\/qty added without a default/);
    expect((await api(fx.tb, 'PUT', '/config/o', { compatibility: 'SIDEWAYS' }, ct)).body).to.deep.include({
      error_code: 42203,
    });
    expect((await api(fx.tb, 'PUT', '/config/o', { compatibility: 'NONE' }, ct)).body).to.deep.equal({
      compatibility: 'NONE',
    });
    expect(
      (await api(fx.tb, 'POST', '/subjects/o/versions', { schema: JSON.stringify(narrowed) }, ct)).status,
    ).to.equal(200);
    expect((await api(fx.tb, 'GET', '/config')).body).to.deep.equal({ compatibilityLevel: 'BACKWARD' });
    expect((await api(fx.tb, 'GET', '/subjects/o/versions')).body).to.deep.equal([1, 2]);
  });

  it('keeps every subject, version, id and level across a restart', async () => {
    const registry = client();
    const { id: v1 } = await registry.register(
      { type: SchemaType.AVRO, schema: JSON.stringify(ORDER_AVRO) },
      { subject: 'kept' },
    );
    const v2Schema = { ...ORDER_AVRO, fields: [...ORDER_AVRO.fields, { name: 'note', type: 'string', default: '' }] };
    const { id: v2 } = await registry.register(
      { type: SchemaType.AVRO, schema: JSON.stringify(v2Schema) },
      { subject: 'kept' },
    );
    await api(fx.tb, 'PUT', '/config/kept', { compatibility: 'FULL' });
    fx.tb = await fx.tb.restart();
    expect((await api(fx.tb, 'GET', '/subjects/kept/versions')).body).to.deep.equal([1, 2]);
    expect((await api(fx.tb, 'GET', '/subjects/kept/versions/1')).body).to.include({ id: v1, version: 1 });
    expect((await api(fx.tb, 'GET', '/subjects/kept/versions/latest')).body).to.include({ id: v2, version: 2 });
    expect((await api(fx.tb, 'GET', '/config/kept')).body).to.deep.equal({ compatibilityLevel: 'FULL' });
    expect((await api(fx.tb, 'GET', `/schemas/ids/${v2}`)).body.schema).to.be.a('string');
    // New ids continue after the old ones.
    const { id: v3 } = await client().register(
      { type: SchemaType.JSON, schema: JSON.stringify(ORDER_JSON) },
      { subject: 'other' },
    );
    expect(v3).to.be.greaterThan(v2);
  });

  /** A validating exchange `orders` bound to queue `q`, plus a consumer collecting what reaches `q`. */
  async function validatingExchange(
    ch: Channel,
    subject: string,
    extra: Record<string, unknown> = {},
  ): Promise<Message[]> {
    await ch.assertExchange('orders', 'fanout', {
      durable: true,
      arguments: { 'x-schema-subject': subject, ...extra },
    });
    await ch.assertQueue('q', { durable: true });
    await ch.bindQueue('q', 'orders', '');
    const got: Message[] = [];
    await ch.consume('q', (m) => {
      if (m === null) return;
      got.push(m);
      ch.ack(m);
    });
    return got;
  }

  it('validates JSON published to an exchange with x-schema-subject: accepts with x-schema-id, nacks with subject, version and violations', async () => {
    const { id } = await client().register(
      { type: SchemaType.JSON, schema: JSON.stringify(ORDER_JSON) },
      { subject: 'orders-json' },
    );
    const { ch } = await open(fx.tb.url, fx.conns);
    const got = await validatingExchange(ch, 'orders-json');
    await ch.publish('orders', '', Buffer.from(JSON.stringify({ id: 1, item: 'tea' })), {
      contentType: 'application/json',
    });
    const err = await ch.publish('orders', '', Buffer.from(JSON.stringify({ id: 'one' }))).catch((e: unknown) => e);
    expect(err).to.include({ code: 406 });
    expect((err as Error).message)
      .to.match(/subject 'orders-json' version 1/)
      .and.match(/must be integer|must have required property/);
    const notJson = await ch.publish('orders', '', Buffer.from('{oops')).catch((e: unknown) => e);
    expect((notJson as Error).message).to.match(/payload is not JSON/);
    // The channel carries on after the nacks.
    await ch.publish('orders', '', Buffer.from(JSON.stringify({ id: 2, item: 'cake' })));
    await waitFor(() => got.length === 2, 'two valid deliveries');
    expect(got.map((m) => (JSON.parse(text(m)) as { id: number }).id)).to.deep.equal([1, 2]);
    expect(got[0]!.properties.headers).to.deep.include({ 'x-schema-id': id });
    const metrics = await (await fetch(`${fx.tb.broker.managementUrl}/metrics`)).text();
    expect(metrics).to.match(/switchyard_schema_validation_failures_total\{vhost="\/",exchange="orders"\} 2/);
  });

  it('reads an unframed message as JSON only when its content type is JSON (or absent): others are refused', async () => {
    const { id } = await client().register(
      { type: SchemaType.JSON, schema: JSON.stringify(ORDER_JSON) },
      { subject: 'orders-json' },
    );
    const { ch } = await open(fx.tb.url, fx.conns);
    const got = await validatingExchange(ch, 'orders-json');
    const order = (n: number): Buffer => Buffer.from(JSON.stringify({ id: n, item: 'tea' }));
    await ch.publish('orders', '', order(1), { contentType: 'application/json; charset=utf-8' });
    await ch.publish('orders', '', order(2), { contentType: 'application/vnd.shop.order+json' });
    await ch.publish('orders', '', order(3)); // no content type: read as JSON
    const err = await ch.publish('orders', '', order(4), { contentType: 'text/plain' }).catch((e: unknown) => e);
    expect(err).to.include({ code: 406 });
    expect((err as Error).message)
      .to.match(new RegExp(`subject 'orders-json' version 1 \\(id ${id}\\)`))
      .and.match(/content type "text\/plain" is not JSON/);
    await waitFor(() => got.length === 3, 'the three JSON deliveries');
    expect(got.map((m) => (JSON.parse(text(m)) as { id: number }).id)).to.deep.equal([1, 2, 3]);
  });

  it('closes an unconfirmed AMQP 0-9-1 channel with 406 for a message of a non-JSON content type, and nacks it on a confirm channel', async () => {
    await client().register({ type: SchemaType.JSON, schema: JSON.stringify(ORDER_JSON) }, { subject: 'orders-json' });
    const conn = await amqplib.connect(amqpUrlOf(fx.tb));
    try {
      const setup = await conn.createChannel();
      await setup.assertExchange('ct-orders', 'fanout', { arguments: { 'x-schema-subject': 'orders-json' } });
      await setup.assertQueue('ct-q');
      await setup.bindQueue('ct-q', 'ct-orders', '');
      const body = Buffer.from('{"id":1,"item":"a"}');
      setup.publish('ct-orders', '', body, { contentType: 'application/json' });
      const closed = new Promise<Error>((resolve) => setup.once('error', resolve));
      setup.publish('ct-orders', '', body, { contentType: 'application/octet-stream' });
      const channelError = await closed;
      expect(channelError.message)
        .to.match(/406/)
        .and.match(/subject 'orders-json' version 1/)
        .and.match(/content type "application\/octet-stream" is not JSON/);

      const ch = await conn.createConfirmChannel();
      const outcome = (contentType: string): Promise<string> =>
        new Promise((resolve) => {
          ch.publish('ct-orders', '', body, { contentType }, (e: unknown) =>
            resolve(e === null || e === undefined ? 'ack' : 'nack'),
          );
        });
      expect(await outcome('text/csv')).to.equal('nack');
      expect(await outcome('application/problem+json')).to.equal('ack');
      const first = await ch.get('ct-q', { noAck: true });
      const second = await ch.get('ct-q', { noAck: true });
      expect(first && first.properties.contentType).to.equal('application/json');
      expect(second && second.properties.contentType).to.equal('application/problem+json');
      expect(await ch.get('ct-q', { noAck: true })).to.equal(false);
    } finally {
      await conn.close();
    }
  });

  it('validates Avro and Protobuf in the Confluent wire format, by the id the message names', async () => {
    const registry = client();
    const { id: avroId } = await registry.register(
      { type: SchemaType.AVRO, schema: JSON.stringify(ORDER_AVRO) },
      { subject: 'av' },
    );
    const { id: protoId } = await registry.register(
      { type: SchemaType.PROTOBUF, schema: ORDER_PROTO },
      { subject: 'pb' },
    );
    const { ch } = await open(fx.tb.url, fx.conns);
    const got = await validatingExchange(ch, 'av');
    await ch.publish('orders', '', await registry.encode(avroId, { id: 3, item: 'jam' }));
    const truncated = (await registry.encode(avroId, { id: 3, item: 'jam' })).subarray(0, 7);
    expect(await ch.publish('orders', '', truncated).catch((e: Error) => e.message)).to.match(
      /subject 'av' version 1 \(id \d+\)/,
    );
    expect(
      await ch
        .publish('orders', '', await registry.encode(protoId, { id: 1, item: 'x' }))
        .catch((e: Error) => e.message),
    ).to.match(new RegExp(`schema id ${protoId} is not a version of subject 'av'`));
    expect(await ch.publish('orders', '', Buffer.from('plain')).catch((e: Error) => e.message)).to.match(
      /Confluent wire format/,
    );
    await waitFor(() => got.length === 1, 'the valid Avro message');
    expect(await registry.decode(got[0]!.content)).to.deep.include({ id: 3, item: 'jam' });

    await ch.assertExchange('protos', 'fanout', {
      durable: true,
      arguments: { 'x-schema-subject': 'pb', 'x-schema-version': 1 },
    });
    await ch.bindQueue('q', 'protos', '');
    await ch.publish('protos', '', await registry.encode(protoId, { id: 4, item: 'pie' }));
    const garbage = Buffer.concat([
      (await registry.encode(protoId, { id: 4, item: 'pie' })).subarray(0, 6),
      Buffer.from([0xff, 0xff, 0xff]),
    ]);
    expect(await ch.publish('protos', '', garbage).catch((e: Error) => e.message)).to.match(/subject 'pb' version 1/);
    await waitFor(() => got.length === 2, 'the valid Protobuf message');
    expect(got[1]!.properties.headers).to.deep.include({ 'x-schema-id': protoId });
  });

  it('routes refused messages to x-schema-invalid-exchange with the reasons in headers', async () => {
    await client().register({ type: SchemaType.JSON, schema: JSON.stringify(ORDER_JSON) }, { subject: 'orders-json' });
    const { ch } = await open(fx.tb.url, fx.conns);
    await ch.assertExchange('invalid', 'fanout', { durable: true });
    await ch.assertQueue('bad', { durable: true });
    await ch.bindQueue('bad', 'invalid', '');
    const got = await validatingExchange(ch, 'orders-json', { 'x-schema-invalid-exchange': 'invalid' });
    await ch.publish('orders', '', Buffer.from(JSON.stringify({ id: 'x', item: 'y' }))); // confirmed: routed elsewhere
    const m = await ch.get('bad', { noAck: true });
    expect(m).to.not.equal(false);
    const headers = (m as Message).properties.headers;
    expect(headers).to.include({ 'x-schema-subject': 'orders-json', 'x-schema-version': 1 });
    expect(String(headers['x-schema-reason'])).to.match(/\/id must be integer/);
    expect(got).to.have.length(0);
  });

  it('refuses malformed x-schema-* arguments with 406 and validates nothing on other exchanges', async () => {
    const { ch, conn } = await open(fx.tb.url, fx.conns);
    const err = await ch
      .assertExchange('bad-args', 'fanout', { arguments: { 'x-schema-subject': 's', 'x-schema-version': 'two' } })
      .catch((e: unknown) => e);
    expect(err).to.include({ code: 406 });
    expect((err as Error).message).to.match(/x-schema-version/);
    const ch2 = await conn.createChannel();
    await ch2.assertExchange('plain', 'fanout');
    await ch2.assertQueue('p');
    await ch2.bindQueue('p', 'plain', '');
    await ch2.publish('plain', '', Buffer.from('{not json'));
    expect(text(await ch2.get('p', { noAck: true }))).to.equal('{not json');
  });

  it('nacks a refused publish on an AMQP 0-9-1 confirm channel', async () => {
    await client().register({ type: SchemaType.JSON, schema: JSON.stringify(ORDER_JSON) }, { subject: 'orders-json' });
    const conn = await amqplib.connect(amqpUrlOf(fx.tb));
    try {
      const ch = await conn.createConfirmChannel();
      await ch.assertExchange('amqp-orders', 'fanout', { arguments: { 'x-schema-subject': 'orders-json' } });
      await ch.assertQueue('amqp-q');
      await ch.bindQueue('amqp-q', 'amqp-orders', '');
      const outcome = (body: string): Promise<string> =>
        new Promise((resolve) => {
          ch.publish('amqp-orders', '', Buffer.from(body), {}, (e: unknown) =>
            resolve(e === null || e === undefined ? 'ack' : 'nack'),
          );
        });
      expect(await outcome('{"id":1,"item":"a"}')).to.equal('ack');
      expect(await outcome('{"id":"no"}')).to.equal('nack');
      expect(await outcome('{"id":2,"item":"b"}')).to.equal('ack');
      const m = await ch.get('amqp-q', { noAck: true });
      expect(m && m.properties.headers).to.deep.include({ 'x-schema-id': 1 });
    } finally {
      await conn.close();
    }
  });

  it('exports the registry with the definitions and imports it into another broker, ids and levels kept', async () => {
    const registry = client();
    await registry.register({ type: SchemaType.PROTOBUF, schema: ORDER_PROTO }, { subject: 'first' }); // id 1
    const { id } = await registry.register(
      { type: SchemaType.JSON, schema: JSON.stringify(ORDER_JSON) },
      { subject: 'orders-json' },
    );
    await api(fx.tb, 'PUT', '/config/orders-json', { compatibility: 'FULL_TRANSITIVE' });
    await api(fx.tb, 'PUT', '/config', { compatibility: 'FORWARD' });
    const { ch } = await open(fx.tb.url, fx.conns);
    await ch.assertExchange('validated', 'fanout', { durable: true, arguments: { 'x-schema-subject': 'orders-json' } });
    const defs = (await api(fx.tb, 'GET', '/api/definitions')).body;
    expect(defs.schemas.subjects).to.have.length(2);
    const other = await startBroker({ noSync: true });
    try {
      const imported = await api(other, 'POST', '/api/definitions', defs);
      expect(imported.status, JSON.stringify(imported.body)).to.equal(200);
      expect((await api(other, 'GET', '/subjects/orders-json/versions/1')).body).to.include({ id });
      expect((await api(other, 'GET', '/config/orders-json')).body).to.deep.equal({
        compatibilityLevel: 'FULL_TRANSITIVE',
      });
      expect((await api(other, 'GET', '/config')).body).to.deep.equal({ compatibilityLevel: 'FORWARD' });
      // Importing again changes nothing; the imported exchange validates.
      expect((await api(other, 'POST', '/api/definitions', defs)).status).to.equal(200);
      const { ch: ch2 } = await open(other.url, fx.conns);
      expect(await ch2.publish('validated', '', Buffer.from('{"id":"x"}')).catch((e: Error) => e.message)).to.match(
        /subject 'orders-json' version 1/,
      );
    } finally {
      await other.stop();
    }
  });
});
