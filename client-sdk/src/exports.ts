/**
 * The public API shared by index.node.ts and index.browser.ts: everything but `connect`,
 * which each entry wires to its own transport.
 */
export { Connection, ConnectionState, type ConnectionEvents, type ReconnectingInfo } from './core/connection.js';
export { Channel, type Acknowledgeable, type DelayOptions } from './core/channel.js';
export { ChannelState, type ChannelEvents, type ChannelOptions } from './core/channel-base.js';
export { CONNECT_DEFAULTS, SDK_VERSION, type ConnectOptions } from './core/connect-options.js';
export { RECONNECT_DEFAULTS, type ReconnectOptions } from './core/backoff.js';
export type { Logger } from './core/logger.js';
export { Emitter, type EventMap, type Listener } from './core/emitter.js';
export { ChannelClosedError, ConnectionClosedError, PublishBufferFullError, TimeoutError } from './core/errors.js';
export type { OnMessage } from './core/consumer.js';
export type {
  AckOptions,
  ConsumeMessage,
  GetMessage,
  GetMessageFields,
  Message,
  MessageDecoder,
  MessageFields,
  NackOptions,
  ReceivedProperties,
  ReturnFields,
  ReturnMessage,
  SettleableMessage,
} from './core/message.js';
export type {
  AssertExchangeOptions,
  AssertQueueOptions,
  ConsumeOptions,
  DeleteExchangeOptions,
  DeleteQueueOptions,
  ExchangeType,
  GetOptions,
  QueueInfo,
} from './core/options.js';
export type { PublishCallback, PublishOptions } from './core/publish-options.js';
export { BrokerError, ErrorCode, ProtocolError, errorNameOf, type ErrorName } from './protocol/errors.js';
export { PROTOCOL_VERSION } from './protocol/limits.js';
export type { FieldTable, MessageProperties } from './protocol/properties.js';
