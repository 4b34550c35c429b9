import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { FieldTable, MessageProperties } from '@switchyard/client/protocol';
import { BASIC_CLASS, FRAME_END, FRAME_HEADER, FRAME_METHOD } from './codec.js';

/**
 * Hand-written encoders for the frames every delivery carries (basic.deliver and the content
 * header), byte for byte what amqplib's generated `defs.js` writes, minus its BigInt
 * conversion of 64-bit fields, which costs microseconds per frame (measured: 290,000
 * deliver frames/s through defs.js against several million here). Field tables still go
 * through amqplib's `encodeTable`. test/amqp/core-codec.test.ts decodes both with defs.js.
 */
const require = createRequire(import.meta.url);
const codec = require(join(dirname(require.resolve('amqplib')), 'lib', 'codec.js')) as {
  encodeTable(buf: Buffer, table: FieldTable, offset: number): number;
};

const BASIC_DELIVER = (BASIC_CLASS << 16) | 60;
const TWO_32 = 2 ** 32;

/** Room for one content header: its field tables are limited by frame-max anyway. */
let scratch = Buffer.allocUnsafe(64 * 1024);

function writeUInt64(buf: Buffer, value: number, offset: number): void {
  buf.writeUInt32BE(Math.floor(value / TWO_32) >>> 0, offset);
  buf.writeUInt32BE(value >>> 0, offset + 4);
}

function writeShortStr(buf: Buffer, s: string, offset: number): number {
  const len = buf.write(s, offset + 1, 'utf8');
  if (len > 255) throw new RangeError(`short string of ${len} bytes: at most 255`);
  buf[offset] = len;
  return offset + 1 + len;
}

/** One whole basic.deliver method frame. */
export function encodeDeliver(
  channel: number,
  consumerTag: string,
  deliveryTag: number,
  redelivered: boolean,
  exchange: string,
  routingKey: string,
): Buffer {
  const size = 24 + Buffer.byteLength(consumerTag) + Buffer.byteLength(exchange) + Buffer.byteLength(routingKey);
  const buf = Buffer.allocUnsafe(size);
  buf[0] = FRAME_METHOD;
  buf.writeUInt16BE(channel, 1);
  buf.writeUInt32BE(size - 8, 3);
  buf.writeUInt32BE(BASIC_DELIVER, 7);
  let off = writeShortStr(buf, consumerTag, 11);
  writeUInt64(buf, deliveryTag, off);
  off += 8;
  buf[off++] = redelivered ? 1 : 0;
  off = writeShortStr(buf, exchange, off);
  off = writeShortStr(buf, routingKey, off);
  buf[off] = FRAME_END;
  return buf;
}

/**
 * One whole content-header frame (class basic) for a body of `size` bytes, with our
 * properties mapped to AMQP's (`persistent` -> delivery-mode 2 / 1).
 */
export function encodeContentHeader(channel: number, size: number, p: MessageProperties | null): Buffer {
  let buf = scratch;
  for (;;) {
    try {
      const len = writeHeader(buf, channel, size, p);
      return Buffer.from(buf.subarray(0, len));
    } catch (err) {
      // Field tables larger than the scratch: grow it (a frame-max check follows at the caller).
      if (!(err instanceof RangeError) || buf.length >= 64 * 1024 * 1024) throw err;
      buf = scratch = Buffer.allocUnsafe(buf.length * 4);
    }
  }
}

function writeHeader(buf: Buffer, channel: number, size: number, p: MessageProperties | null): number {
  buf[0] = FRAME_HEADER;
  buf.writeUInt16BE(channel, 1);
  buf.writeUInt16BE(BASIC_CLASS, 7);
  buf.writeUInt16BE(0, 9); // weight
  writeUInt64(buf, size, 11);
  let flags = 0;
  let off = 21; // after the 2-byte property flags at 19
  if (p !== null) {
    const str = (v: string | undefined, bit: number): void => {
      if (v === undefined || v === null) return;
      flags |= bit;
      off = writeShortStr(buf, v, off);
    };
    str(p.contentType, 0x8000);
    str(p.contentEncoding, 0x4000);
    if (p.headers !== undefined && p.headers !== null) {
      flags |= 0x2000;
      off += codec.encodeTable(buf, toAmqpTable(p.headers), off);
    }
    if (p.persistent !== undefined && p.persistent !== null) {
      flags |= 0x1000;
      buf[off++] = p.persistent ? 2 : 1;
    }
    if (p.priority !== undefined && p.priority !== null) {
      flags |= 0x0800;
      buf[off++] = p.priority & 0xff;
    }
    str(p.correlationId, 0x0400);
    str(p.replyTo, 0x0200);
    str(p.expiration, 0x0100);
    str(p.messageId, 0x0080);
    if (p.timestamp !== undefined && p.timestamp !== null) {
      flags |= 0x0040;
      writeUInt64(buf, p.timestamp, off);
      off += 8;
    }
    str(p.type, 0x0020);
    str(p.userId, 0x0010);
    str(p.appId, 0x0008);
  }
  buf.writeUInt16BE(flags, 19);
  if (off + 1 > buf.length) throw new RangeError('content header larger than the scratch buffer');
  buf[off] = FRAME_END;
  buf.writeUInt32BE(off - 7, 3);
  return off + 1;
}

/** Our tables may hold Uint8Array (SDK bytes) where amqplib's encoder expects a Buffer. */
export function toAmqpTable(t: FieldTable): FieldTable {
  let copy: FieldTable | undefined;
  for (const k in t) {
    const v = toAmqpValue(t[k]);
    if (v !== t[k]) {
      copy ??= { ...t };
      copy[k] = v;
    }
  }
  return copy ?? t;
}

function toAmqpValue(v: unknown): unknown {
  if (v instanceof Uint8Array) return Buffer.isBuffer(v) ? v : Buffer.from(v.buffer, v.byteOffset, v.byteLength);
  if (Array.isArray(v)) {
    const mapped = v.map(toAmqpValue);
    return mapped.every((x, i) => x === v[i]) ? v : mapped;
  }
  if (typeof v === 'object' && v !== null) return toAmqpTable(v as FieldTable);
  return v;
}
