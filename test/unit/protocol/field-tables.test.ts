import { expect } from 'chai';
import { Packr } from 'msgpackr';
import {
  ErrorCode,
  FrameCode,
  MAX_FIELD_ENTRIES,
  MAX_TABLE_DEPTH,
  MAX_TABLE_KEYS,
  ProtocolError,
  decodeAll,
  encodeFrame,
  fieldTableError,
} from '@switchyard/client/protocol';

/** A publish frame whose msgpack fields are exactly `fields` (built by any packer). */
function publishWithFields(fields: Uint8Array): Uint8Array {
  const out = Buffer.alloc(11 + fields.length + 1);
  out.writeUInt32BE(out.length - 4, 0);
  out.writeUInt8(FrameCode.publish, 4);
  out.writeUInt16BE(1, 5);
  out.writeUInt32BE(fields.length, 7);
  Buffer.from(fields).copy(out, 11);
  return new Uint8Array(out);
}

function publishWithHeaders(packr: Packr, headers: unknown): Uint8Array {
  return publishWithFields(packr.pack(['x', 'k', false, { headers }]));
}

function refusal(bytes: Uint8Array): ProtocolError {
  try {
    decodeAll(bytes);
  } catch (err) {
    expect(err).to.be.instanceOf(ProtocolError);
    expect((err as ProtocolError).code).to.equal(ErrorCode.SYNTAX_ERROR);
    return err as ProtocolError;
  }
  return expect.fail('expected a 502 ProtocolError');
}

const plain = new Packr({ useRecords: false });

