/**
 * Message keys: 4-byte big-endian queue id + 8-byte big-endian per-queue sequence.
 * LMDB orders keys bytewise, so one queue's messages form a contiguous range in publish
 * order, and a requeued message goes back under its original key.
 */
export const MESSAGE_KEY_BYTES = 12;

export function messageKey(queueId: number, seq: number): Buffer {
  const key = Buffer.allocUnsafe(MESSAGE_KEY_BYTES);
  key.writeUInt32BE(queueId, 0);
  // The same 8 big-endian bytes as writeBigUInt64BE(BigInt(seq)) (key order and the store
  // format unchanged), without a BigInt per key: seq is a safe integer, below 2^53.
  key.writeUInt32BE(Math.floor(seq / 0x1_0000_0000), 4);
  key.writeUInt32BE(seq >>> 0, 8);
  return key;
}

/** First and one-past-last keys of a queue's range. */
export function queueRange(queueId: number): { start: Buffer; end: Buffer } {
  const start = Buffer.alloc(MESSAGE_KEY_BYTES);
  start.writeUInt32BE(queueId, 0);
  const end = Buffer.alloc(MESSAGE_KEY_BYTES);
  // queue ids stay below 2^32 - 1, so queueId + 1 never overflows
  end.writeUInt32BE(queueId + 1, 0);
  return { start, end };
}

export function seqOfKey(key: Uint8Array): number {
  const view = new DataView(key.buffer, key.byteOffset, key.byteLength);
  return Number(view.getBigUint64(4));
}

/**
 * Priority index keys (priority queues only): 4-byte queue id + 2-byte priority level +
 * 8-byte sequence, so each level of a queue is one key range in publish order.
 */
export function priorityKey(queueId: number, priority: number, seq: number): Buffer {
  const key = Buffer.allocUnsafe(14);
  key.writeUInt32BE(queueId, 0);
  key.writeUInt16BE(priority, 4);
  key.writeBigUInt64BE(BigInt(seq), 6);
  return key;
}

export function seqOfPriorityKey(key: Uint8Array): number {
  const view = new DataView(key.buffer, key.byteOffset, key.byteLength);
  return Number(view.getBigUint64(6));
}
