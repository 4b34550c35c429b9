import { SchemaHelpers, SchemaRegistryError } from '@switchyard/client/schemas';
import { connect } from '@switchyard/client';
import { expect } from 'chai';
import { useBroker } from '../helpers/broker.js';
import { open, waitFor, type Channel, type Message } from '../helpers/client.js';
import { api } from '../helpers/http.js';

const ORDER_JSON = {
  type: 'object',
  properties: { id: { type: 'integer' }, item: { type: 'string' } },
  required: ['id', 'item'],
  additionalProperties: false,
};
const ORDER_AVRO = {
  type: 'record',
  name: 'Order',
  namespace: 'shop',
  fields: [
    { name: 'id', type: 'int' },
    { name: 'item', type: 'string' },
  ],
};

describe('SDK schema helpers: publishJson / publishAvro with the registry, decode by schema id', () => {
  const fx = useBroker({ noSync: true });
  const helpers = (): SchemaHelpers =>
    new SchemaHelpers({ url: fx.tb.broker.managementUrl!, username: 'guest', password: 'guest' });

  async function register(subject: string, schema: unknown, schemaType?: string): Promise<number> {
    const res = await api(fx.tb, 'POST', `/subjects/${subject}/versions`, {
      schema: JSON.stringify(schema),
      ...(schemaType === undefined ? {} : { schemaType }),
    });
    expect(res.status, JSON.stringify(res.body)).to.equal(200);
    return (res.body as { id: number }).id;
  }

  async function validating(ch: Channel, exchange: string, subject: string): Promise<Message[]> {
    await ch.assertExchange(exchange, 'fanout', { durable: false, arguments: { 'x-schema-subject': subject } });
    const q = await ch.assertQueue('', { exclusive: true });
    await ch.bindQueue(q.queue, exchange, '');
    const got: Message[] = [];
    await ch.consume(q.queue, (m) => m && got.push(m), { noAck: true });
    return got;
  }

  /** The next message of `queue`, fetched with `get` (the publish is confirmed, so it is there). */
  async function getOne(ch: Channel, queue: string): Promise<Message> {
    const m = await ch.get(queue, { noAck: true });
    if (m === false) throw new Error(`queue ${queue} is empty`);
    return m;
  }

  it('publishJson frames with the subject id: accepted and decoded, a bad value nacked with the violation', async () => {
    const id = await register('orders-json', ORDER_JSON, 'JSON');
    const { ch } = await open(fx.tb.url, fx.conns);
    const got = await validating(ch, 'orders', 'orders-json');
    const s = helpers();
    // No subject given: read from the exchange's x-schema-subject argument.
    await s.publishJson(ch, 'orders', '', { id: 1, item: 'tea' });
    await waitFor(() => got.length === 1, 'the accepted message');
    const m = got[0]!;
    expect(m.content[0]).to.equal(0);
    expect(m.content.readUInt32BE(1)).to.equal(id);
    expect(m.properties.contentType).to.equal('application/json');
    expect(m.properties.headers['x-schema-id']).to.equal(id);
    expect(await s.decode(m)).to.deep.equal({ id: 1, item: 'tea' });

    const refused = await s.publishJson(ch, 'orders', '', { id: 'two', item: 'tea' }).then(
      () => undefined,
      (err: Error & { code?: number }) => err,
    );
    expect(refused?.message).to.match(/subject 'orders-json' version 1 .*id/);
    expect((refused as { code?: number }).code).to.equal(406);
    expect(got).to.have.length(1);
  });

  it('publishAvro round trip: encoded with the Avro schema, decoded by its id; a value that does not fit is refused before sending', async () => {
    const id = await register('orders-avro', ORDER_AVRO);
    const { ch } = await open(fx.tb.url, fx.conns);
    const got = await validating(ch, 'avro-orders', 'orders-avro');
    const s = helpers();
    await s.publishAvro(ch, 'avro-orders', '', { id: 7, item: 'coffee' }, { subject: 'orders-avro', version: 1 });
    await waitFor(() => got.length === 1, 'the accepted Avro message');
    expect(got[0]!.content.readUInt32BE(1)).to.equal(id);
    expect(got[0]!.properties.headers['x-schema-id']).to.equal(id);
    // A fresh helper, with nothing cached: decode fetches the schema by id.
    expect(await helpers().decode(got[0]!)).to.deep.include({ id: 7, item: 'coffee' });

    let err: unknown;
    try {
      await s.publishAvro(ch, 'avro-orders', '', { id: 'x', item: 'coffee' });
    } catch (e) {
      err = e;
    }
    expect(err).to.be.instanceOf(TypeError);
    expect((err as Error).message).to.include('field /id');
  });

  it('refuses a helper that does not match the subject type, an unknown subject, an exchange without a subject', async () => {
    await register('only-avro', ORDER_AVRO);
    const { ch } = await open(fx.tb.url, fx.conns);
    await ch.assertExchange('plain', 'fanout', { durable: false });
    const s = helpers();
    const fail = (p: Promise<unknown>): Promise<SchemaRegistryError> =>
      p.then(
        () => expect.fail('should have been refused'),
        (e: SchemaRegistryError) => e,
      );
    const wrongType = await fail(s.publishJson(ch, 'plain', '', {}, { subject: 'only-avro' }));
    expect(wrongType.message).to.include('is AVRO, not JSON');
    const unknown = await fail(s.publishAvro(ch, 'plain', '', {}, { subject: 'nope' }));
    expect(unknown).to.be.instanceOf(SchemaRegistryError);
    expect(unknown.errorCode).to.equal(40401);
    const noSubject = await fail(s.publishJson(ch, 'plain', '', {}));
    expect(noSubject.message).to.include('no x-schema-subject');
    const badAuth = new SchemaHelpers({ url: fx.tb.broker.managementUrl!, username: 'guest', password: 'wrong' });
    expect((await fail(badAuth.registry.schemaById(1))).errorCode).to.equal(401);
  });

  it('a hostile Avro body claiming a 2^31-item array is refused by the exchange and by decode, without exhausting the heap', async () => {
    const id = await register('arrays', {
      type: 'record',
      name: 'A',
      fields: [{ name: 'b', type: { type: 'array', items: 'string' } }],
    });
    const { ch } = await open(fx.tb.url, fx.conns);
    const got = await validating(ch, 'arrays', 'arrays');
    const hostile = Buffer.from([0, 0, 0, 0, id, 0xfe, 0xff, 0xff, 0xff, 0x0f]);
    const nack = await ch.publish('arrays', '', hostile).then(
      () => undefined,
      (err: Error) => err,
    );
    expect(nack?.message).to.match(/block of 2147483647 items is longer than the 0 bytes left/);
    const s = helpers();
    let err: unknown;
    try {
      await s.decode({ content: hostile, properties: { headers: {} } });
    } catch (e) {
      err = e;
    }
    expect((err as Error).message).to.match(/block of 2147483647 items/);
    // A well-formed array still goes through and decodes.
    await s.publishAvro(ch, 'arrays', '', { b: ['x', 'y'] });
    await waitFor(() => got.length === 1, 'the valid Avro message');
    expect(await s.decode(got[0]!)).to.deep.include({ b: ['x', 'y'] });
  });

  it('msg.decode() deserializes every received message by its schema id when connect() was given the helpers', async () => {
    const jsonId = await register('orders-json', ORDER_JSON, 'JSON');
    const avroId = await register('orders-avro', ORDER_AVRO);
    const s = helpers();
    const conn = await connect(fx.tb.url, { schemas: s });
    fx.conns.push(conn);
    const ch = await conn.createChannel();
    const json = await validating(ch, 'decode-json', 'orders-json');
    const avro = await validating(ch, 'decode-avro', 'orders-avro');
    await s.publishJson(ch, 'decode-json', '', { id: 1, item: 'tea' }); // framed
    await ch.publish('decode-json', '', Buffer.from('{"id":2,"item":"cake"}')); // plain: by x-schema-id
    await s.publishAvro(ch, 'decode-avro', '', { id: 3, item: 'jam' });
    await waitFor(() => json.length === 2 && avro.length === 1, 'three accepted messages', 15_000);
    expect(json[1]!.properties.headers['x-schema-id']).to.equal(jsonId);
    expect(await json[0]!.decode()).to.deep.equal({ id: 1, item: 'tea' });
    expect(await json[1]!.decode()).to.deep.equal({ id: 2, item: 'cake' });
    expect(avro[0]!.content.readUInt32BE(1)).to.equal(avroId);
    expect(await avro[0]!.decode<{ id: number; item: string }>()).to.deep.include({ id: 3, item: 'jam' });
    // A message fetched with get() decodes too.
    const q = await ch.assertQueue('', { exclusive: true });
    await ch.bindQueue(q.queue, 'decode-avro', '');
    await s.publishAvro(ch, 'decode-avro', '', { id: 4, item: 'pie' });
    const got = await getOne(ch, q.queue);
    expect(await got.decode()).to.deep.include({ id: 4, item: 'pie' });
  });

  it('msg.decode() without the helpers rejects, saying how to enable it; connect() refuses a schemas option without decode', async () => {
    const { ch } = await open(fx.tb.url, fx.conns);
    const q = await ch.assertQueue('', { exclusive: true });
    await ch.sendToQueue(q.queue, Buffer.from('{"a":1}'));
    const m = await getOne(ch, q.queue);
    expect(m.json()).to.deep.equal({ a: 1 });
    const err = await m.decode().then(
      () => expect.fail('decode without helpers should reject'),
      (e: Error) => e,
    );
    expect(err.message)
      .to.match(/needs the schema helpers/)
      .and.include('connect(url, { schemas: new SchemaHelpers(');
    let thrown: unknown;
    try {
      await connect(fx.tb.url, { schemas: {} as never });
    } catch (e) {
      thrown = e;
    }
    expect(thrown).to.be.instanceOf(TypeError);
    expect((thrown as Error).message).to.include('options.schemas');
  });
});
