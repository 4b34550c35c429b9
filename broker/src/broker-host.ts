import type { AccessControl } from './auth/access-control.js';
import type { LoginThrottle } from './auth/login-throttle.js';
import type { ResolvedOptions } from './config.js';
import type { LinkManager } from './links/link-manager.js';
import type { Logger } from './logging.js';
import type { BrokerHistograms } from './metrics/histogram.js';
import type { Session } from './server/session.js';
import type { ResourceAlarms } from './server/resource-alarms.js';
import type { BrokerStats } from './server/services.js';
import type { QueueStore } from './store/store.js';
import type { SchemaGate } from './schemas/exchange-gate.js';
import type { SchemaRegistry } from './schemas/registry.js';
import type { SchemaChange } from './schemas/changes.js';
import type { VirtualHost } from './vhost/virtual-host.js';

/**
 * What the management server, definitions import/export and metrics read and change in a
 * running broker. They depend on this interface, not on the Broker class, so broker.ts
 * can import them without an import cycle; the broker's runtime implements it. Internal.
 */
export interface BrokerHost {
  readonly options: ResolvedOptions;
  readonly logger: Logger;
  readonly version: string;
  readonly stats: BrokerStats;
  readonly histograms: BrokerHistograms;
  readonly store: QueueStore;
  /** When the broker started (epoch ms). */
  readonly startedAt: number;
  /** Users, vhosts and permissions. */
  readonly access: AccessControl;
  /** The schema registry (spec/schemas.md). */
  readonly schemas: SchemaRegistry;
  /** Makes a registry change; in cluster mode through the shared change log (resolves once applied here). */
  changeSchemas(change: SchemaChange): Promise<unknown>;
  /** Exchanges' schema validation (and its failure counts, for the metrics). */
  readonly schemaGate: SchemaGate;
  /** Memory and disk alarms. */
  readonly alarms: ResourceAlarms;
  /** Failed-login throttle shared with the client port; undefined when disabled. */
  readonly loginThrottle: LoginThrottle | undefined;
  /** The URL clients connect to. */
  readonly url: string;
  /** Management HTTP base URL, or undefined when disabled. */
  readonly managementUrl: string | undefined;
  /** Shovels and federation links; undefined before start-up finished or after close. */
  readonly links: LinkManager | undefined;
  vhost(name: string): VirtualHost | undefined;
  allVhosts(): IterableIterator<VirtualHost>;
  allConnections(): IterableIterator<Session>;
}
