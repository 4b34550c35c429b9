// Hostile field tables and names for the fuzz harness (issue 11 items 1, 7, 12): every
// msgpackr extension type, wrong-typed values, deep nesting, huge tables, non-finite floats,
// long keys, invalid UTF-8 and control characters in names. Each generator returns the bytes
// of one frame that the broker must refuse (502 at decode, or 406 for control characters).
import { Packr } from 'msgpackr';
import { FRAME_SCHEMAS } from '@switchyard/client/protocol';

const plain = new Packr({ useRecords: false });
const selfRef = [];
selfRef.push(selfRef);

/** [packer, value] pairs whose packing holds a msgpackr extension or a non-AMQP value. */
const BAD_VALUES = [
  [new Packr({ structuredClone: true, useRecords: false }), () => selfRef],
  [
    new Packr({ structuredClone: true, useRecords: false }),
    () => {
      const o = { a: 1 };
      return [o, o];
    },
  ],
  [new Packr({ useRecords: true }), () => ({ rec: 1, ord: 2 })],
  [new Packr({ moreTypes: true, useRecords: false }), () => /re+/g],
  [new Packr({ moreTypes: true, useRecords: false }), () => new Error('e')],
  [new Packr({ moreTypes: true, useRecords: false }), () => new Set([1, 2])],
  [new Packr({ moreTypes: true, useRecords: false }), () => new Float64Array([1.5])],
  [new Packr({ moreTypes: true, useRecords: false }), () => new Int32Array([7])],
  [new Packr({ useBigIntExtension: true, useRecords: false }), () => 2n ** 99n],
  [new Packr({ bundleStrings: true, useRecords: false }), () => ({ s: 'bundled'.repeat(20) })],
  [plain, () => new Date()],
  [plain, () => NaN],
  [plain, () => Infinity],
  [plain, () => ({ ['k'.repeat(300)]: 1 })],
];

function frameBytes(code, channel, fields, content) {
  const body = fields instanceof Uint8Array ? fields : plain.pack(fields);
  const tail = content ?? new Uint8Array(0);
  const out = new Uint8Array(11 + body.length + tail.length);
  const v = new DataView(out.buffer);
  v.setUint32(0, 7 + body.length + tail.length);
  v.setUint8(4, code);
  v.setUint16(5, channel);
  v.setUint32(7, body.length);
  out.set(body, 11);
  out.set(tail, 11 + body.length);
  return out;
}

/** A map nested `depth` deep, by hand (msgpackr would overflow its stack packing it). */
function deepMap(depth) {
  const out = new Uint8Array(depth * 3 + 1);
  for (let i = 0; i < depth; i++) out.set([0x81, 0xa1, 0x64], i * 3); // {d: ...}
  out[depth * 3] = 0xc0;
  return out;
}

/** A map32 header announcing `count` keys, followed by `present` one-char keys. */
function hugeMap(count, present) {
  const out = new Uint8Array(5 + present * 3);
  out[0] = 0xdf;
  new DataView(out.buffer).setUint32(1, count);
  for (let i = 0; i < present; i++) out.set([0xa1, 0x61 + (i % 26), 0x01], 5 + i * 3);
  return out;
}

/** publish fields `[exchange, routingKey, mandatory, {headers: <raw>}]` with raw msgpack headers. */
function publishWithRawHeaders(exchange, routingKey, rawHeaders) {
  const head = plain.pack([exchange, routingKey, false, { headers: 0 }]);
  const fields = new Uint8Array(head.length - 1 + rawHeaders.length);
  fields.set(head.subarray(0, head.length - 1));
  fields.set(rawHeaders, head.length - 1);
  return fields;
}

/** `str8` bytes that are not UTF-8. */
function invalidUtf8(r) {
  const bad = [[0xff], [0xc3, 0x28], [0xe2, 0x82], [0xed, 0xa0, 0x80], [0xf8, 0x88, 0x80, 0x80, 0x80]][
    Math.floor(r() * 5)
  ];
  const s = [0x71, ...bad, 0x71];
  return Uint8Array.from([0xd9, s.length, ...s]);
}

const CONTROL = ['\u0000', '\n', '\r', '\u001b', '\u007f', '\u0085'];

/**
 * One hostile frame on `channel`, publishing to `exchange`/`routingKey` where it publishes.
 * Returns { bytes, expect: 'connection' | 'channel' }: how the broker must refuse it.
 */
export function hostileTableFrame(r, channel = 1, exchange = '', routingKey = 'fuzz') {
  const pick = Math.floor(r() * 8);
  if (pick <= 2) {
    // a bad value somewhere in the headers of a publish
    const [packr, make] = BAD_VALUES[Math.floor(r() * BAD_VALUES.length)];
    const headers = r() < 0.5 ? { h: make() } : { ok: 1, list: [1, { deep: make() }] };
    return {
      bytes: frameBytes(
        FRAME_SCHEMAS.publish.code,
        channel,
        packr.pack([exchange, routingKey, false, { headers }]),
        new Uint8Array(4),
      ),
      expect: 'connection',
    };
  }
  if (pick === 3) {
    // a bad value in queue arguments
    const [packr, make] = BAD_VALUES[Math.floor(r() * BAD_VALUES.length)];
    const fields = packr.pack([
      1,
      `fuzz-args-${Math.floor(r() * 1e6)}`,
      false,
      false,
      false,
      false,
      { 'x-custom': make() },
    ]);
    return { bytes: frameBytes(FRAME_SCHEMAS.queueDeclare.code, channel, fields), expect: 'connection' };
  }
  if (pick === 4) {
    // nesting far beyond the limit
    return {
      bytes: frameBytes(
        FRAME_SCHEMAS.publish.code,
        channel,
        publishWithRawHeaders(exchange, routingKey, deepMap(20 + Math.floor(r() * 5000))),
        new Uint8Array(1),
      ),
      expect: 'connection',
    };
  }
  if (pick === 5) {
    // a huge table: the count in the header is refused before any key is read
    const count = 5000 + Math.floor(r() * 10_000_000);
    return {
      bytes: frameBytes(
        FRAME_SCHEMAS.publish.code,
        channel,
        publishWithRawHeaders(exchange, routingKey, hugeMap(count, Math.min(count, 5000))),
        new Uint8Array(1),
      ),
      expect: 'connection',
    };
  }
  if (pick === 6) {
    // invalid UTF-8 in a queue name
    const fields = new Uint8Array([0x97, 0x01, ...invalidUtf8(r), 0xc2, 0xc2, 0xc2, 0xc2, 0x80]);
    return { bytes: frameBytes(FRAME_SCHEMAS.queueDeclare.code, channel, fields), expect: 'connection' };
  }
  // control characters in a new queue or exchange name: valid frames, refused with 406
  const name = `fuzz${CONTROL[Math.floor(r() * CONTROL.length)]}${Math.floor(r() * 1e6)}`;
  if (r() < 0.5)
    return {
      bytes: frameBytes(FRAME_SCHEMAS.queueDeclare.code, channel, [1, name, false, false, false, true, {}]),
      expect: 'channel',
    };
  return {
    bytes: frameBytes(FRAME_SCHEMAS.exchangeDeclare.code, channel, [1, name, 'direct', false, false, true, false, {}]),
    expect: 'channel',
  };
}
