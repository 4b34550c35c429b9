/**
 * Internals for the test suite (`@switchyard/client/internal`): unstable, not semver-covered.
 * Lets tests drive the core over a custom or wrapped transport and unit-test its parts.
 * Node-only (it re-exports the Node platform).
 */
export { openConnection } from './core/connect.js';
export { nodePlatform } from './node-platform.js';
export { createNodeTransport } from './transport/node.js';
export { resolveConnectOptions, type ResolvedConnectOptions } from './core/connect-options.js';
export type { Platform } from './core/platform.js';
export type { Transport, TransportFactory, TransportHandlers } from './transport/transport.js';
export type { ChannelHost, ChannelLink } from './core/channel-base.js';
export { ConfirmTracker } from './core/confirms.js';
export { ChannelOutgoing, type OutgoingIo, type PublishRecord } from './core/channel-outgoing.js';
export { Consumer, ConsumerSet, type ConsumerSpec } from './core/consumer.js';
export { Outbox } from './core/outbox.js';
export { Heartbeat } from './core/heartbeat.js';
export { Fifo } from './core/fifo.js';
export { Topology } from './core/topology.js';
export { backoffDelay, resolveReconnectOptions } from './core/backoff.js';
export { resolveLogger } from './core/logger.js';
export { deferred, type Deferred } from './core/deferred.js';
export { toContent, toJsonContent, toProperties } from './core/publish-options.js';
export { exchangeArguments, queueArguments } from './core/options.js';
export { MessageFactory } from './core/message.js';
