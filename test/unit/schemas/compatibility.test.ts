import { expect } from 'chai';
import {
  COMPATIBILITY_LEVELS,
  SchemaRegistry,
  SchemaRegistryError,
  type CompatibilityLevel,
  type SchemaRecordStore,
  type SchemaType,
} from '@switchyard/broker/internal';

/** The registry's records in a Map: what a store keeps, without one (pure logic under test). */
class MapRecords implements SchemaRecordStore {
  readonly records = new Map<string, unknown>();
  loadSchemaRecords(): [string, unknown][] {
    return [...this.records].map(([k, v]) => [k, structuredClone(v)]);
  }
  putSchemaRecord(key: string, value: unknown): void {
    this.records.set(key, structuredClone(value));
  }
  removeSchemaRecord(key: string): void {
    this.records.delete(key);
  }
}

/** Whether registering `next` after `base` succeeds under `level`. */
function accepts(type: SchemaType, level: CompatibilityLevel, ...versions: string[]): boolean {
  const reg = new SchemaRegistry(new MapRecords());
  reg.setConfig('s', 'NONE');
  for (const v of versions.slice(0, -1)) reg.register('s', type, v);
  reg.setConfig('s', level);
  try {
    reg.register('s', type, versions[versions.length - 1]!);
    return true;
  } catch (err) {
    expect(err).to.be.instanceOf(SchemaRegistryError);
    expect((err as SchemaRegistryError).errorCode).to.equal(40901);
    return false;
  }
}

/** Expected verdict per level from the two directions: new reads old (backward), old reads new (forward). */
function expected(level: CompatibilityLevel, backward: boolean, forward: boolean): boolean {
  if (level === 'NONE') return true;
  if (level.startsWith('BACKWARD')) return backward;
  if (level.startsWith('FORWARD')) return forward;
  return backward && forward;
}

const avroRecord = (fields: object[]): string => JSON.stringify({ type: 'record', name: 'Order', fields });
const AVRO_BASE = avroRecord([
  { name: 'id', type: 'int' },
  { name: 'qty', type: 'long' },
  { name: 'state', type: { type: 'enum', name: 'State', symbols: ['NEW', 'PAID'] } },
]);
const avroWith = (patch: (f: { name: string; type: unknown; default?: unknown }[]) => void): string => {
  const fields = (JSON.parse(AVRO_BASE) as { fields: { name: string; type: unknown }[] }).fields;
  patch(fields);
  return avroRecord(fields);
};

const jsonSchema = (props: Record<string, unknown>, required: string[] = ['id']): string =>
  JSON.stringify({ type: 'object', properties: props, required, additionalProperties: false });
const JSON_PROPS = { id: { type: 'integer' }, qty: { type: 'number' }, state: { enum: ['NEW', 'PAID'] } };
const JSON_BASE = jsonSchema(JSON_PROPS);

const proto = (fields: string, extra = ''): string =>
  `syntax = "proto3";\npackage shop;\nmessage Order {\n${fields}\n}\nenum State { NEW = 0; PAID = 1; ${extra} }\n`;
const PROTO_FIELDS = '  int32 id = 1;\n  int64 qty = 2;\n  State state = 3;';
const PROTO_BASE = proto(PROTO_FIELDS);

