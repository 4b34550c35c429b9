import type { FieldTable, MessageProperties } from './properties.js';

/**
 * Every frame type of protocol version 3 (spec/protocol.md §9 says which version added which): wire code and fields, in wire order.
 * spec/protocol.md documents each one; test/unit/protocol/spec-sync.test.ts keeps the two
 * in step. A field of kind `content` is always last and travels as raw bytes after the
 * msgpack-encoded fields (see codec.ts).
 */
export const FRAME_SCHEMAS = {
  // connection (channel 0)
  hello: {
    code: 0x01,
    fields: [
      ['version', 'u16'],
      ['username', 'str'],
      ['password', 'str'],
      ['vhost', 'str'],
      ['heartbeatMs', 'u32'],
      ['clientProperties', 'table'],
    ],
  },
  helloOk: {
    code: 0x02,
    fields: [
      ['heartbeatMs', 'u32'],
      ['maxFrameBytes', 'u32'],
      ['maxMessageBytes', 'u32'],
      ['connectionId', 'str'],
      ['serverProperties', 'table'],
    ],
  },
  heartbeat: { code: 0x03, fields: [] },
  close: {
    code: 0x04,
    fields: [
      ['code', 'u16'],
      ['message', 'str'],
    ],
  },
  closeOk: { code: 0x05, fields: [] },
  blocked: { code: 0x06, fields: [['reason', 'str']] },
  unblocked: { code: 0x07, fields: [] },
  // channel lifecycle
  channelOpen: { code: 0x10, fields: [] },
  channelOpenOk: { code: 0x11, fields: [] },
  channelClose: {
    code: 0x12,
    fields: [
      ['code', 'u16'],
      ['message', 'str'],
      ['ref', 'uint'],
    ],
  },
  channelCloseOk: { code: 0x13, fields: [] },
  /** Version 2: turns publisher confirms off (or on) before the channel's first publish. */
  confirmSelect: { code: 0x14, fields: [['enabled', 'bool']] },
  // exchanges
  exchangeDeclare: {
    code: 0x20,
    fields: [
      ['rid', 'uint'],
      ['exchange', 'str'],
      ['exchangeType', 'str'],
      ['passive', 'bool'],
      ['durable', 'bool'],
      ['autoDelete', 'bool'],
      ['internal', 'bool'],
      ['arguments', 'table'],
    ],
  },
  exchangeDeclareOk: { code: 0x21, fields: [['rid', 'uint']] },
  exchangeDelete: {
    code: 0x22,
    fields: [
      ['rid', 'uint'],
      ['exchange', 'str'],
      ['ifUnused', 'bool'],
    ],
  },
  exchangeDeleteOk: { code: 0x23, fields: [['rid', 'uint']] },
  exchangeBind: {
    code: 0x24,
    fields: [
      ['rid', 'uint'],
      ['destination', 'str'],
      ['source', 'str'],
      ['routingKey', 'str'],
      ['arguments', 'table'],
    ],
  },
  exchangeBindOk: { code: 0x25, fields: [['rid', 'uint']] },
  exchangeUnbind: {
    code: 0x26,
    fields: [
      ['rid', 'uint'],
      ['destination', 'str'],
      ['source', 'str'],
      ['routingKey', 'str'],
      ['arguments', 'table'],
    ],
  },
  exchangeUnbindOk: { code: 0x27, fields: [['rid', 'uint']] },
  // queues
  queueDeclare: {
    code: 0x30,
    fields: [
      ['rid', 'uint'],
      ['queue', 'str'],
      ['passive', 'bool'],
      ['durable', 'bool'],
      ['exclusive', 'bool'],
      ['autoDelete', 'bool'],
      ['arguments', 'table'],
    ],
  },
  queueDeclareOk: {
    code: 0x31,
    fields: [
      ['rid', 'uint'],
      ['queue', 'str'],
      ['messageCount', 'uint'],
      ['consumerCount', 'uint'],
    ],
  },
  queueBind: {
    code: 0x32,
    fields: [
      ['rid', 'uint'],
      ['queue', 'str'],
      ['exchange', 'str'],
      ['routingKey', 'str'],
      ['arguments', 'table'],
    ],
  },
  queueBindOk: { code: 0x33, fields: [['rid', 'uint']] },
  queueUnbind: {
    code: 0x34,
    fields: [
      ['rid', 'uint'],
      ['queue', 'str'],
      ['exchange', 'str'],
      ['routingKey', 'str'],
      ['arguments', 'table'],
    ],
  },
  queueUnbindOk: { code: 0x35, fields: [['rid', 'uint']] },
  queuePurge: {
    code: 0x36,
    fields: [
      ['rid', 'uint'],
      ['queue', 'str'],
    ],
  },
  queuePurgeOk: {
    code: 0x37,
    fields: [
      ['rid', 'uint'],
      ['messageCount', 'uint'],
    ],
  },
  queueDelete: {
    code: 0x38,
    fields: [
      ['rid', 'uint'],
      ['queue', 'str'],
      ['ifUnused', 'bool'],
      ['ifEmpty', 'bool'],
    ],
  },
  queueDeleteOk: {
    code: 0x39,
    fields: [
      ['rid', 'uint'],
      ['messageCount', 'uint'],
    ],
  },
  // consuming
  qos: {
    code: 0x40,
    fields: [
      ['rid', 'uint'],
      ['prefetchCount', 'u32'],
      ['global', 'bool'],
    ],
  },
  qosOk: { code: 0x41, fields: [['rid', 'uint']] },
  consume: {
    code: 0x42,
    fields: [
      ['rid', 'uint'],
      ['queue', 'str'],
      ['consumerTag', 'str'],
      ['noAck', 'bool'],
      ['exclusive', 'bool'],
      ['priority', 'int'],
      ['arguments', 'table'],
    ],
  },
  consumeOk: {
    code: 0x43,
    fields: [
      ['rid', 'uint'],
      ['consumerTag', 'str'],
    ],
  },
  cancel: {
    code: 0x44,
    fields: [
      ['rid', 'uint'],
      ['consumerTag', 'str'],
    ],
  },
  cancelOk: {
    code: 0x45,
    fields: [
      ['rid', 'uint'],
      ['consumerTag', 'str'],
    ],
  },
  cancelNotify: {
    code: 0x46,
    fields: [
      ['consumerTag', 'str'],
      ['reason', 'str'],
    ],
  },
  consumerActive: {
    code: 0x4a,
    fields: [
      ['consumerTag', 'str'],
      ['active', 'bool'],
    ],
  },
  get: {
    code: 0x47,
    fields: [
      ['rid', 'uint'],
      ['queue', 'str'],
      ['noAck', 'bool'],
    ],
  },
  getOk: {
    code: 0x48,
    fields: [
      ['rid', 'uint'],
      ['deliveryTag', 'uint'],
      ['redelivered', 'bool'],
      ['deliveryCount', 'uint'],
      ['exchange', 'str'],
      ['routingKey', 'str'],
      ['messageCount', 'uint'],
      ['properties', 'props'],
      ['content', 'content'],
    ],
  },
  getEmpty: { code: 0x49, fields: [['rid', 'uint']] },
  recover: { code: 0x4b, fields: [['rid', 'uint']] },
  recoverOk: { code: 0x4c, fields: [['rid', 'uint']] },
  // messages
  publish: {
    code: 0x50,
    fields: [
      ['exchange', 'str'],
      ['routingKey', 'str'],
      ['mandatory', 'bool'],
      ['properties', 'props'],
      ['content', 'content'],
    ],
  },
  publishAck: {
    code: 0x51,
    fields: [
      ['seqNo', 'uint'],
      ['multiple', 'bool'],
    ],
  },
  publishNack: {
    code: 0x52,
    fields: [
      ['seqNo', 'uint'],
      ['multiple', 'bool'],
      ['code', 'u16'],
      ['message', 'str'],
    ],
  },
  return: {
    code: 0x53,
    fields: [
      ['replyCode', 'u16'],
      ['replyText', 'str'],
      ['exchange', 'str'],
      ['routingKey', 'str'],
      ['properties', 'props'],
      ['content', 'content'],
    ],
  },
  deliver: {
    code: 0x54,
    fields: [
      ['consumerTag', 'str'],
      ['deliveryTag', 'uint'],
      ['redelivered', 'bool'],
      ['deliveryCount', 'uint'],
      ['exchange', 'str'],
      ['routingKey', 'str'],
      ['properties', 'props'],
      ['content', 'content'],
    ],
  },
  ack: {
    code: 0x55,
    fields: [
      ['deliveryTag', 'uint'],
      ['multiple', 'bool'],
    ],
  },
  nack: {
    code: 0x56,
    fields: [
      ['deliveryTag', 'uint'],
      ['multiple', 'bool'],
      ['requeue', 'bool'],
      ['delayMs', 'u32'],
    ],
  },
  // streams (version 3)
  /** Version 3: stores a named reader's offset on a stream (RabbitMQ streams' store_offset). */
  streamOffsetStore: {
    code: 0x60,
    fields: [
      ['rid', 'uint'],
      ['queue', 'str'],
      ['reader', 'str'],
      ['offset', 'uint'],
    ],
  },
  streamOffsetStoreOk: { code: 0x61, fields: [['rid', 'uint']] },
  /** Version 3: a named reader's stored offset (RabbitMQ streams' query_offset). */
  streamOffsetQuery: {
    code: 0x62,
    fields: [
      ['rid', 'uint'],
      ['queue', 'str'],
      ['reader', 'str'],
    ],
  },
  /** `offset` is -1 when the reader has stored none. */
  streamOffsetQueryOk: {
    code: 0x63,
    fields: [
      ['rid', 'uint'],
      ['offset', 'int'],
    ],
  },
} as const;

