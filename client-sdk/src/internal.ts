/**
 * Internals for the test suite (`@switchyard/client/internal`): unstable, not semver-covered.
 * Lets tests drive the core over an in-memory transport and unit-test its parts.
 */
export { openConnection } from './core/connect.js';
export { resolveConnectOptions, type ResolvedConnectOptions } from './core/connect-options.js';
export type { Platform } from './core/platform.js';
export type { Transport, TransportFactory, TransportHandlers } from './transport/transport.js';
export type { ChannelHost, ChannelLink } from './core/channel-base.js';
export { ConfirmTracker } from './core/confirms.js';
export { ConsumerSet, type Consumer } from './core/consumer.js';
export { Outbox } from './core/outbox.js';
export { Heartbeat } from './core/heartbeat.js';
export { deferred, type Deferred } from './core/deferred.js';
export { toContent, toProperties } from './core/publish-options.js';
export { exchangeArguments, queueArguments } from './core/options.js';
export { consumeMessage, getMessage, returnMessage } from './core/message.js';