/** Each change, per format: the new schema, and whether it is backward / forward compatible. */
const CASES: { format: SchemaType; change: string; base: string; next: string; backward: boolean; forward: boolean }[] =
  [
    // Avro: avsc's schema resolution decides.
    {
      format: 'AVRO',
      change: 'field added with default',
      base: AVRO_BASE,
      next: avroWith((f) => f.push({ name: 'note', type: 'string', default: '' })),
      backward: true,
      forward: true,
    },
    {
      format: 'AVRO',
      change: 'field added without default',
      base: AVRO_BASE,
      next: avroWith((f) => f.push({ name: 'note', type: 'string' })),
      backward: false,
      forward: true,
    },
    {
      format: 'AVRO',
      change: 'field removed',
      base: AVRO_BASE,
      next: avroWith((f) => f.splice(1, 1)),
      backward: true,
      forward: false,
    },
    {
      format: 'AVRO',
      change: 'type widened (int -> long)',
      base: AVRO_BASE,
      next: avroWith((f) => (f[0]!.type = 'long')),
      backward: true,
      forward: false,
    },
    {
      format: 'AVRO',
      change: 'type narrowed (long -> int)',
      base: AVRO_BASE,
      next: avroWith((f) => (f[1]!.type = 'int')),
      backward: false,
      forward: true,
    },
    {
      format: 'AVRO',
      change: 'enum extended',
      base: AVRO_BASE,
      next: avroWith((f) => (f[2]!.type = { type: 'enum', name: 'State', symbols: ['NEW', 'PAID', 'SHIPPED'] })),
      backward: true,
      forward: false,
    },
    // JSON Schema (closed content models): the structural rules of spec/schemas.md.
    {
      format: 'JSON',
      change: 'optional property added (with default)',
      base: JSON_BASE,
      next: jsonSchema({ ...JSON_PROPS, note: { type: 'string', default: '' } }),
      backward: true,
      forward: false,
    },
    {
      format: 'JSON',
      change: 'required property added (no default)',
      base: JSON_BASE,
      next: jsonSchema({ ...JSON_PROPS, note: { type: 'string' } }, ['id', 'note']),
      backward: false,
      forward: false,
    },
    {
      format: 'JSON',
      change: 'property removed',
      base: JSON_BASE,
      next: jsonSchema({ id: JSON_PROPS.id, state: JSON_PROPS.state }),
      backward: false,
      forward: true,
    },
    {
      format: 'JSON',
      change: 'type widened (integer -> number)',
      base: JSON_BASE,
      next: jsonSchema({ ...JSON_PROPS, id: { type: 'number' } }),
      backward: true,
      forward: false,
    },
    {
      format: 'JSON',
      change: 'type narrowed (number -> integer)',
      base: JSON_BASE,
      next: jsonSchema({ ...JSON_PROPS, qty: { type: 'integer' } }),
      backward: false,
      forward: true,
    },
    {
      format: 'JSON',
      change: 'enum extended',
      base: JSON_BASE,
      next: jsonSchema({ ...JSON_PROPS, state: { enum: ['NEW', 'PAID', 'SHIPPED'] } }),
      backward: true,
      forward: false,
    },
    // Protobuf: Confluent's rules (unknown fields skipped, missing ones defaulted; kinds must match).
    {
      format: 'PROTOBUF',
      change: 'field added',
      base: PROTO_BASE,
      next: proto(PROTO_FIELDS + '\n  string note = 4;'),
      backward: true,
      forward: true,
    },
    {
      format: 'PROTOBUF',
      change: 'required field added (proto2, no default)',
      base: 'syntax = "proto2";\nmessage A { optional int32 id = 1; }',
      next: 'syntax = "proto2";\nmessage A { optional int32 id = 1; required string note = 2; }',
      backward: false,
      forward: false,
    },
    {
      format: 'PROTOBUF',
      change: 'field removed',
      base: PROTO_BASE,
      next: proto('  int32 id = 1;\n  State state = 3;'),
      backward: true,
      forward: true,
    },
    {
      format: 'PROTOBUF',
      change: 'type widened (int32 -> int64)',
      base: PROTO_BASE,
      next: proto('  int64 id = 1;\n  int64 qty = 2;\n  State state = 3;'),
      backward: false,
      forward: false,
    },
    {
      format: 'PROTOBUF',
      change: 'type narrowed (int64 -> int32)',
      base: PROTO_BASE,
      next: proto('  int32 id = 1;\n  int32 qty = 2;\n  State state = 3;'),
      backward: false,
      forward: false,
    },
    {
      format: 'PROTOBUF',
      change: 'enum extended',
      base: PROTO_BASE,
      next: proto(PROTO_FIELDS, 'SHIPPED = 2;'),
      backward: true,
      forward: true,
    },
  ];

describe('schema compatibility levels (Confluent names and meanings)', () => {
  for (const c of CASES) {
    for (const level of COMPATIBILITY_LEVELS) {
      const want = expected(level, c.backward, c.forward);
      it(`${c.format}: ${c.change} is ${want ? 'accepted' : 'refused'} under ${level}`, () => {
        expect(accepts(c.format, level, c.base, c.next)).to.equal(want);
      });
    }
  }

  // v2 is compatible with v1 and v3 with v2, but v3 cannot read v1's data: only the
  // transitive levels look past the latest version.
  const transitive: { format: SchemaType; v: [string, string, string] }[] = [
    {
      format: 'AVRO',
      v: [
        avroRecord([
          { name: 'id', type: 'int' },
          { name: 'b', type: 'int' },
        ]),
        avroRecord([{ name: 'id', type: 'int' }]),
        avroRecord([
          { name: 'id', type: 'int' },
          { name: 'b', type: 'string', default: '' },
        ]),
      ],
    },
    {
      format: 'PROTOBUF',
      v: [
        'syntax = "proto3";\nmessage A { int32 id = 1; int32 b = 2; }',
        'syntax = "proto3";\nmessage A { int32 id = 1; }',
        'syntax = "proto3";\nmessage A { int32 id = 1; string b = 2; }',
      ],
    },
  ];
  for (const { format, v } of transitive) {
    it(`${format}: BACKWARD checks the latest version only, BACKWARD_TRANSITIVE every one`, () => {
      expect(accepts(format, 'BACKWARD', ...v)).to.equal(true);
      expect(accepts(format, 'BACKWARD_TRANSITIVE', ...v)).to.equal(false);
      expect(accepts(format, 'FULL_TRANSITIVE', ...v)).to.equal(false);
    });
  }
  it('AVRO: FORWARD checks the latest only, FORWARD_TRANSITIVE every one', () => {
    const v1 = avroRecord([{ name: 'id', type: 'int' }]);
    const v2 = avroRecord([
      { name: 'id', type: 'int' },
      { name: 'b', type: 'int', default: 0 },
    ]);
    const v3 = avroRecord([
      { name: 'id', type: 'int' },
      { name: 'b', type: 'string', default: '' },
    ]);
    expect(accepts('AVRO', 'FORWARD', v1, v2, v3)).to.equal(false); // v2 reads b as int: string is not
    const w2 = avroRecord([
      { name: 'id', type: 'int', default: 0 },
      { name: 'b', type: 'string' },
    ]);
    const w3 = avroRecord([{ name: 'b', type: 'string' }]);
    // v1 can read w2's data; w2 can read w3's (id defaults); v1 cannot read w3's (no id, no default).
    expect(accepts('AVRO', 'FORWARD', v1, w2, w3)).to.equal(true);
    expect(accepts('AVRO', 'FORWARD_TRANSITIVE', v1, w2, w3)).to.equal(false);
  });
});

