/** @switchyard/broker: the broker, for embedding and for the `switchyard` CLI. */
export { Broker, type BrokerEvents, type BrokerConnectionEvent, type BrokerAlarmEvent } from './public-broker.js';
export type { BrokerOptions, BrokerStore } from './config.js';
export { DEFAULTS } from './config.js';
export { createLogger, type Logger, type LoggerOptions, type LogLevel } from './logging.js';
export type {
  QueueStore,
  AccessStore,
  AccessData,
  MessageRecord,
  MessageMeta,
  RecoveredEntry,
  Definitions,
  ExchangeDefinition,
  QueueDefinition,
  BindingDefinition,
  UserRecord,
  VhostRecord,
  PermissionRecord,
  Lease,
  StoredRef,
  QueueStoreStats,
  DelayedMessageStore,
  RecoveredDelayed,
} from './store/store.js';
export { VERSION } from './version.js';
