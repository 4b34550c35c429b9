import { Packr } from 'msgpackr';
import type { MessageMeta, MessageRecord } from './store.js';

/*
 * Stored message value: u32 big-endian envelope size | msgpack [exchange, routingKey,
 * properties, expiresAt, priority] | raw body. The body stays raw so it is written and read without re-encoding.
 */
const packr = new Packr({ useRecords: false, mapsAsObjects: true });

export function encodeRecord(record: MessageRecord, meta: MessageMeta): Buffer {
  const envelope = packr.pack([record.exchange, record.routingKey, record.properties, meta.expiresAt, meta.priority]);
  const out = Buffer.allocUnsafe(4 + envelope.length + record.content.length);
  out.writeUInt32BE(envelope.length, 0);
  out.set(envelope, 4);
  out.set(record.content, 4 + envelope.length);
  return out;
}

export function decodeRecord(value: Uint8Array): MessageRecord {
  const buf = Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  const envelopeSize = buf.readUInt32BE(0);
  const [exchange, routingKey, properties] = packr.unpack(buf.subarray(4, 4 + envelopeSize)) as [
    string,
    string,
    MessageRecord['properties'],
  ];
  return { exchange, routingKey, properties, content: buf.subarray(4 + envelopeSize) };
}

/** The scheduling facts of a stored value, without copying its body. */
export function decodeMeta(value: Uint8Array): MessageMeta {
  const buf = Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  const envelopeSize = buf.readUInt32BE(0);
  const env = packr.unpack(buf.subarray(4, 4 + envelopeSize)) as unknown[];
  return { expiresAt: (env[3] as number | undefined) ?? 0, priority: (env[4] as number | undefined) ?? 0 };
}

/** Body size of a stored value, without decoding it. */
export function recordBodySize(value: Uint8Array): number {
  const view = new DataView(value.buffer, value.byteOffset, value.byteLength);
  return value.byteLength - 4 - view.getUint32(0);
}