describe('schema registry', () => {
  it('names each incompatibility: field, old type, new type', () => {
    const reg = new SchemaRegistry(new MapRecords());
    reg.register('orders', 'AVRO', AVRO_BASE);
    const narrowed = avroWith((f) => {
      f[1]!.type = 'int';
      f.push({ name: 'note', type: 'string' });
    });
    expect(() => reg.register('orders', 'AVRO', narrowed))
      .to.throw(SchemaRegistryError)
      .with.property('message')
      .that.matches(/\/qty: type long -> int/)
      .and.matches(/field \/note added without a default/);
    reg.register('j', 'JSON', JSON_BASE);
    expect(() => reg.register('j', 'JSON', jsonSchema({ ...JSON_PROPS, qty: { type: 'integer' } }))).to.throw(
      /\/qty: type changed from number to integer/,
    );
    reg.register('p', 'PROTOBUF', PROTO_BASE);
    expect(() =>
      reg.register('p', 'PROTOBUF', proto('  string id = 1;\n  int64 qty = 2;\n  State state = 3;')),
    ).to.throw(/field shop.Order.id \(#1\): type int32 -> string/);
  });

  it('returns the existing id for an identical schema, shares ids across subjects, and keeps all of it in its records', () => {
    const records = new MapRecords();
    const reg = new SchemaRegistry(records);
    const id = reg.register('a', 'AVRO', AVRO_BASE);
    expect(reg.register('a', 'AVRO', AVRO_BASE)).to.equal(id);
    expect(reg.register('a', 'AVRO', JSON.stringify(JSON.parse(AVRO_BASE), null, 2))).to.equal(id); // same schema, other spacing
    expect(reg.register('b', 'AVRO', AVRO_BASE)).to.equal(id);
    const id2 = reg.register(
      'a',
      'AVRO',
      avroWith((f) => f.push({ name: 'n', type: 'int', default: 1 })),
    );
    expect(id2).to.not.equal(id);
    reg.setConfig('a', 'FULL');
    const again = new SchemaRegistry(records);
    expect(again.listSubjects()).to.deep.equal(['a', 'b']);
    expect(again.listVersions('a')).to.deep.equal([1, 2]);
    expect(again.version('a', 'latest').id).to.equal(id2);
    expect(again.config('a')).to.equal('FULL');
    expect(again.register('c', 'JSON', JSON_BASE)).to.equal(id2 + 1);
  });

  it('refuses invalid schemas with 42201 and bad versions with 42202', () => {
    const reg = new SchemaRegistry(new MapRecords());
    for (const [type, text] of [
      ['AVRO', '{"type":"record","name":"x","fields":[{"name":"a","type":"nope"}]}'],
      ['JSON', '{"type": 12}'],
      ['PROTOBUF', 'message {'],
      ['AVRO', '['.repeat(10_000)],
    ] as [SchemaType, string][]) {
      expect(() => reg.register('s', type, text))
        .to.throw(SchemaRegistryError)
        .with.property('errorCode', 42201);
    }
    reg.register('s', 'AVRO', '"int"');
    expect(() => reg.version('s', 'abc'))
      .to.throw(SchemaRegistryError)
      .with.property('errorCode', 42202);
    expect(() => reg.version('s', 7))
      .to.throw(SchemaRegistryError)
      .with.property('errorCode', 40402);
    expect(() => reg.version('t', 1))
      .to.throw(SchemaRegistryError)
      .with.property('errorCode', 40401);
  });
});
