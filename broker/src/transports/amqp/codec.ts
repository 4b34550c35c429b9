import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { FieldTable, MessageProperties } from '@switchyard/client/protocol';

/**
 * AMQP 0-9-1's method and content-header codec, typed. The codec itself is amqplib's
 * `lib/defs.js`, generated from the AMQP 0-9-1 spec XML (with RabbitMQ's field-table types),
 * both directions: hand-rolling 60 methods would be a second place for bugs. amqplib's
 * `exports` hides `lib/`, so it is loaded by path from the package's directory.
 * spec/amqp.md §Frames.
 */
const require = createRequire(import.meta.url);
const amqplibDir = dirname(require.resolve('amqplib'));

interface Defs {
  decode(id: number, buf: Buffer): Record<string, unknown>;
  encodeMethod(id: number, channel: number, fields: Record<string, unknown>): Buffer;
  encodeProperties(id: number, channel: number, size: number, fields: Record<string, unknown>): Buffer;
  info(id: number): { name: string; classId: number; methodId: number } | undefined;
}

const defs = require(join(amqplibDir, 'lib', 'defs.js')) as Defs;

export const FRAME_METHOD = 1;
export const FRAME_HEADER = 2;
export const FRAME_BODY = 3;
export const FRAME_HEARTBEAT = 8;
export const FRAME_END = 0xce;
/** The smallest frame-max a peer may ask for (AMQP 0-9-1 §4.2.1 frame-min-size). */
export const FRAME_MIN_SIZE = 4096;
/** Class id of `basic`, the only class with content. */
export const BASIC_CLASS = 60;

/** Method ids: (class id << 16) | method id, as amqplib's defs number them. */
const id = (classId: number, methodId: number): number => (classId << 16) | methodId;
export const M = {
  ConnectionStart: id(10, 10),
  ConnectionStartOk: id(10, 11),
  ConnectionSecure: id(10, 20),
  ConnectionSecureOk: id(10, 21),
  ConnectionTune: id(10, 30),
  ConnectionTuneOk: id(10, 31),
  ConnectionOpen: id(10, 40),
  ConnectionOpenOk: id(10, 41),
  ConnectionClose: id(10, 50),
  ConnectionCloseOk: id(10, 51),
  ConnectionBlocked: id(10, 60),
  ConnectionUnblocked: id(10, 61),
  ConnectionUpdateSecret: id(10, 70),
  ConnectionUpdateSecretOk: id(10, 71),
  ChannelOpen: id(20, 10),
  ChannelOpenOk: id(20, 11),
  ChannelFlow: id(20, 20),
  ChannelFlowOk: id(20, 21),
  ChannelClose: id(20, 40),
  ChannelCloseOk: id(20, 41),
  ExchangeDeclare: id(40, 10),
  ExchangeDeclareOk: id(40, 11),
  ExchangeDelete: id(40, 20),
  ExchangeDeleteOk: id(40, 21),
  ExchangeBind: id(40, 30),
  ExchangeBindOk: id(40, 31),
  ExchangeUnbind: id(40, 40),
  ExchangeUnbindOk: id(40, 51),
  QueueDeclare: id(50, 10),
  QueueDeclareOk: id(50, 11),
  QueueBind: id(50, 20),
  QueueBindOk: id(50, 21),
  QueuePurge: id(50, 30),
  QueuePurgeOk: id(50, 31),
  QueueDelete: id(50, 40),
  QueueDeleteOk: id(50, 41),
  QueueUnbind: id(50, 50),
  QueueUnbindOk: id(50, 51),
  BasicQos: id(60, 10),
  BasicQosOk: id(60, 11),
  BasicConsume: id(60, 20),
  BasicConsumeOk: id(60, 21),
  BasicCancel: id(60, 30),
  BasicCancelOk: id(60, 31),
  BasicPublish: id(60, 40),
  BasicReturn: id(60, 50),
  BasicDeliver: id(60, 60),
  BasicGet: id(60, 70),
  BasicGetOk: id(60, 71),
  BasicGetEmpty: id(60, 72),
  BasicAck: id(60, 80),
  BasicReject: id(60, 90),
  BasicRecoverAsync: id(60, 100),
  BasicRecover: id(60, 110),
  BasicRecoverOk: id(60, 111),
  BasicNack: id(60, 120),
  TxSelect: id(90, 10),
  TxSelectOk: id(90, 11),
  TxCommit: id(90, 20),
  TxCommitOk: id(90, 21),
  TxRollback: id(90, 30),
  TxRollbackOk: id(90, 31),
  ConfirmSelect: id(85, 10),
  ConfirmSelectOk: id(85, 11),
} as const;

