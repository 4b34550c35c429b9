/**
 * The public API shared by index.node.ts and index.browser.ts: everything but `connect`,
 * which each entry wires to its own transport.
 */
export { Connection, ConnectionState, type ConnectionEvents } from './core/connection.js';
export { Channel, type Acknowledgeable } from './core/channel.js';
export { ChannelState, type ChannelEvents } from './core/channel-base.js';
export { CONNECT_DEFAULTS, SDK_VERSION, type ConnectOptions } from './core/connect-options.js';
export { Emitter, type EventMap, type Listener } from './core/emitter.js';
export { ChannelClosedError, ConnectionClosedError, TimeoutError } from './core/errors.js';
export type { OnMessage } from './core/consumer.js';
export type {
  ConsumeMessage, GetMessage, GetMessageFields, Message, MessageFields, ReturnFields, ReturnMessage,
} from './core/message.js';
export type {
  AssertExchangeOptions, AssertQueueOptions, ConsumeOptions, DeleteExchangeOptions, DeleteQueueOptions,
  ExchangeType, GetOptions, QueueInfo,
} from './core/options.js';
export type { PublishOptions } from './core/publish-options.js';
export { BrokerError, ErrorCode, ProtocolError, errorNameOf, type ErrorName } from './protocol/errors.js';
export { PROTOCOL_VERSION } from './protocol/limits.js';
export type { FieldTable, MessageProperties } from './protocol/properties.js';