describe('field tables (spec/protocol.md §Field tables)', () => {
  describe('decoding refuses every msgpackr extension', () => {
    const selfRef: unknown[] = [];
    selfRef.push(selfRef);
    const cases: [string, Packr, unknown][] = [
      [
        'a structured-clone self-referencing array (0x69/0x70)',
        new Packr({ structuredClone: true, useRecords: false }),
        { h: selfRef },
      ],
      ['a record (0x72)', new Packr({ useRecords: true }), { r: { a: 1, b: 2 } }],
      ['a RegExp (0x78)', new Packr({ moreTypes: true, useRecords: false }), { re: /a+/g }],
      ['an Error (0x65)', new Packr({ moreTypes: true, useRecords: false }), { e: new Error('x') }],
      ['a Set (0x73)', new Packr({ moreTypes: true, useRecords: false }), { s: new Set([1]) }],
      ['a Date (-1)', plain, { d: new Date() }],
      ['a typed array (0x74)', new Packr({ moreTypes: true, useRecords: false }), { t: new Int16Array([1, 2]) }],
      ['a BigInt beyond 64 bits (0x42)', new Packr({ useBigIntExtension: true, useRecords: false }), { b: 2n ** 100n }],
      ['bundled strings (0x62)', new Packr({ bundleStrings: true, useRecords: false }), { s: 'x'.repeat(100) }],
    ];
    for (const [what, packr, headers] of cases) {
      it(`refuses ${what} with 502 naming the field`, () => {
        const err = refusal(publishWithHeaders(packr, headers));
        expect(err.message).to.match(/^publish frame: /);
        // Bundled strings replace map keys by references: refused as non-string keys.
        expect(err.message).to.match(/extension type 0x[0-9a-f]{2} is not a field value|table key is not a string/);
      });
    }

    it('names the path inside the headers', () => {
      const err = refusal(
        publishWithHeaders(new Packr({ structuredClone: true, useRecords: false }), {
          ok: 1,
          list: [1, { deep: selfRef }],
        }),
      );
      expect(err.message).to.match(/properties\.headers\.list\[1\]\.deep: /);
    });

    it("still reads msgpackr's `undefined` (fixext 1, type 0) as void", () => {
      const [f] = decodeAll(publishWithHeaders(plain, { a: undefined, b: 1 }));
      expect(f!.type === 'publish' && f!.properties!.headers).to.deep.equal({ a: undefined, b: 1 });
    });
  });

  describe('decoding refuses values outside AMQP field types and limits', () => {
    it('refuses NaN and infinities', () => {
      expect(refusal(publishWithHeaders(plain, { n: NaN })).message).to.match(/headers\.n: NaN is not a finite number/);
      expect(refusal(publishWithHeaders(plain, { n: -Infinity })).message).to.match(/-Infinity is not a finite number/);
    });

    it(`refuses tables nested more than ${MAX_TABLE_DEPTH} deep`, () => {
      // 100,000 maps deep, by hand (msgpackr itself would overflow its stack packing it).
      const head = Buffer.from(plain.pack(['x', 'k', false, { headers: 0 }]));
      const deep = Buffer.concat([
        head.subarray(0, head.length - 1),
        Buffer.alloc(100_000 * 3, Buffer.from([0x81, 0xa1, 0x64])),
        Buffer.from([0xc0]),
      ]);
      expect(refusal(publishWithFields(deep)).message).to.match(
        /properties\.headers(\.d)+: nested more than \d+ tables or arrays deep/,
      );
      let ok: Record<string, unknown> = { leaf: 1 };
      for (let i = 0; i < MAX_TABLE_DEPTH - 1; i++) ok = { d: ok };
      expect(() => decodeAll(publishWithHeaders(plain, ok))).to.not.throw();
      let tooDeep: unknown = 1;
      for (let i = 0; i < MAX_TABLE_DEPTH + 1; i++) tooDeep = [tooDeep];
      expect(refusal(publishWithHeaders(plain, { a: tooDeep })).message).to.match(/nested more than/);
      // exactly the SDK's rule: 16 levels below the headers table pass, 17 do not
      let limit: unknown = 1;
      for (let i = 0; i < MAX_TABLE_DEPTH; i++) limit = [limit];
      expect(fieldTableError({ a: limit }, 'h')).to.equal(undefined);
      expect(fieldTableError({ a: [limit] }, 'h')).to.match(/nested more than 16/);
      expect(() => decodeAll(publishWithHeaders(plain, { a: limit }))).to.not.throw();
      expect(refusal(publishWithHeaders(plain, { a: [limit] })).message).to.match(
        /properties\.headers\.a(\[0\])+: nested more than 16/,
      );
      const declare = (args: unknown) =>
        encodeFrame({
          type: 'queueDeclare',
          channel: 1,
          rid: 1,
          queue: 'q',
          passive: false,
          durable: false,
          exclusive: false,
          autoDelete: false,
          arguments: args as never,
        });
      expect(() => decodeAll(declare({ a: limit }))).to.not.throw();
      expect(refusal(declare({ a: [limit] })).message).to.match(
        /queueDeclare frame: arguments\.a(\[0\])+: nested more than 16/,
      );
    });

    it(`refuses a table of more than ${MAX_TABLE_KEYS} keys, and a 10 MiB frame of keys before building it`, () => {
      const many: Record<string, number> = {};
      for (let i = 0; i <= MAX_TABLE_KEYS; i++) many[`k${i}`] = i;
      expect(refusal(publishWithHeaders(plain, many)).message).to.match(/more than 4096 keys in one table/);
      // ~10 MiB of one-byte keys in one map32: refused from the count in its header.
      const n = 1_000_000;
      const fields = Buffer.alloc(40 + n * 10);
      let at = 0;
      fields[at++] = 0x94;
      fields[at++] = 0xa1;
      fields[at++] = 0x78; // 'x'
      fields[at++] = 0xa1;
      fields[at++] = 0x6b; // 'k'
      fields[at++] = 0xc2;
      fields[at++] = 0x81;
      fields[at++] = 0xa7;
      at += fields.write('headers', at);
      fields[at++] = 0xdf;
      fields.writeUInt32BE(n, at);
      at += 4;
      for (let i = 0; i < n; i++) {
        fields[at++] = 0xa7;
        at += fields.write(i.toString(16).padStart(7, '0'), at);
        fields[at++] = 0x01;
      }
      const heapBefore = process.memoryUsage().heapUsed;
      expect(refusal(publishWithFields(fields.subarray(0, at))).message).to.match(/more than 4096 keys/);
      expect(process.memoryUsage().heapUsed - heapBefore).to.be.below(16 * 1024 * 1024);
    });

    it(`refuses more than ${MAX_FIELD_ENTRIES} entries in one frame`, () => {
      const lists: Record<string, number[]> = {};
      for (let i = 0; i < 5; i++) lists[`l${i}`] = new Array<number>(4000).fill(1);
      expect(refusal(publishWithHeaders(plain, lists)).message).to.match(
        /more than 16384 table entries and array elements/,
      );
    });

    it('refuses a key longer than 255 bytes of UTF-8 and a key that is not a string', () => {
      expect(refusal(publishWithHeaders(plain, { ['é'.repeat(128)]: 1 })).message).to.match(
        /table key of 256 bytes; the limit is 255/,
      );
      expect(
        refusal(publishWithHeaders(new Packr({ useRecords: false, mapsAsObjects: false }), new Map([[1, 2]]))).message,
      ).to.match(/table key is not a string/);
    });

    it('refuses strings that are not valid UTF-8 (no silent U+FFFD)', () => {
      const fields = Buffer.from(plain.pack(['x', 'k', false, { headers: { s: 'ab' } }]));
      fields[fields.length - 2] = 0xc3; // 'a' -> a lead byte followed by 'b'
      expect(refusal(publishWithFields(fields)).message).to.match(/headers\.s: string is not valid UTF-8/);
    });

    it('refuses invalid UTF-8 in a name field (queue)', () => {
      const bytes = encodeFrame({
        type: 'queueDeclare',
        channel: 1,
        rid: 1,
        queue: 'qq',
        passive: false,
        durable: false,
        exclusive: false,
        autoDelete: false,
        arguments: {},
      });
      const at = Buffer.from(bytes).indexOf(Buffer.from([0xa2, 0x71, 0x71]));
      bytes[at + 1] = 0xff;
      expect(refusal(bytes).message).to.match(/queueDeclare frame: queue: string is not valid UTF-8/);
    });

    it('refuses bad values in arguments tables too', () => {
      const fields = new Packr({ moreTypes: true, useRecords: false }).pack([
        1,
        'q',
        false,
        false,
        false,
        false,
        { 'x-message-ttl': new Set([1]) },
      ]);
      const out = Buffer.alloc(11 + fields.length);
      out.writeUInt32BE(out.length - 4, 0);
      out.writeUInt8(FrameCode.queueDeclare, 4);
      out.writeUInt16BE(1, 5);
      out.writeUInt32BE(fields.length, 7);
      Buffer.from(fields).copy(out, 11);
      expect(refusal(new Uint8Array(out)).message).to.match(
        /queueDeclare frame: arguments\.x-message-ttl: msgpack extension/,
      );
    });

    it('accepts every AMQP field type', () => {
      const headers = {
        b: true,
        i: -5,
        big: 2 ** 40,
        f: 1.5,
        s: 'é',
        bytes: new Uint8Array([1, 2]),
        v: null,
        a: [1, 'x', [2]],
        t: { nested: { ok: 1 } },
      };
      const [f] = decodeAll(
        encodeFrame({
          type: 'publish',
          channel: 1,
          exchange: 'x',
          routingKey: 'k',
          mandatory: false,
          properties: { headers },
          content: new Uint8Array(0),
        }),
      );
      const got = f!.type === 'publish' ? f!.properties!.headers! : {};
      expect({ ...got, bytes: [...(got['bytes'] as Uint8Array)] }).to.deep.equal({ ...headers, bytes: [1, 2] });
    });
  });

  describe('#fieldTableError (the SDK, the management API and definitions)', () => {
    it('names the field of a value that is not an AMQP field value', () => {
      const selfRef: unknown[] = [];
      selfRef.push(selfRef);
      expect(fieldTableError({ h: [new Date()] }, 'headers')).to.match(/^headers\.h\[0\]: a Date is not a field value/);
      expect(fieldTableError({ h: 1n }, 'headers')).to.match(/^headers\.h: a bigint is not a field value/);
      expect(fieldTableError({ h: new Map() }, 'headers')).to.match(/a Map is not a field value/);
      expect(fieldTableError({ h: NaN }, 'headers')).to.match(/NaN is not a finite number/);
      expect(fieldTableError({ h: selfRef }, 'headers')).to.match(/nested more than 16 tables or arrays deep/);
      expect(fieldTableError({ h: '\ud800' }, 'headers')).to.match(/lone surrogate/);
      expect(fieldTableError({ ['k'.repeat(256)]: 1 }, 'headers')).to.match(
        /key is 256 bytes of UTF-8; the limit is 255/,
      );
      expect(fieldTableError([], 'headers')).to.match(/must be a plain object, got an array/);
      expect(fieldTableError({ ok: [1, 'a', { b: null, c: new Uint8Array(1) }] }, 'headers')).to.equal(undefined);
    });
  });
});