/** A decoded method's arguments, by amqplib's (camelCase) field names. */
export type MethodFields = Record<string, unknown>;

/** The method's name (`BasicPublish` ...), or undefined for an id AMQP 0-9-1 does not define. */
export function methodName(methodId: number): string | undefined {
  try {
    return defs.info(methodId)?.name;
  } catch {
    return undefined;
  }
}

/** Decodes a method's arguments (the bytes after its 4-byte id); throws on a short or bad frame. */
export function decodeMethod(methodId: number, args: Buffer): MethodFields {
  return defs.decode(methodId, args);
}

/** One whole method frame (header, arguments, frame-end). */
export function encodeMethod(methodId: number, channel: number, fields: MethodFields): Buffer {
  return defs.encodeMethod(methodId, channel, fields);
}

/** One whole content-header frame for a body of `size` bytes. */
export function encodeHeader(channel: number, size: number, properties: MethodFields): Buffer {
  return defs.encodeProperties(BASIC_CLASS, channel, size, properties);
}

/** Decodes a content header's property flags and list (the bytes after class, weight, body size). */
export function decodeProperties(buf: Buffer): MethodFields {
  return defs.decode(BASIC_CLASS, buf);
}

/** One heartbeat frame. */
export const HEARTBEAT_FRAME = Buffer.from([FRAME_HEARTBEAT, 0, 0, 0, 0, 0, 0, FRAME_END]);

/** Header of a body frame; the body follows, then FRAME_END. */
export function bodyFrameHeader(channel: number, size: number): Buffer {
  const b = Buffer.allocUnsafe(7);
  b[0] = FRAME_BODY;
  b.writeUInt16BE(channel, 1);
  b.writeUInt32BE(size, 3);
  return b;
}

export const FRAME_END_BYTE = Buffer.from([FRAME_END]);

/**
 * AMQP basic properties -> ours, one to one: delivery-mode 2 is `persistent`; the AMQP-only
 * `cluster-id` (deprecated) is dropped. Field-table values keep amqplib's decoding (decimal and
 * timestamp as `{ '!': type, value }` tables, which encode back to the same AMQP type).
 */
export function fromAmqpProperties(p: MethodFields): MessageProperties | null {
  let out: MessageProperties | null = null;
  const set = <K extends keyof MessageProperties>(k: K, v: MessageProperties[K] | undefined): void => {
    if (v === undefined) return;
    out ??= {};
    out[k] = v;
  };
  set('contentType', p['contentType'] as string | undefined);
  set('contentEncoding', p['contentEncoding'] as string | undefined);
  set('headers', p['headers'] as FieldTable | undefined);
  const mode = p['deliveryMode'] as number | undefined;
  if (mode !== undefined) set('persistent', mode === 2);
  set('priority', p['priority'] as number | undefined);
  set('correlationId', p['correlationId'] as string | undefined);
  set('replyTo', p['replyTo'] as string | undefined);
  set('expiration', p['expiration'] as string | undefined);
  set('messageId', p['messageId'] as string | undefined);
  set('timestamp', p['timestamp'] as number | undefined);
  set('type', p['type'] as string | undefined);
  set('userId', p['userId'] as string | undefined);
  set('appId', p['appId'] as string | undefined);
  return out;
}

interface Codec {
  decodeFields(buf: Buffer): Record<string, unknown>;
}
const codec = require(join(amqplibDir, 'lib', 'codec.js')) as Codec;

/** Decodes a field table's entries (without its 4-byte length): AMQPLAIN's login response. */
export function decodeTable(buf: Buffer): FieldTable {
  return codec.decodeFields(buf);
}
