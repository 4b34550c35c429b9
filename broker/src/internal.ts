/** Internals for tests and tools; not a stable API. */
export * from './index.js';
export { LmdbStore } from './store/lmdb-store.js';
export { ReadyList } from './queues/ready-list.js';
export { Queue } from './queues/queue.js';
export { VirtualHost } from './vhost/virtual-host.js';
export { resolveOptions } from './config.js';
export { createProgram } from './cli/program.js';
export { streamMetrics } from './metrics/broker-metrics.js';
export { brokerInternals } from './public-broker.js';
export { BrokerRuntime } from './broker.js';
export { createMemoryPair, MemoryFrameConnection, MemoryPeer } from './server/memory-pair.js';
export { ServerChannel, type ConsumeRequest } from './server/channel.js';
export { Session } from './server/session.js';
export { topology } from './server/topology-handlers.js';
export type { ChannelOwner, ChannelSink, SessionSink, GetResult } from './server/session-sink.js';
export type { FrameConnection } from './server/frame-connection.js';
