import type { BrokerError } from '@switchyard/client/protocol';
import type { Permissions } from '../auth/permissions.js';
import type { Logger } from '../logging.js';
import type { ResolvedOptions } from '../config.js';
import type { VirtualHost } from '../vhost/virtual-host.js';
import type { ConfirmScheduler } from './confirm-scheduler.js';
import type { DirectReplyTo } from './direct-reply-to.js';

/** A successful login. */
export interface Login {
  user: string;
  /** The user's permissions in the vhost; undefined when the login named none (AMQP's start-ok). */
  permissions: Permissions | undefined;
  /** The vhost a token is limited to, if any. */
  tokenVhost?: string;
  /** Logged in with a token: revoking the user's tokens closes the connection. */
  viaToken: boolean;
}

/** Broker-wide message counters (management API and metrics read them). */
export interface BrokerStats {
  published: number;
  unroutable: number;
  /** Publishes dropped by an exchange's deduplication window (confirmed, not routed). */
  duplicates: number;
  acked: number;
  connectionsOpened: number;
  connectionsClosed: number;
  /** Dead-letter copies not made because a resource alarm was raised (spec/semantics.md §Dead-lettering). */
  deadLetterDroppedUnderAlarm: number;
}

/** A client connection as the broker's bookkeeping sees it (any wire protocol). */
export interface ConnectionInfo {
  readonly id: string;
  readonly user: string;
  /** The vhost, once the connection is open. */
  readonly vhostName: string | undefined;
  readonly remoteAddress: string;
  /** The wire protocol: our WebSocket frames, or AMQP 0-9-1. */
  readonly protocol: 'ws' | 'amqp';
}

/** What a connection needs from the broker, passed in rather than imported. */
export interface BrokerServices {
  readonly options: ResolvedOptions;
  /** Broker version, reported in helloOk. */
  readonly version: string;
  /** This broker's name: the `cluster_name` server property (federation's loop check). */
  readonly clusterName: string;
  readonly logger: Logger;
  readonly stats: BrokerStats;
  readonly confirms: ConfirmScheduler;
  /** Reply consumers on `amq.rabbitmq.reply-to`, by generated reply name. */
  readonly directReplyTo: DirectReplyTo;
  /** The vhost with this name, or undefined. */
  vhost(name: string): VirtualHost | undefined;
  /**
   * Checks credentials (or a token) and the user's access to the vhost; resolves to the user
   * and their permissions there, or rejects with BrokerError 403 / 530. With `vhost`
   * undefined only the credentials are checked (AMQP 0-9-1 names the vhost after the login).
   */
  authenticate(username: string, password: string, remoteAddress: string, vhost: string | undefined): Promise<Login>;
  /** A user's current permissions in a vhost, if any. */
  permissionsOf(user: string, vhost: string): Permissions | undefined;
  /** True when the user carries the tag now (e.g. `impersonator`, which may set any `userId`). */
  userHasTag(user: string, tag: string): boolean;
  /** Changes whenever users or permissions change (invalidates cached permission checks). */
  accessGeneration(): number;
  /** Why publishers are blocked (a resource alarm), or undefined when they are not. */
  alarmReason(): string | undefined;
  /** Checked before a login completes: an error refuses it (connection limit). */
  admitConnection(conn: ConnectionInfo): BrokerError | undefined;
  connectionOpened(conn: ConnectionInfo): void;
  connectionClosed(conn: ConnectionInfo): void;
}
