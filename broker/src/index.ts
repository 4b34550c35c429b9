/** @switchyard/broker: the broker, for embedding and for the `switchyard` CLI. */
export { Broker } from './broker.js';
export type { BrokerOptions } from './config.js';
export { DEFAULTS } from './config.js';
export { createLogger, type Logger, type LoggerOptions, type LogLevel } from './logging.js';
export type { QueueStore, MessageRecord, Definitions } from './store/store.js';
export { VERSION } from './version.js';
