/**
 * Confluent's wire format as the broker reads it (spec/schemas.md §Wire format): magic byte
 * 0, the schema id as a 4-byte big-endian integer, then the payload. The SDK writes JSON and
 * Avro only, which carry no Protobuf message indexes.
 */

/** Frames `payload` with schema id `id`. */
export function frame(id: number, payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(5 + payload.length);
  new DataView(out.buffer).setUint32(1, id);
  out.set(payload, 5);
  return out;
}

/** The schema id of a framed message, or undefined when `content` is not framed (a JSON text never starts with 0x00). */
export function framedId(content: Uint8Array): number | undefined {
  if (content.length < 5 || content[0] !== 0) return undefined;
  return new DataView(content.buffer, content.byteOffset, content.byteLength).getUint32(1);
}