/** Kinds a field can have, and the JavaScript type each decodes to. */
export interface FieldKinds {
  /** unsigned 8/16/32-bit integer */
  u8: number;
  u16: number;
  u32: number;
  /** non-negative safe integer (delivery tags, sequence numbers, counts) */
  uint: number;
  /** signed safe integer */
  int: number;
  str: string;
  bool: boolean;
  table: FieldTable;
  props: MessageProperties | null;
  content: Uint8Array;
}
export type FieldKind = keyof FieldKinds;

type Schemas = typeof FRAME_SCHEMAS;
/** Name of a frame type (`'publish'`, `'deliver'`, ...). */
export type FrameName = keyof Schemas;
type FieldsOf<F extends readonly (readonly [string, FieldKind])[]> = {
  -readonly [E in F[number] as E[0]]: FieldKinds[E[1]];
};
type FrameOfName<N extends FrameName> = { type: N; channel: number } & FieldsOf<Schemas[N]['fields']>;

/** A decoded frame: `type` names the frame; the other properties are its fields. */
export type Frame = { [N in FrameName]: FrameOfName<N> }[FrameName];
/** The frame with the given name. */
export type FrameOf<N extends FrameName> = Extract<Frame, { type: N }>;

/** Numeric wire code of each frame type. */
export const FrameCode = Object.fromEntries(Object.entries(FRAME_SCHEMAS).map(([name, s]) => [name, s.code])) as {
  [N in FrameName]: Schemas[N]['code'];
};
