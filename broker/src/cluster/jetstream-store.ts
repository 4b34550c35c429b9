import { randomBytes } from 'node:crypto';
import { connect } from '@nats-io/transport-node';
import type { NatsConnection } from '@nats-io/transport-node';
import {
  AckPolicy,
  DeliverPolicy,
  jetstream,
  jetstreamManager,
  RetentionPolicy,
  StorageType,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
} from '@nats-io/jetstream';
import { Kvm, type KV, type KvEntry } from '@nats-io/kv';
import type { Logger } from '../logging.js';
import { decodeMeta, decodeRecord, encodeRecord, recordBodySize } from '../store/record-codec.js';
import type {
  AccessChange,
  AccessData,
  AccessStore,
  BindingDefinition,
  Definitions,
  DelayedMessageStore,
  ExchangeDefinition,
  Lease,
  MessageMeta,
  MessageRecord,
  PermissionRecord,
  PullSink,
  PulledQueues,
  QueueDefinition,
  QueuePosition,
  QueueStore,
  QueueStoreStats,
  RecoveredEntry,
  StoredRef,
  UserRecord,
  VhostRecord,
} from '../store/store.js';
import { createKey, type CreateOutcome } from './kv-create.js';
import { digest, keyToken, queueAddress, streamName, type QueueAddress } from './keys.js';
import { MemoryDelayed } from './memory-delayed.js';
import { DefinitionsWatch } from './definitions-watch.js';
import { NodeDirectory } from './node-directory.js';
import { NodeLocalForwarding, type DefinitionsRegistry } from './node-local.js';
import { SchemaLog } from './schema-log.js';

/** `cluster` option: the JetStream servers and this node's name. spec/cluster.md. */
export interface ClusterOptions {
  /** NATS URLs of the JetStream cluster (`nats://host:4222`), at least one. */
  servers: string[];
  /** This node's name (shown in management); default `<hostname>-<pid>`. */
  nodeName?: string;
  /** Shard streams `SY_Q_0..` (fixed when the cluster is first used). Default 8. */
  shards?: number;
  /** JetStream ack-wait of the queue consumers, ms. Default 30 s. */
  ackWaitMs?: number;
  /** Stream replicas; 3 unless a test says otherwise. */
  replicas?: number;
  /** How long a dead node's links take to move to another node, ms (spec/cluster.md §Leases). Default 15 s. */
  leaseTtlMs?: number;
}

/** A definitions change made by another node (applied to the local vhosts by remote-definitions.ts). */
export type DefinitionChange =
  | { kind: 'queue' | 'exchange'; op: 'put'; def: (QueueDefinition | ExchangeDefinition) & { vhost?: string } }
  | { kind: 'queue' | 'exchange'; op: 'delete'; vhost: string; name: string }
  | { kind: 'binding'; op: 'put'; key: string; def: BindingDefinition & { vhost?: string } }
  | { kind: 'binding'; op: 'delete'; key: string; def: BindingDefinition & { vhost?: string } };

const BUCKET = 'sy_defs';
/** How long one pull waits on the server before asking again (ms). */
const PULL_EXPIRES_MS = 2_000;
/** A publish without a PubAck is retried with its msgID for this long: 2 × the 9 s max election timeout. */
const PUBLISH_RETRY_MS = 20_000;
/**
 * Creating the streams and buckets at start is retried this long: a cluster that has just
 * elected its meta leader (or a loaded machine) can time the first creates out.
 */
export const SETUP_RETRY_MS = 60_000;

