import { mkdirSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { BrokerError, ErrorCode } from '@switchyard/client/protocol';
import { resolveOptions, type BrokerOptions, type ResolvedOptions } from './config.js';
import { importDefinitionsFile } from './definitions.js';
import { LinkManager } from './links/link-manager.js';
import { createLogger, errorFields, type Logger } from './logging.js';
import { createBrokerHistograms, type BrokerHistograms } from './metrics/histogram.js';
import { ManagementServer } from './management/http-server.js';
import { systemClock } from './queues/clock.js';
import { ConfirmScheduler } from './server/confirm-scheduler.js';
import { enforceRevocation } from './server/access-enforcement.js';
import { ClientConnection } from './transports/ws/connection.js';
import type { Session } from './server/session.js';
import { DirectReplyTo } from './server/direct-reply-to.js';
import type { FrameConnection } from './server/frame-connection.js';
import { WsListener } from './transports/ws/ws-listener.js';
import { AmqpListener } from './transports/amqp/amqp-listener.js';
import { AmqpConnection } from './transports/amqp/connection.js';
import type { Socket } from 'node:net';
import { ResourceAlarms, type AlarmState } from './server/resource-alarms.js';
import type { BrokerServices, BrokerStats, ConnectionInfo, Login } from './server/services.js';
import { ENV_FILE, LmdbStore } from './store/lmdb-store.js';
import { DataDirLock, DataDirLockedError } from './store/data-dir-lock.js';
import { StoreDamagedError } from './store/store-check.js';
import type { PreOpenCheck } from './store/pre-open-check.js';
import type { QueueStore, AccessStore } from './store/store.js';
import { VERSION } from './version.js';
import type { JetStreamStore } from './cluster/jetstream-store.js';
import type { NodeLocalQueues } from './vhost/node-local.js';
import { describeNode } from './management/cluster-view.js';
import type { SchemaLog } from './cluster/schema-log.js';
import type { ClusterLinks } from './cluster/cluster-links.js';
import { applySchemaChange, type SchemaChange } from './schemas/changes.js';
import { applyRemoteChange } from './cluster/remote-definitions.js';
import { VirtualHost } from './vhost/virtual-host.js';
import { AccessControl, type Authenticated } from './auth/access-control.js';
import { LoginThrottle, throttledMessage } from './auth/login-throttle.js';
import type { Permissions } from './auth/permissions.js';
import { ScopedStore } from './store/scoped-store.js';
import type { BrokerHost } from './broker-host.js';
import { eventLoopDelay } from './metrics/event-loop-delay.js';
import { schemaRecordsOf } from './schemas/record-store.js';
import { SchemaGate } from './schemas/exchange-gate.js';
import { SchemaRegistry } from './schemas/registry.js';

/** What a running broker reports to its embedder (public-broker.ts turns these into events). */
export interface RuntimeHooks {
  connectionOpened?(conn: ConnectionInfo): void;
  connectionClosed?(conn: ConnectionInfo): void;
  alarm?(state: AlarmState): void;
  /** The background store check found damage; the broker has logged it and closed. */
  storeDamaged?(error: Error): void;
  /** The check after an unclean stop, started before the broker's modules loaded (store/pre-open-check.ts). */
  preOpenCheck?: PreOpenCheck;
}

/**
 * The running broker behind the public `Broker` (public-broker.ts): the WebSocket listener
 * for clients, the management HTTP listener, the vhosts with their exchanges and queues, and
 * the store behind them. It is the service locator sessions, management and definitions
 * reach through the BrokerServices and BrokerHost interfaces. Internal: embedders use
 * `Broker`; tests reach this through `brokerInternals` (@switchyard/broker/internal).
 */
export class BrokerRuntime implements BrokerServices, BrokerHost {
  readonly options: ResolvedOptions;
  readonly logger: Logger;
  readonly version = VERSION;
  readonly stats: BrokerStats = {
    published: 0,
    unroutable: 0,
    duplicates: 0,
    acked: 0,
    connectionsOpened: 0,
    connectionsClosed: 0,
    deadLetterDroppedUnderAlarm: 0,
  };
  readonly confirms: ConfirmScheduler;
  readonly directReplyTo = new DirectReplyTo();
  readonly histograms: BrokerHistograms = createBrokerHistograms();
  readonly store: QueueStore;
  readonly startedAt = Date.now();
  private readonly vhosts = new Map<string, VirtualHost>();
  private readonly connections = new Set<Session>();
  private listener: WsListener | undefined;
  private amqpListener: AmqpListener | undefined;
  private amqpsListener: AmqpListener | undefined;
  private management: ManagementServer | undefined;
  /** Shovels and federation links (spec/links.md). */
  links: LinkManager | undefined;
  /** In a cluster: the nodes' shared link parameters and leases (spec/cluster.md §Links). */
  private clusterLinks: ClusterLinks | undefined;
  private closing: Promise<void> | undefined;
  private timeoutTimer: NodeJS.Timeout | undefined;
  /** The data directory's pid file lock, when this broker opened the LMDB store itself. */
  private dirLock: DataDirLock | undefined;
  /** Logged-in connections: what maxConnections bounds. */
  private openCount = 0;
  /** Memory and disk alarms; while raised, publishing connections are blocked. */
  readonly alarms: ResourceAlarms;

  /** Users, vhosts and permissions. */
  readonly access: AccessControl;
  /** The schema registry (spec/schemas.md), and the gate exchanges validate with. */
  readonly schemas: SchemaRegistry;
  readonly schemaGate: SchemaGate;
  /** Where registry changes are made in cluster mode: the cluster's ordered change log. */
  private schemaWriter: SchemaLog | undefined;

  private constructor(
    options: ResolvedOptions,
    private readonly hooks: RuntimeHooks,
  ) {
    this.options = options;
    this.logger = options.logger ?? createLogger({ level: options.logLevel, format: options.logFormat });
    if (options.store !== undefined) this.store = options.store;
    else {
      const opened = openStore(
        options,
        (err) => this.alarms.commitFailed(err),
        (err) => this.onStoreDamaged(err),
        hooks.preOpenCheck?.dataDir === options.dataDir,
      );
      this.store = opened.store;
      this.dirLock = opened.lock;
    }
    this.confirms = new ConfirmScheduler(this.store, this.histograms, () =>
      this.alarms.noteWrite(this.store.takePendingBytes?.() ?? 0),
    );
    this.alarms = new ResourceAlarms(
      options.memoryHighWatermark,
      options.diskFreeLimitBytes,
      options.dataDir,
      (state) => this.onAlarm(state),
      this.logger,
      undefined,
      () => this.store.unflushedBytes?.() ?? 0,
    );
    // The option's type says so; checked again for JavaScript callers.
    if (!isAccessStore(this.store))
      throw new TypeError('Invalid option "store": it must also keep users, vhosts and permissions (AccessStore)');
    const accessStore = this.store;
    this.schemas = new SchemaRegistry(schemaRecordsOf(this.store, this.logger));
    this.schemaGate = new SchemaGate(this.schemas);
    this.access = new AccessControl(
      accessStore,
      {
        vhostAdded: (name) => this.openVhost(name),
        vhostDeleted: (name) => this.dropVhost(name),
        accessRevoked: (change) => enforceRevocation(this.connections, change),
      },
      options.tokenSecret,
      options.guestAnywhere,
    );
    this.loginThrottle = options.loginThrottle === false ? undefined : new LoginThrottle(options.loginThrottle);
  }

  /** Loads users and vhosts, then each vhost's topology and stored messages. */
  private async recover(): Promise<void> {
    await this.access.load();
    for (const name of this.access.listVhosts()) this.openVhost(name);
  }

  private openVhost(name: string): VirtualHost {
    const vhost = new VirtualHost(
      name,
      new ScopedStore(this.store, name),
      this.options.clock ?? systemClock,
      (err, context) =>
        this.logger.error('unexpected error in a timer; the broker carries on', {
          vhost: name,
          ...context,
          ...errorFields(err),
        }),
      {
        alarmRaised: () => this.alarms.raised,
        dropped: (queue, reason) => {
          if (this.stats.deadLetterDroppedUnderAlarm++ % 10_000 === 0)
            this.logger.warn('resource alarm: dead-letter copies are dropped until it clears', {
              vhost: name,
              queue,
              reason,
              droppedSoFar: this.stats.deadLetterDroppedUnderAlarm,
            });
        },
      },
    );
    vhost.schemaGate = this.schemaGate; // before recover(): no publish reaches the vhost without it
    // A cluster store forwards to other nodes' node-local queues (spec/cluster.md §Node-local queues).
    vhost.nodeLocal = (this.store as { nodeLocal?: NodeLocalQueues }).nodeLocal;
    vhost.recover();
    this.vhosts.set(name, vhost);
    return vhost;
  }

  /**
   * The background check after an unclean stop found the stored messages damaged: say so in
   * one line and stop, as a damaged store found before the start would (spec/security.md §Faults).
   */
  private onStoreDamaged(err: StoreDamagedError): void {
    this.logger.error(err.message, { component: 'store' });
    void this.close()
      .catch(() => undefined)
      .finally(() => this.hooks.storeDamaged?.(err));
  }

  /** A vhost was deleted: its connections are closed, its queues, exchanges and messages removed. */
  private dropVhost(name: string): void {
    const vhost = this.vhosts.get(name);
    if (vhost === undefined) return;
    for (const conn of this.connections) {
      if (conn.vhostName === name)
        conn.close(ErrorCode.CONNECTION_FORCED, `CONNECTION_FORCED - vhost '${name}' is deleted`);
    }
    vhost.destroy();
    this.vhosts.delete(name);
  }

  /**
   * Validates options, opens the store (recovering durable queues and messages) and starts
   * listening. Rejects with a clear error for bad options, an unusable data directory or a
   * port in use.
   */
  static async start(options: BrokerOptions = {}, hooks: RuntimeHooks = {}): Promise<BrokerRuntime> {
    const resolved = resolveOptions(options);
    let cluster: JetStreamStore | undefined;
    let clusterLinks: ClusterLinks | undefined;
    if (resolved.cluster !== undefined && resolved.store === undefined) {
      // A cluster node keeps its state in JetStream (spec/cluster.md); opened before anything reads it.
      resolved.logger ??= createLogger({ level: resolved.logLevel, format: resolved.logFormat });
      // Imported here: the NATS client is loaded only by a cluster node, not at every start-up.
      const { JetStreamStore: ClusterStore } = await import('./cluster/jetstream-store.js');
      cluster = await ClusterStore.open(resolved.cluster, resolved.logger);
      resolved.store = cluster;
      const { openClusterLinks } = await import('./cluster/cluster-links.js');
      clusterLinks = await openClusterLinks(cluster, resolved.cluster, resolved.logger);
      mkdirSync(resolved.dataDir, { recursive: true }); // the disk alarm watches it
    }
    const early = hooks.preOpenCheck;
    if (early !== undefined && early.dataDir === resolved.dataDir && resolved.store === undefined) {
      const damage = await early.result;
      if (damage !== undefined) throw damage;
    }
    const broker = new BrokerRuntime(resolved, hooks);
    broker.clusterLinks = clusterLinks;
    eventLoopDelay(); // sample the event loop from start-up on (spec/management.md §Metrics)
    try {
      try {
        await broker.recover();
        cluster?.onRemoteChange((change) => applyRemoteChange((n) => broker.vhost(n), change, broker.logger));
        cluster?.onRemoteAccessChange((change) => broker.access.applyRemote(change));
        cluster?.nodeLocal.serve((n) => broker.vhost(n));
        if (cluster !== undefined) {
          cluster.schemaLog.follow(broker.schemas);
          broker.schemaWriter = cluster.schemaLog;
        }
      } catch (err) {
        // Our own LMDB store could not be read back (a damaged value): say so, in one line.
        if (broker.dirLock === undefined || err instanceof BrokerError || err instanceof StoreDamagedError) throw err;
        throw new StoreDamagedError(
          join(broker.options.dataDir, ENV_FILE),
          `cannot read it back: ${(err as Error).message}`,
        );
      }
      await broker.listen();
      // Listed by every node's management from now on (spec/cluster.md §Management).
      cluster?.directory.serve(() => describeNode(broker));
    } catch (err) {
      await broker.close();
      throw err;
    }
    return broker;
  }

  private async listen(): Promise<void> {
    const o = this.options;
    const shared = this.clusterLinks;
    this.links =
      shared === undefined
        ? new LinkManager(o.dataDir, this.logger, undefined, this)
        : new LinkManager(shared.parameters, this.logger, undefined, this, shared.gate);
    this.links.load();
    if (o.definitions !== undefined) {
      const result = await importDefinitionsFile(this, o.definitions);
      this.logger.info('definitions imported', { component: 'broker', file: o.definitions, ...result });
    }
    this.listener = await WsListener.listen(o, this.logger, (transport) => this.attach(transport));
    const attachAmqp = (socket: Socket, authenticated: () => void): void => this.attachAmqp(socket, authenticated);
    if (o.amqpPort !== false)
      this.amqpListener = await AmqpListener.listen(o, o.amqpPort, false, this.logger, attachAmqp);
    if (o.amqpsPort !== undefined)
      this.amqpsListener = await AmqpListener.listen(o, o.amqpsPort, true, this.logger, attachAmqp);
    this.timeoutTimer = setInterval(() => {
      const now = Date.now();
      for (const conn of this.connections) {
        try {
          conn.checkConsumerTimeouts(now, o.consumerTimeoutMs);
        } catch (err) {
          this.logger.error('unexpected error checking consumer timeouts; the broker carries on', {
            component: 'broker',
            conn: conn.id,
            ...errorFields(err),
          });
        }
      }
    }, o.consumerTimeoutCheckMs);
    this.timeoutTimer.unref();
    this.alarms.start(o.alarmCheckMs);
    if (o.managementPort !== false) {
      this.management = new ManagementServer(this);
      await this.management.listen(o.managementPort, o.host);
    }
    this.links.start();
    this.logger.info('listening', {
      component: 'broker',
      url: this.url,
      amqp: this.amqpUrl,
      amqps: this.amqpsUrl,
      management: this.managementUrl,
      dataDir: o.dataDir,
      version: VERSION,
    });
    this.logger.info('memory alarm limit', {
      component: 'alarms',
      limitBytes: this.alarms.memoryLimitBytes,
      ofBytes: this.alarms.memoryTotal.bytes,
      source: this.alarms.memoryTotal.source,
    });
  }

  /**
   * Runs a session of our frame protocol on a connection from any transport (the WebSocket
   * listener, or an in-memory pair in tests).
   */
  attach(transport: FrameConnection): void {
    // Shutting down: nobody new gets in (the close below would not reach them).
    if (this.closing !== undefined) {
      transport.terminate();
      return;
    }
    const conn = new ClientConnection(transport, this);
    this.connections.add(conn);
    transport.onClose(() => this.connections.delete(conn));
  }

  /** Runs an AMQP 0-9-1 session on a socket from the AMQP listener (spec/amqp.md). */
  private attachAmqp(socket: Socket, authenticated: () => void): void {
    if (this.closing !== undefined) {
      socket.destroy();
      return;
    }
    const conn = new AmqpConnection(socket, this, authenticated);
    this.connections.add(conn);
    socket.once('close', () => this.connections.delete(conn));
  }

  /** `amqp://127.0.0.1:PORT`, or undefined when the AMQP listener is off. */
  get amqpUrl(): string | undefined {
    return this.amqpListener === undefined
      ? undefined
      : `amqp://${hostForUrl(this.options.host)}:${this.amqpListener.port}`;
  }

  /** `amqps://127.0.0.1:PORT`, or undefined unless `amqpsPort` is set. */
  get amqpsUrl(): string | undefined {
    return this.amqpsListener === undefined
      ? undefined
      : `amqps://${hostForUrl(this.options.host)}:${this.amqpsListener.port}`;
  }

  /** Client WebSocket port actually bound (useful with `port: 0`). */
  get port(): number {
    return this.listener?.port ?? 0;
  }

  /**
   * This broker's name in federation (the `cluster_name` server property): the `clusterName`
   * option, else `{hostname}-{hash of the data directory}`: unique per broker on a host and
   * the same after a restart (the upstream queue's name and the loop check depend on it).
   */
  get clusterName(): string {
    this.defaultName ??= `${hostname()}-${createHash('sha256').update(resolve(this.options.dataDir)).digest('hex').slice(0, 8)}`;
    return this.options.clusterName ?? this.defaultName;
  }
  private defaultName: string | undefined;

  /** The URL clients connect to, e.g. `ws://127.0.0.1:5680`. */
  get url(): string {
    return `${this.options.tls === undefined ? 'ws' : 'wss'}://${hostForUrl(this.options.host)}:${this.port}`;
  }

  /** Management HTTP base URL, or undefined when disabled. */
  get managementUrl(): string | undefined {
    const port = this.management?.port;
    return port === undefined
      ? undefined
      : `${this.options.tls === undefined ? 'http' : 'https'}://${hostForUrl(this.options.host)}:${port}`;
  }

  /** The management server (HTTP API, metrics, dashboard), or undefined when disabled. */
  get managementServer(): ManagementServer | undefined {
    return this.management;
  }

  /**
   * Makes a registry change (registration, delete, level): on this node's registry, or in
   * cluster mode through the cluster's change log, resolving once this node applied it.
   */
  changeSchemas(change: SchemaChange): Promise<unknown> {
    if (this.schemaWriter !== undefined) return this.schemaWriter.apply(change);
    try {
      return Promise.resolve(applySchemaChange(this.schemas, change));
    } catch (err) {
      return Promise.reject(err);
    }
  }

  vhost(name: string): VirtualHost | undefined {
    return this.vhosts.get(name);
  }

  allVhosts(): IterableIterator<VirtualHost> {
    return this.vhosts.values();
  }

  allConnections(): IterableIterator<Session> {
    return this.connections.values();
  }

  /**
   * Failed-login throttle per peer, shared by the client port and the management API;
   * undefined when `loginThrottle: false`.
   */
  readonly loginThrottle: LoginThrottle | undefined;

  async authenticate(
    username: string,
    password: string,
    remoteAddress: string,
    vhost: string | undefined,
  ): Promise<Login> {
    const throttle = this.loginThrottle;
    const wait = throttle?.retryAfterMs(remoteAddress) ?? 0;
    if (wait > 0) throw new BrokerError(ErrorCode.ACCESS_REFUSED, throttledMessage(remoteAddress, wait));
    let login: Authenticated;
    try {
      login = await this.access.authenticate(username, password, remoteAddress, vhost);
    } catch (err) {
      if (err instanceof BrokerError && err.code === ErrorCode.ACCESS_REFUSED) throttle?.failed(remoteAddress);
      throw err;
    }
    throttle?.succeeded(remoteAddress);
    return {
      user: login.user,
      viaToken: login.viaToken,
      ...(login.tokenVhost !== undefined ? { tokenVhost: login.tokenVhost } : {}),
      permissions: vhost === undefined ? undefined : this.access.requireVhostAccess(login.user, vhost),
    };
  }

  permissionsOf(user: string, vhost: string): Permissions | undefined {
    return this.access.permissionsOf(user, vhost);
  }

  userHasTag(user: string, tag: string): boolean {
    return this.access.hasTag(user, tag);
  }

  accessGeneration(): number {
    return this.access.generation;
  }

  alarmReason(): string | undefined {
    const s = this.alarms.state;
    if (!s.memory && !s.disk) return undefined;
    return [s.memory ? 'memory' : '', s.disk ? 'disk' : ''].filter(Boolean).join(' and ') + ' alarm';
  }

  private onAlarm(state: AlarmState): void {
    this.hooks.alarm?.({ ...state });
    const reason = this.alarmReason();
    for (const conn of this.connections) {
      if (reason === undefined) conn.unblock();
      else if (conn.hasPublished) conn.block(reason);
    }
  }

  admitConnection(_conn: ConnectionInfo): BrokerError | undefined {
    // Only logged-in connections count: sockets that never say hello are bounded apart
    // (maxPendingConnections) and cannot lock real clients out.
    if (this.openCount >= this.options.maxConnections) {
      return new BrokerError(
        ErrorCode.NOT_ALLOWED,
        `connection limit reached: the broker allows ${this.options.maxConnections} connections (maxConnections)`,
      );
    }
    return undefined;
  }

  connectionOpened(conn: ConnectionInfo): void {
    this.stats.connectionsOpened++;
    this.openCount++;
    this.hooks.connectionOpened?.(conn);
  }

  connectionClosed(conn: ConnectionInfo): void {
    this.stats.connectionsClosed++;
    this.openCount--;
    this.hooks.connectionClosed?.(conn);
  }

  /**
   * Graceful shutdown: stop accepting, close every client connection (320 CONNECTION_FORCED),
   * wait for the last write transaction to be durable, close LMDB. Idempotent.
   */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    this.logger.info('shutting down', { component: 'broker', connections: this.connections.size });
    clearInterval(this.timeoutTimer);
    this.alarms.stop();
    await this.links?.close();
    this.clusterLinks?.close();
    // Stop accepting first: connections opened during the wait below would never be closed.
    this.listener?.stopAccepting();
    this.amqpListener?.stopAccepting();
    this.amqpsListener?.stopAccepting();
    for (const conn of this.connections) conn.close(ErrorCode.CONNECTION_FORCED, 'CONNECTION_FORCED - broker shutdown');
    // Give clients a moment to answer the close so they see why; then drop whoever is left.
    const deadline = Date.now() + 1_000;
    while (this.connections.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    await this.listener?.close();
    await this.amqpListener?.close();
    await this.amqpsListener?.close();
    await this.management?.close();
    for (const vhost of this.vhosts.values()) vhost.stop();
    await this.store.close();
    this.dirLock?.release();
    this.logger.info('stopped', { component: 'broker' });
  }
}

function isAccessStore(store: QueueStore): store is QueueStore & AccessStore {
  return typeof (store as Partial<AccessStore>).loadAccess === 'function';
}

/**
 * Locks the data directory (one broker per directory), checks the store file and opens it.
 * The lock is released again when the store cannot be opened.
 */
function openStore(
  o: ResolvedOptions,
  onCommitError: (err: Error) => void,
  onDamagedInBackground: (err: StoreDamagedError) => void,
  checkedBeforeOpen: boolean,
): { store: QueueStore; lock: DataDirLock } {
  let lock: DataDirLock | undefined;
  try {
    mkdirSync(o.dataDir, { recursive: true });
    lock = DataDirLock.acquire(o.dataDir);
    // The full read-through check runs only after an unclean stop: a graceful stop leaves
    // nothing half-written, and reading every message would make restart cost grow with
    // depth (spec/security.md §Faults).
    return {
      store: LmdbStore.open({
        path: o.dataDir,
        noSync: o.noSync,
        onCommitError,
        verify: o.verifyStore && lock.unclean,
        onDamagedInBackground,
        checkedBeforeOpen,
      }),
      lock,
    };
  } catch (err) {
    lock?.release();
    // Already one line that names the file or directory and says what to do.
    if (err instanceof DataDirLockedError || err instanceof StoreDamagedError) throw err;
    throw new Error(`cannot open data directory '${o.dataDir}': ${(err as Error).message}`, { cause: err });
  }
}

function hostForUrl(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}
