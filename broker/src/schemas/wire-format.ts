/**
 * The Confluent wire format: magic byte 0, the schema id as a 4-byte big-endian integer,
 * then (Protobuf only) the message indexes, then the serialized payload.
 * spec/schemas.md §Wire format.
 */
export interface WireMessage {
  id: number;
  /** Protobuf: the path of the message type in the schema (`[0]` = the first top-level one). */
  messageIndexes: number[];
  payload: Uint8Array;
}

/** Whether `content` starts as a Confluent-framed message does (a JSON text never starts with 0x00). */
export function isWireFormat(content: Uint8Array): boolean {
  return content.length >= 5 && content[0] === 0;
}

/** Splits a framed message; `protobuf` reads the message indexes. Throws on a truncated frame. */
export function readWireFormat(content: Uint8Array, protobuf: boolean): WireMessage {
  if (!isWireFormat(content)) throw new Error('not in the Confluent wire format (magic byte 0 + 4-byte schema id)');
  const id = new DataView(content.buffer, content.byteOffset, content.byteLength).getUint32(1);
  if (!protobuf) return { id, messageIndexes: [], payload: content.subarray(5) };
  let pos = 5;
  const next = (): number => {
    // Zig-zag varint, as Confluent's serializers write it; at most 5 bytes (a 32-bit value).
    let result = 0;
    for (let shift = 0; shift < 35; shift += 7) {
      if (pos >= content.length) throw new Error('truncated message indexes');
      const b = content[pos++]!;
      result |= (b & 0x7f) << shift;
      if ((b & 0x80) === 0) return (result >>> 1) ^ -(result & 1);
    }
    throw new Error('message index varint longer than 5 bytes');
  };
  const count = next();
  if (count < 0 || count > 32) throw new Error(`message index count ${count} is out of range (0..32)`);
  const messageIndexes = count === 0 ? [0] : Array.from({ length: count }, next);
  return { id, messageIndexes, payload: content.subarray(pos) };
}

/** Frames `payload` as Confluent's serializers do (Protobuf: `messageIndexes`, default the first message). */
export function writeWireFormat(id: number, payload: Uint8Array, messageIndexes?: number[]): Uint8Array {
  const idx = messageIndexes === undefined ? [] : encodeIndexes(messageIndexes);
  const out = new Uint8Array(5 + idx.length + payload.length);
  new DataView(out.buffer).setUint32(1, id);
  out.set(idx, 5);
  out.set(payload, 5 + idx.length);
  return out;
}

function encodeIndexes(indexes: number[]): number[] {
  if (indexes.length === 1 && indexes[0] === 0) return [0];
  const out: number[] = [];
  for (const n of [indexes.length, ...indexes]) {
    let z = ((n << 1) ^ (n >> 31)) >>> 0;
    while (z > 0x7f) {
      out.push((z & 0x7f) | 0x80);
      z >>>= 7;
    }
    out.push(z);
  }
  return out;
}
