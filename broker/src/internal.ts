/** Internals for tests and tools; not a stable API. */
export * from './index.js';
export { LmdbStore, STORE_FORMAT_VERSION } from './store/lmdb-store.js';
export { ReadyList } from './queues/ready-list.js';
export { ReadyQueue } from './queues/ready-queue.js';
export { Queue, WINDOW_MAX, EXPIRE_PER_TURN, RECOVER_CHUNK } from './queues/queue.js';
export { VirtualHost } from './vhost/virtual-host.js';
export { resolveOptions } from './config.js';
export { createProgram } from './cli/program.js';
export { streamMetrics } from './metrics/broker-metrics.js';
// What the test suites reach below the public API (they import it by package name, never
// by a relative path into broker/src).
export * from './routing/index.js';
export { ConsistentHashMatcher, parseHashWeight } from './routing/consistent-hash.js';
export type { Clock } from './queues/clock.js';
export type { QueueConsumer } from './queues/consumer.js';
export type { QueueEntry } from './queues/entry.js';
export { addDeath, isDeadLetterCycle, type DeathReason } from './queues/dead-letter.js';
export { DedupWindow } from './queues/dedup-window.js';
export { retryDelay } from './queues/retry-policy.js';
export { RateSampler, type QueueCounterSource } from './management/rates.js';
export { guardRefusal } from './management/guard.js';
export { LoginThrottle, throttledMessage } from './auth/login-throttle.js';
export { createToken, isTokenRevoked } from './auth/token.js';
export { clip, clipValue } from './log-clip.js';
export { ConfigError, loadServerConfig } from './config-file.js';
export { chooseLogFormat, renderBanner, showBanner } from './cli/banner.js';
export { HELP_DEFAULTS } from './cli/commands/server.js';
export { memoryTotal, type MemoryReadings, type MemoryTotal } from './server/memory-limit.js';
export { ResourceAlarms, type AlarmState, type ResourceProbe } from './server/resource-alarms.js';
export { MemoryStore, MemoryDisk } from './store/memory-store.js';
export { messageKey } from './store/keys.js';
export { CountBook } from './store/count-book.js';
export { encodeRecord } from './store/record-codec.js';
export type { AccessStore, QueueStore, Lease, StoredRef } from './store/store.js';
export { queueDedupScope } from './store/store.js';
export { ScopedStore } from './store/scoped-store.js';
export { isLoopbackAddress } from './auth/loopback.js';
export { AccessControl } from './auth/access-control.js';
export { FieldReader, boolProblem, describe, intProblem, stringListProblem } from './field-reader.js';
export { DefinitionsError, parseDefinitions } from './definitions.js';
export { brokerInternals } from './public-broker.js';
export { BrokerRuntime } from './broker.js';
export { createMemoryPair, MemoryFrameConnection, MemoryPeer } from './server/memory-pair.js';
export { ServerChannel, type ConsumeRequest } from './server/channel.js';
export { Session } from './server/session.js';
export { topology } from './server/topology-handlers.js';
export type { ChannelOwner, ChannelSink, SessionSink, GetResult } from './server/session-sink.js';
export type { FrameConnection } from './server/frame-connection.js';
export * as amqpCodec from './transports/amqp/codec.js';
export * as amqpFastCodec from './transports/amqp/fast-codec.js';
export * from './schemas/index.js';
export { queueAddress } from './cluster/keys.js';
export { clusterRefusal } from './queues/cluster-refusals.js';
export { keyToken, tokenName } from './cluster/keys.js';
export { ClusterLease, LeaseClock, type LeaseBucket } from './cluster/lease.js';
export { parseQueueArguments } from './queues/queue-arguments.js';
export { parseShovelValue, LinkParameterError } from './links/shovel-params.js';
export { parseLinkUri } from './links/link-uri.js';
export { backoffDelay } from './links/backoff.js';
export { needsOperator } from './links/link-status.js';
export { stableMessageId, forwardedProperties, DEDUP_HEADER } from './links/forwarding.js';
export {
  parseUpstreamSetValue,
  parseUpstreamValue,
  parsePolicy,
  policyFor,
  upstreamsOf,
} from './links/federation-params.js';
export { mayForward } from './links/federation-link.js';
export { dedupIdOf } from './queues/dedup-window.js';
export { InOrderAckWindow } from './links/ack-window.js';