/** Runs `op` again every 250 ms while it fails, until `ms` have passed or `stop()` says so. */
export async function retry<T>(op: () => Promise<T>, ms: number, stop: () => boolean = () => false): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      return await op();
    } catch (err) {
      if (stop() || Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}

interface QueueSlot {
  addr: QueueAddress;
  sink: PullSink | undefined;
  /** Messages pulled and not yet settled, by stream sequence (also the queue's seq). */
  held: Map<number, JsMsg>;
  pulling: boolean;
  wake: (() => void) | undefined;
  consumerReady: boolean;
}

/**
 * The cluster store: durable queues in sharded R3 WorkQueue streams, definitions and access
 * data in the R3 KV bucket `sy_defs`, mirrored locally so every read stays synchronous.
 * Messages reach queues by pull (`attach`): `enqueue` only publishes, so a message is handed
 * to exactly one node's consumer. spec/cluster.md.
 */
export class JetStreamStore implements QueueStore, AccessStore {
  /** Queue definition writes in flight, by KV key: what `queueStored` waits for. */
  private readonly queueWrites = new Map<string, Promise<string | undefined>>();
  /** Local mirror of `sy_defs`: key -> JSON value. */
  private readonly mirror = new Map<string, string>();
  /** The last revision of each key the mirror has seen from the bucket (a replayed older one is skipped). */
  private readonly revisions = new Map<string, number>();
  private watch: DefinitionsWatch | undefined;
  private readonly queues = new Map<number, QueueSlot>();
  /** Local ids of the queues known by KV key, so a redeclare keeps its id. */
  private readonly idsByKey = new Map<string, number>();
  private nextQueueId = 1;
  private pending: Promise<unknown>[] = [];
  private readonly incarnation = randomBytes(6).toString('base64url');
  private readonly delayedByVhost = new Map<string, MemoryDelayed>();
  private readonly dedup = new Map<string, Map<string, number>>();
  private heartbeat: NodeJS.Timeout | undefined;
  private closed = false;
  private listener: ((change: DefinitionChange) => void) | undefined;
  private accessListener: ((change: AccessChange) => void) | undefined;
  readonly nodeName: string;
  /** Messages arrive by pull (store.ts `PulledQueues`). */
  readonly pull: PulledQueues = this;
  /** Which node holds each node-local queue, and forwarding to other nodes' (node-local.ts). */
  readonly nodeLocal: NodeLocalForwarding;
  /** The cluster's Switchyard nodes, for management (node-directory.ts). */
  readonly directory: NodeDirectory;
  /** Messages per queue subject in the shard streams, and when they were read (streamMessages). */
  private subjectCounts = new Map<string, number>();
  private countsReadAt = 0;
  private countsReading: Promise<void> | undefined;
  readonly serverVersion: string;

  private constructor(
    readonly nc: NatsConnection,
    private readonly jsm: JetStreamManager,
    private readonly js: JetStreamClient,
    private readonly kv: KV,
    private readonly opts: Required<ClusterOptions>,
    private readonly logger: Logger,
    /** The schema registry's change log, shared by the cluster's nodes (spec/schemas.md §Storage). */
    readonly schemaLog: SchemaLog,
  ) {
    this.nodeName = opts.nodeName;
    this.serverVersion = nc.info?.version ?? 'unknown';
    const registry: DefinitionsRegistry = {
      get: (key) => this.mirror.get(key),
      keys: () => this.mirror.keys(),
      write: (key, value) => void this.write(key, value),
      remove: (key) => this.remove(key),
      track: (p) => this.track(p),
    };
    this.nodeLocal = new NodeLocalForwarding(nc, opts.nodeName, registry, logger);
    this.directory = new NodeDirectory(nc, opts.nodeName, registry, logger);
  }

  /**
   * Connects, checks the servers, creates the shard streams and the KV bucket if missing and
   * loads the definitions mirror. Rejects with advice when the cluster is unusable.
   */
  static async open(options: ClusterOptions, logger: Logger): Promise<JetStreamStore> {
    const opts: Required<ClusterOptions> = {
      servers: options.servers,
      nodeName: options.nodeName ?? `node-${process.pid}`,
      shards: options.shards ?? 8,
      ackWaitMs: options.ackWaitMs ?? 30_000,
      replicas: options.replicas ?? 3,
      leaseTtlMs: options.leaseTtlMs ?? 15_000,
    };
    let nc: NatsConnection;
    try {
      nc = await connect({
        servers: opts.servers,
        name: `switchyard ${opts.nodeName}`,
        maxReconnectAttempts: -1,
        reconnectTimeWait: 250,
      });
    } catch (err) {
      throw new Error(
        `cannot reach the JetStream cluster at ${opts.servers.join(',')}: ${(err as Error).message}; start it (npm run cluster) or fix --cluster`,
        { cause: err },
      );
    }
    try {
      // Generous API timeouts: a loaded machine or a fresh election can take seconds to answer.
      const jsm = await jetstreamManager(nc, { timeout: 15_000 });
      const js = jetstream(nc, { timeout: 5_000 });
      const version = nc.info?.version ?? 'unknown';
      logger.info('connected to JetStream', { component: 'cluster', node: opts.nodeName, version });
      const [major = 0, minor = 0] = version.split('.').map(Number);
      if (major < 2 || (major === 2 && minor < 10))
        logger.warn(
          'JetStream older than 2.10: no sync_interval, a confirm means a quorum holds the message in memory, not fsynced; production should run 2.12+ with sync_interval: always',
          { component: 'cluster', version },
        );
      for (let shard = 0; shard < opts.shards; shard++) {
        const name = streamName(shard);
        const config = {
          name,
          subjects: [`syq.${shard}.>`],
          retention: RetentionPolicy.Workqueue,
          storage: StorageType.File,
          num_replicas: opts.replicas,
          duplicate_window: 120_000_000_000, // 2 min (ns): covers every publish retry
        };
        await retry(() => jsm.streams.info(name).catch(() => jsm.streams.add(config)), SETUP_RETRY_MS);
      }
      const kv = await retry(() => new Kvm(nc).create(BUCKET, { replicas: opts.replicas, history: 1 }), SETUP_RETRY_MS);
      const schemaLog = await retry(() => SchemaLog.open(js, jsm, opts.replicas, logger), SETUP_RETRY_MS);
      const store = new JetStreamStore(nc, jsm, js, kv, opts, logger, schemaLog);
      await store.load();
      return store;
    } catch (err) {
      await nc.close().catch(() => undefined);
      throw new Error(`cannot open the cluster store: ${(err as Error).message}`, { cause: err });
    }
  }

  private async load(): Promise<void> {
    // The watch starts after the bucket's last revision before the scan: nothing written
    // during the scan is missed; what the scan already saw is skipped by its revision.
    const before = (await this.jsm.streams.info(`KV_${BUCKET}`)).state.last_seq;
    const keys: string[] = [];
    for await (const k of await this.kv.keys()) keys.push(k);
    for (const k of keys) {
      const e = await this.kv.get(k);
      if (e === null) continue;
      this.revisions.set(k, e.revision);
      if (e.operation === 'PUT') this.mirror.set(k, e.string());
    }
    this.watch = new DefinitionsWatch(this.kv, this.jsm, `KV_${BUCKET}`, (e) => this.follow(e), this.logger);
    this.watch.start(before);
    this.heartbeat = setInterval(() => this.keepHeld(), Math.max(200, this.opts.ackWaitMs / 3));
    this.heartbeat.unref();
  }

  /** Applies one change of the bucket: every other node's definitions (spec/cluster.md §Definitions). */
  private follow(e: KvEntry): void {
    if (this.closed || e.revision <= (this.revisions.get(e.key) ?? 0)) return;
    this.revisions.set(e.key, e.revision);
    const before = this.mirror.get(e.key);
    if (e.operation === 'PUT') {
      const value = e.string();
      if (before === value) return; // our own write coming back
      this.mirror.set(e.key, value);
      this.emit(e.key, value, 'put');
    } else if (before !== undefined) {
      this.mirror.delete(e.key);
      this.emit(e.key, before, 'delete');
    }
  }

  private emit(key: string, value: string, op: 'put' | 'delete'): void {
    try {
      const access = JetStreamStore.accessChange(key, value, op);
      if (access !== undefined) {
        this.accessListener?.(access);
        return;
      }
      if (this.listener === undefined) return;
      const kind = key.startsWith('q.')
        ? 'queue'
        : key.startsWith('ex.')
          ? 'exchange'
          : key.startsWith('b.')
            ? 'binding'
            : undefined;
      if (kind === undefined) return;
      if (kind === 'binding') {
        const { key: bkey, def } = JSON.parse(value) as { key: string; def: BindingDefinition };
        this.listener({ kind, op, key: bkey, def });
      } else if (op === 'put') {
        const def = JSON.parse(value) as QueueDefinition;
        if (kind === 'queue') def.id = this.idFor(key);
        this.listener({ kind, op, def });
      } else {
        const def = JSON.parse(value) as { name: string; vhost?: string };
        this.listener({ kind, op, vhost: def.vhost ?? '/', name: def.name });
      }
    } catch (err) {
      this.logger.error('could not apply a definition change from another node', {
        component: 'cluster',
        key,
        error: (err as Error).message,
      });
    }
  }

  /** The access change a `u.`, `vh.` or `p.` key's write or delete makes (undefined for other keys). */
  private static accessChange(key: string, value: string, op: 'put' | 'delete'): AccessChange | undefined {
    const prefix = key.slice(0, key.indexOf('.'));
    if (prefix === 'vh') return { kind: 'vhost', op, name: (JSON.parse(value) as VhostRecord).name };
    if (prefix === 'u') {
      const user = JSON.parse(value) as UserRecord;
      return op === 'put' ? { kind: 'user', op, user } : { kind: 'user', op, name: user.name };
    }
    if (prefix !== 'p') return undefined;
    const permission = JSON.parse(value) as PermissionRecord;
    return op === 'put'
      ? { kind: 'permission', op, permission }
      : { kind: 'permission', op, user: permission.user, vhost: permission.vhost };
  }

  /** Called with every change to users, vhosts and permissions another node makes. */
  onRemoteAccessChange(listener: (change: AccessChange) => void): void {
    this.accessListener = listener;
  }

  /** Called with every definition change another node makes. */
  onRemoteChange(listener: (change: DefinitionChange) => void): void {
    this.listener = listener;
  }

  // ---- schema registry: the records the shared log's changes produced (schema-log.ts) --

  loadSchemaRecords(): [string, unknown][] {
    return this.schemaLog.loadSchemaRecords();
  }
  putSchemaRecord(key: string, value: unknown): void {
    this.schemaLog.putSchemaRecord(key, value);
  }
  removeSchemaRecord(key: string): void {
    this.schemaLog.removeSchemaRecord(key);
  }

  // ---- definitions -----------------------------------------------------------------

  private idFor(key: string): number {
    let id = this.idsByKey.get(key);
    if (id === undefined) {
      id = this.nextQueueId++;
      this.idsByKey.set(key, id);
    }
    return id;
  }

  private values(prefix: string): unknown[] {
    const out: unknown[] = [];
    for (const [k, v] of this.mirror) if (k.startsWith(prefix)) out.push(JSON.parse(v));
    return out;
  }

  loadDefinitions(): Definitions {
    const queues: QueueDefinition[] = [];
    for (const [k, v] of this.mirror) {
      if (!k.startsWith('q.')) continue;
      const def = JSON.parse(v) as QueueDefinition & { vhost?: string };
      def.id = this.idFor(k);
      this.register(def);
      queues.push(def);
    }
    return {
      exchanges: this.values('ex.') as ExchangeDefinition[],
      queues,
      bindings: (this.values('b.') as { def: BindingDefinition }[]).map((b) => b.def),
    };
  }

  /**
   * Writes a definition with create-then-compare: the first writer of a key wins; a later
   * equal write is a no-op, a differing one replaces it (redeclare after delete, updates).
   * Returns, for a write that went to KV, a promise of the value that stands when another
   * node's create won with a different one (undefined when ours stands).
   */
  private write(key: string, value: string): Promise<string | undefined> | undefined {
    if (this.mirror.get(key) === value) return undefined;
    const existed = this.mirror.has(key);
    this.mirror.set(key, value);
    // A create must have exactly one winner among nodes: createKey, not KV's create (kv-create.ts).
    const op: Promise<CreateOutcome> = this.retried(() =>
      existed
        ? this.kv.put(key, value).then((revision) => ({ created: true, revision }))
        : createKey(this.js, this.jsm, BUCKET, key, value),
    );
    const outcome = op.then((o): string | undefined => {
      if (o.created) return undefined;
      // Lost a create race: the winner's value stands.
      const w = o.value;
      this.mirror.set(key, w);
      if (w === value) return undefined;
      this.logger.warn('another node declared this first with other arguments; its definition stands', {
        component: 'cluster',
        key,
      });
      // Our own watch skips the winner's value (the mirror has it now): apply it here, so
      // this node's object takes the winner's arguments (remote-definitions.ts).
      this.emit(key, w, 'put');
      return w;
    });
    this.track(outcome);
    return outcome;
  }

  private remove(key: string): void {
    if (!this.mirror.delete(key)) return;
    this.track(this.retried(() => this.kv.delete(key)));
  }

  /**
   * Runs a definition write again while JetStream cannot take it (a server restarting says
   * "jetstream is not enabled", a leader election times requests out), for as long as a
   * publish is retried. Each write is idempotent: a put or delete of the same value, or a
   * create that finds its own value standing.
   */
  private retried<T>(write: () => Promise<T>): Promise<T> {
    return retry(write, PUBLISH_RETRY_MS, () => this.closed);
  }

  private withoutId(def: QueueDefinition): string {
    const { id: _id, ...rest } = def;
    return JSON.stringify(rest);
  }

  private static vhostOf(def: object): string {
    return (def as { vhost?: string }).vhost ?? '/';
  }

  putExchange(def: ExchangeDefinition): void {
    void this.write(`ex.${keyToken(JetStreamStore.vhostOf(def))}.${keyToken(def.name)}`, JSON.stringify(def));
  }

  removeExchange(name: string): void {
    // The scoped store passes the prefixed name only; find the key by it.
    for (const [k, v] of this.mirror)
      if (k.startsWith('ex.') && (JSON.parse(v) as ExchangeDefinition).name === name) this.remove(k);
  }

  putQueue(def: QueueDefinition): void {
    const key = JetStreamStore.queueKey(JetStreamStore.vhostOf(def), def.name);
    this.idsByKey.set(key, def.id);
    this.register(def);
    const outcome = this.write(key, this.withoutId(def));
    if (outcome === undefined) return;
    this.queueWrites.set(key, outcome);
    const forget = (): void => {
      if (this.queueWrites.get(key) === outcome) this.queueWrites.delete(key);
    };
    outcome.then(forget, forget);
  }

  /**
   * Settles once the queue definition `putQueue` wrote last for `name` is in KV; resolves to
   * the definition that stands instead when another node's create won a declare race with a
   * different one (spec/cluster.md §Declare races). Undefined when no write is in flight.
   */
  queueStored(name: string, vhost: string): Promise<QueueDefinition | undefined> | undefined {
    const outcome = this.queueWrites.get(JetStreamStore.queueKey(vhost, name));
    return outcome?.then((w) => (w === undefined ? undefined : (JSON.parse(w) as QueueDefinition)));
  }

  private static queueKey(vhost: string, name: string): string {
    return `q.${keyToken(vhost)}.${keyToken(name)}`;
  }

  removeQueue(def: QueueDefinition): void {
    for (const [k, id] of this.idsByKey) {
      if (id !== def.id) continue;
      this.remove(k);
      this.idsByKey.delete(k);
    }
    const slot = this.queues.get(def.id);
    if (slot === undefined) return;
    this.queues.delete(def.id);
    slot.wake?.();
    const { stream, subject, consumer } = slot.addr;
    this.track(
      this.jsm.consumers
        .delete(stream, consumer)
        .catch(() => false)
        .then(() => this.jsm.streams.purge(stream, { filter: subject })),
    );
  }

  private register(def: QueueDefinition): void {
    if (this.queues.has(def.id)) return;
    this.queues.set(def.id, {
      addr: queueAddress(JetStreamStore.vhostOf(def), def.name, this.opts.shards),
      sink: undefined,
      held: new Map(),
      pulling: false,
      wake: undefined,
      consumerReady: false,
    });
  }

  putBinding(key: string, def: BindingDefinition): void {
    void this.write(`b.${digest(key)}`, JSON.stringify({ key, def }));
  }

  removeBinding(key: string): void {
    this.remove(`b.${digest(key)}`);
  }

  allocateQueueId(): number {
    return this.nextQueueId++;
  }

  // ---- messages --------------------------------------------------------------------

  private slot(queueId: number): QueueSlot | undefined {
    return this.queues.get(queueId);
  }

  enqueue(queueId: number, seq: number, record: MessageRecord, meta: MessageMeta): void {
    const slot = this.slot(queueId);
    if (slot === undefined) return;
    const data = encodeRecord(record, meta);
    const msgID = `${this.incarnation}.${slot.addr.consumer}.${seq}`;
    this.track(this.publish(slot.addr.subject, data, msgID));
  }

  /** Publishes with retries under the same msgID (the stream deduplicates a retry that did land). */
  private async publish(subject: string, data: Uint8Array, msgID: string): Promise<void> {
    try {
      await retry(
        () => this.js.publish(subject, data, { msgID, timeout: 2_000 }),
        PUBLISH_RETRY_MS,
        () => this.closed,
      );
    } catch (err) {
      throw new Error(`JetStream did not acknowledge a publish: ${(err as Error).message}`, { cause: err });
    }
  }

  private track(p: Promise<unknown>): void {
    p.catch((err: Error) => {
      this.logger.error('cluster write failed', { component: 'cluster', error: err.message });
    });
    this.pending.push(p);
  }

  /** Resolves when every publish and definition write issued so far is acknowledged by JetStream. */
  durable(): Promise<void> {
    const batch = this.pending;
    this.pending = [];
    return Promise.all(batch).then(() => undefined);
  }

  /**
   * Queue `queueId` takes its messages by pull from now on: the store pulls while
   * `sink.credit()` is positive and hands each message to `sink.deliver`.
   */
  attach(queueId: number, sink: PullSink): void {
    const slot = this.slot(queueId);
    if (slot === undefined) return;
    slot.sink = sink;
    this.wake(queueId);
  }

  /** The queue's credit may have grown (a consumer came or acked). */
  wake(queueId: number): void {
    const slot = this.slot(queueId);
    if (slot === undefined || slot.sink === undefined || this.closed) return;
    if (slot.wake !== undefined) {
      const w = slot.wake;
      slot.wake = undefined;
      w();
      return;
    }
    if (!slot.pulling && slot.sink.credit() > 0) void this.pullLoop(queueId, slot);
  }

  private async pullLoop(queueId: number, slot: QueueSlot): Promise<void> {
    slot.pulling = true;
    try {
      while (!this.closed && this.queues.get(queueId) === slot && slot.sink !== undefined) {
        const credit = slot.sink.credit();
        if (credit <= 0) {
          await new Promise<void>((r) => (slot.wake = r));
          continue;
        }
        try {
          if (!slot.consumerReady) await this.ensureConsumer(slot.addr);
          slot.consumerReady = true;
          const c = await this.js.consumers.get(slot.addr.stream, slot.addr.consumer);
          const startedAt = Date.now();
          const batch = await c.fetch({ max_messages: credit, expires: PULL_EXPIRES_MS });
          let got = 0;
          for await (const m of batch) {
            got++;
            this.admit(queueId, slot, m);
          }
          // A fetch that ends at once with nothing (the connection closed or reconnecting)
          // would make this loop spin on promises alone and starve every timer of the
          // process: wait before pulling again.
          if (got === 0 && Date.now() - startedAt < PULL_EXPIRES_MS / 2) await new Promise((r) => setTimeout(r, 250));
        } catch (err) {
          slot.consumerReady = false;
          if (this.closed) return;
          this.logger.warn('pull failed; retrying', {
            component: 'cluster',
            queue: slot.addr.consumer,
            error: (err as Error).message,
          });
          await new Promise((r) => setTimeout(r, 500));
        }
      }
    } finally {
      slot.pulling = false;
    }
  }

  private admit(queueId: number, slot: QueueSlot, m: JsMsg): void {
    if (this.queues.get(queueId) !== slot || slot.sink === undefined) {
      m.nak();
      return;
    }
    if (slot.held.has(m.seq)) {
      // Redelivered to us while we still hold it (ack-wait ran out): keep the newest handle.
      slot.held.set(m.seq, m);
      return;
    }
    slot.held.set(m.seq, m);
    const meta = decodeMeta(m.data);
    slot.sink.deliver({
      seq: m.seq,
      size: recordBodySize(m.data),
      deliveries: m.info.deliveryCount - 1,
      readyAt: 0,
      lease: 0,
      expiresAt: meta.expiresAt,
      priority: 0,
    });
  }

  private async ensureConsumer(addr: QueueAddress): Promise<void> {
    await this.jsm.consumers.add(addr.stream, {
      durable_name: addr.consumer,
      filter_subject: addr.subject,
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
      ack_wait: this.opts.ackWaitMs * 1_000_000,
      max_ack_pending: 20_000,
      num_replicas: this.opts.replicas,
      inactive_threshold: 300_000_000_000, // 5 min idle: the server removes it, nothing is lost
    });
  }

  /** Keeps every held message (ready here or with a client) from going back after ack-wait. */
  private keepHeld(): void {
    for (const slot of this.queues.values()) for (const m of slot.held.values()) m.working();
  }

  /**
   * Settles a held message for good: acked with the server's confirmation, retried. `after`
   * (drops) first waits for every publish issued so far, so a dead-letter copy has its PubAck
   * before its original goes: no moment when it is in neither queue.
   */
  private settle(queueId: number, seq: number, after?: Promise<unknown>): void {
    const slot = this.slot(queueId);
    const m = slot?.held.get(seq);
    if (slot === undefined || m === undefined) return;
    slot.held.delete(seq);
    if (after === undefined) void this.ackAck(m, 0);
    else
      void after.then(
        () => this.ackAck(m, 0),
        // The copy was not stored: leave the original to come back after ack-wait.
        () => undefined,
      );
    this.wake(queueId);
  }

  private async ackAck(m: JsMsg, attempt: number): Promise<void> {
    try {
      if (await m.ackAck({ timeout: 2_000 })) return;
    } catch {
      // retried below
    }
    // An ack lost in a failover would bring the message back after ack-wait: retry for a while.
    if (!this.closed && attempt < 20) {
      await new Promise((r) => setTimeout(r, 500));
      return this.ackAck(m, attempt + 1);
    }
  }

  /** Gives held messages back to the stream (the queue has no local consumer for them). */
  giveBack(queueId: number, seqs: readonly number[]): void {
    const slot = this.slot(queueId);
    if (slot === undefined) return;
    for (const seq of seqs) {
      slot.held.get(seq)?.nak();
      slot.held.delete(seq);
    }
  }

  claim(): Lease {
    return 0;
  }

  ack(queueId: number, seq: number): void {
    this.settle(queueId, seq);
  }

  /** Requeued or held back for a delayed retry: this node keeps it (working() keeps it ours). */
  release(): Lease {
    return 0;
  }

  drop(queueId: number, seq: number): void {
    this.settle(queueId, seq, Promise.all(this.pending));
  }

  touch(queueId: number, seq: number): void {
    this.slot(queueId)?.held.get(seq)?.working();
  }

  purge(queueId: number, refs: Iterable<StoredRef>): void {
    const slot = this.slot(queueId);
    if (slot === undefined) return;
    for (const r of refs) this.settle(queueId, r.seq);
    // The stream's not yet pulled messages of the queue go too.
    this.track(this.jsm.streams.purge(slot.addr.stream, { filter: slot.addr.subject }));
  }

  dropFrom(): void {
    // Nothing is windowed to disk on this node: the queue never has an unread tail here.
  }

  stats(queueId: number): QueueStoreStats {
    const slot = this.slot(queueId);
    return { messages: slot?.held.size ?? 0, bytes: 0 };
  }

  position(): QueuePosition {
    return { messages: 0, bytes: 0, lastSeq: 0 };
  }

  scan(): RecoveredEntry[] {
    return [];
  }

  read(queueId: number, seq: number): MessageRecord | undefined {
    const m = this.slot(queueId)?.held.get(seq);
    return m === undefined ? undefined : decodeRecord(m.data);
  }

  /** Nothing to recover locally: a restarted node's unsettled messages return after ack-wait. */
  recover(): RecoveredEntry[] {
    return [];
  }

  delayed(vhost: string): DelayedMessageStore {
    let d = this.delayedByVhost.get(vhost);
    if (d === undefined) this.delayedByVhost.set(vhost, (d = new MemoryDelayed()));
    return d;
  }

  putDedup(scope: string, id: string, expiresAt: number): void {
    let m = this.dedup.get(scope);
    if (m === undefined) this.dedup.set(scope, (m = new Map<string, number>()));
    m.set(id, expiresAt);
  }

  removeDedup(scope: string, id: string): void {
    this.dedup.get(scope)?.delete(id);
  }

  /** A stream's named-reader offsets (or a queue's seen ids) go with it when it is deleted. */
  removeDedupScope(scope: string): void {
    this.dedup.delete(scope);
  }

  loadDedup(scope: string): [string, number][] {
    return [...(this.dedup.get(scope) ?? [])];
  }

  sizeBytes(): number {
    return 0;
  }

  // ---- access data -----------------------------------------------------------------

  loadAccess(): AccessData {
    return {
      users: this.values('u.') as UserRecord[],
      vhosts: this.values('vh.') as VhostRecord[],
      permissions: this.values('p.') as PermissionRecord[],
    };
  }

  putUser(user: UserRecord): void {
    void this.write(`u.${keyToken(user.name)}`, JSON.stringify(user));
  }

  removeUser(name: string): void {
    this.remove(`u.${keyToken(name)}`);
    for (const k of [...this.mirror.keys()]) if (k.startsWith(`p.${keyToken(name)}.`)) this.remove(k);
  }

  putVhost(vhost: VhostRecord): void {
    void this.write(`vh.${keyToken(vhost.name)}`, JSON.stringify({ ...vhost, delayedQueueId: 0 }));
  }

  removeVhost(name: string): void {
    this.remove(`vh.${keyToken(name)}`);
  }

  putPermission(p: PermissionRecord): void {
    void this.write(`p.${keyToken(p.user)}.${keyToken(p.vhost)}`, JSON.stringify(p));
  }

  removePermission(user: string, vhost: string): void {
    this.remove(`p.${keyToken(user)}.${keyToken(vhost)}`);
  }

  /**
   * Reads every shard stream's per-subject message counts, unless read in the last second
   * (management calls it before describing queues, so a page of 1,000 queues costs one read
   * per shard, not one per queue).
   */
  refreshStreamCounts(): Promise<void> {
    if (Date.now() - this.countsReadAt < 1_000) return Promise.resolve();
    this.countsReading ??= (async () => {
      const counts = new Map<string, number>();
      for (let shard = 0; shard < this.opts.shards; shard++) {
        const info = await this.jsm.streams.info(streamName(shard), { subjects_filter: `syq.${shard}.>` });
        for (const [subject, n] of Object.entries(info.state.subjects ?? {})) counts.set(subject, n);
      }
      this.subjectCounts = counts;
      this.countsReadAt = Date.now();
    })().finally(() => (this.countsReading = undefined));
    return this.countsReading;
  }

  /**
   * Messages of durable cluster queue `queueId` in its stream, ready and unacked on every node
   * (a WorkQueue stream drops a message at its ack), as of the last `refreshStreamCounts`;
   * undefined for a queue that is not in JetStream.
   */
  streamMessages(queueId: number): number | undefined {
    const slot = this.slot(queueId);
    return slot === undefined ? undefined : (this.subjectCounts.get(slot.addr.subject) ?? 0);
  }

  /**
   * Where queue `queueId` lives in JetStream and the replica state of its stream and its
   * consumer (leader, replicas current or lagging); undefined for a queue not in JetStream.
   */
  async queueReplicas(queueId: number): Promise<object | undefined> {
    const slot = this.slot(queueId);
    if (slot === undefined) return undefined;
    const { stream, subject, consumer } = slot.addr;
    const replicas = (
      c: { leader?: string; replicas?: { name: string; current: boolean; lag?: number }[] } | undefined,
    ) => ({
      leader: c?.leader ?? null,
      replicas: (c?.replicas ?? []).map((r) => ({ name: r.name, current: r.current, lag: r.lag ?? 0 })),
    });
    const s = await this.jsm.streams.info(stream, { subjects_filter: subject }).catch(() => undefined);
    const c = await this.jsm.consumers.info(stream, consumer).catch(() => undefined);
    return {
      stream: { name: stream, subject, messages: s?.state.subjects?.[subject] ?? 0, ...replicas(s?.cluster) },
      // No consumer while no node has consumed the queue for 5 min (spec/cluster.md §One consumer per active queue).
      consumer:
        c === undefined
          ? null
          : { name: consumer, ackPending: c.num_ack_pending, pending: c.num_pending, ...replicas(c.cluster) },
    };
  }

  /** Connection and stream health for management (spec/cluster.md §Management). */
  async health(): Promise<{ node: string; serverVersion: string; connectedTo: string; streams: object[] }> {
    const streams: object[] = [];
    for (let shard = 0; shard < this.opts.shards; shard++) {
      const info = await this.jsm.streams.info(streamName(shard)).catch(() => undefined);
      streams.push({
        name: streamName(shard),
        messages: info?.state.messages ?? null,
        leader: info?.cluster?.leader ?? null,
        replicas: (info?.cluster?.replicas ?? []).map((r) => ({ name: r.name, current: r.current, lag: r.lag ?? 0 })),
      });
    }
    return { node: this.nodeName, serverVersion: this.serverVersion, connectedTo: this.nc.getServer(), streams };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.directory.close(); // before the last writes are awaited: its removal is one of them
    await this.durable().catch(() => undefined);
    this.closed = true;
    this.schemaLog.close();
    this.nodeLocal.close();
    this.watch?.close();
    clearInterval(this.heartbeat);
    for (const slot of this.queues.values()) slot.wake?.();
    await this.nc.drain().catch(() => undefined);
  }
}
