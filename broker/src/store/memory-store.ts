import type {
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
  QueueDefinition,
  QueuePosition,
  QueueStore,
  QueueStoreStats,
  RecoveredDelayed,
  RecoveredEntry,
  StoredRef,
  UserRecord,
  VhostRecord,
} from './store.js';
import { queueDedupScope } from './store.js';

interface StoredMessage {
  record: MessageRecord;
  meta: MessageMeta;
  deliveries: number;
  readyAt: number;
}

/**
 * What a {@link MemoryStore} has committed: the part that outlives one store object, as a
 * disk outlives a process. Open a new store on the same `MemoryDisk` to "restart" (after
 * `close()`, or after `crash()`, which loses the batch not yet committed).
 */
export class MemoryDisk {
  readonly exchanges = new Map<string, ExchangeDefinition>();
  readonly queues = new Map<string, QueueDefinition>();
  readonly bindings = new Map<string, BindingDefinition>();
  readonly users = new Map<string, UserRecord>();
  readonly vhosts = new Map<string, VhostRecord>();
  readonly permissions = new Map<string, PermissionRecord>();
  /** Schema registry records by key. */
  readonly schemaRecords = new Map<string, unknown>();
  /** queue id -> seq -> message. */
  readonly messages = new Map<number, Map<number, StoredMessage>>();
  /** vhost -> seq -> delayed message. */
  readonly delayed = new Map<string, Map<number, { record: MessageRecord; dueAt: number }>>();
  /** scope -> id -> expiresAt. */
  readonly dedup = new Map<string, Map<string, number>>();
  /** Highest sequence stored per queue (positions survive every message being acked). */
  readonly lastSeq = new Map<number, number>();
}

type Op = (disk: MemoryDisk) => void;

function sub<K, IK, V>(map: Map<K, Map<IK, V>>, key: K): Map<IK, V> {
  let m = map.get(key);
  if (m === undefined) {
    m = new Map<IK, V>();
    map.set(key, m);
  }
  return m;
}

const noop = (): void => {};

/**
 * QueueStore (and AccessStore) in memory, for tests and embedders that want no disk: a
 * broker on it loses everything when its `MemoryDisk` goes away. It keeps the LMDB store's
 * contract: writes of one event-loop turn form one batch, committed together at the end of
 * the turn; `durable()` resolves once the batches issued so far are committed; reads see
 * committed state only. Message bodies are copied on enqueue (the caller's bytes may be a
 * view into a socket buffer). Every delivery is recorded per message, so leases are always 0.
 */
export class MemoryStore implements QueueStore, AccessStore {
  private batch: Op[] = [];
  private batchDone: Promise<void> | undefined;
  private resolveBatch: (() => void) | undefined;
  private tail: Promise<void> = Promise.resolve();
  private nextQueueId = 1;
  private dead = false;
  private pendingBytes = 0;
  private batchBytes = 0;
  private readonly delayedStores = new Map<string, DelayedMessageStore>();

  private constructor(readonly disk: MemoryDisk) {}

  /** Opens a store on `disk` (a new, empty one by default), as after a restart. */
  static open(disk: MemoryDisk = new MemoryDisk()): MemoryStore {
    return new MemoryStore(disk);
  }

  /**
   * Simulates a crash: the batch not yet committed is lost and this store object stops
   * writing. Reopen with `MemoryStore.open(store.disk)`.
   */
  crash(): void {
    this.dead = true;
    this.batch = [];
  }

  private write(op: Op): void {
    if (this.dead) return;
    this.batch.push(op);
    if (this.batchDone === undefined) {
      this.batchDone = new Promise<void>((resolve) => (this.resolveBatch = resolve));
      setImmediate(this.commit);
    }
  }

  private readonly commit = (): void => {
    const ops = this.batch;
    const resolve = this.resolveBatch!;
    this.batch = [];
    this.batchDone = undefined;
    this.resolveBatch = undefined;
    this.batchBytes = 0;
    // A crashed store's last batch never reaches the disk (and its promises never settle).
    if (this.dead) return;
    for (const op of ops) op(this.disk);
    resolve();
  };

  loadDefinitions(): Definitions {
    const d = this.disk;
    for (const q of d.queues.values()) this.nextQueueId = Math.max(this.nextQueueId, q.id + 1);
    return { exchanges: [...d.exchanges.values()], queues: [...d.queues.values()], bindings: [...d.bindings.values()] };
  }

  putExchange(def: ExchangeDefinition): void {
    this.write((d) => d.exchanges.set(def.name, def));
  }

  removeExchange(name: string): void {
    this.write((d) => d.exchanges.delete(name));
  }

  putQueue(def: QueueDefinition): void {
    this.write((d) => d.queues.set(def.name, def));
  }

  removeQueue(def: QueueDefinition): void {
    this.write((d) => {
      d.queues.delete(def.name);
      d.messages.delete(def.id);
      d.lastSeq.delete(def.id);
      d.dedup.delete(queueDedupScope(def.id));
    });
  }

  putBinding(key: string, def: BindingDefinition): void {
    this.write((d) => d.bindings.set(key, def));
  }

  removeBinding(key: string): void {
    this.write((d) => d.bindings.delete(key));
  }

  allocateQueueId(): number {
    return this.nextQueueId++;
  }

  enqueue(queueId: number, seq: number, record: MessageRecord, meta: MessageMeta): void {
    const copy: MessageRecord = { ...record, content: Uint8Array.prototype.slice.call(record.content) };
    this.pendingBytes += copy.content.length;
    this.batchBytes += copy.content.length;
    this.write((d) => {
      sub(d.messages, queueId).set(seq, { record: copy, meta: { ...meta }, deliveries: 0, readyAt: 0 });
      d.lastSeq.set(queueId, Math.max(d.lastSeq.get(queueId) ?? 0, seq));
    });
  }

  private update(queueId: number, seq: number, deliveries: number, readyAt: number): void {
    this.write((d) => {
      const m = d.messages.get(queueId)?.get(seq);
      if (m !== undefined) {
        m.deliveries = deliveries;
        m.readyAt = readyAt;
      }
    });
  }

  claim(queueId: number, seq: number, deliveries: number, _inOrder: boolean): Lease {
    this.update(queueId, seq, deliveries, 0);
    return 0;
  }

  ack(queueId: number, seq: number, _lease: Lease, _size: number): void {
    this.write((d) => d.messages.get(queueId)?.delete(seq));
  }

  release(queueId: number, seq: number, deliveries: number, readyAt: number, _lease: Lease): Lease {
    this.update(queueId, seq, deliveries, readyAt);
    return 0;
  }

  drop(queueId: number, seq: number, lease: Lease, size: number): void {
    this.ack(queueId, seq, lease, size);
  }

  /** Leases in memory never expire: the process owns its queues. */
  touch(_queueId: number, _seq: number, _lease: Lease): void {}

  purge(queueId: number, refs: Iterable<StoredRef>): void {
    const seqs = Array.from(refs, (r) => r.seq);
    this.write((d) => {
      const m = d.messages.get(queueId);
      if (m !== undefined) for (const seq of seqs) m.delete(seq);
    });
  }

  dropFrom(queueId: number, fromSeq: number, _removed: QueueStoreStats): void {
    this.write((d) => {
      const m = d.messages.get(queueId);
      if (m !== undefined) for (const seq of [...m.keys()]) if (seq >= fromSeq) m.delete(seq);
    });
  }

  position(queueId: number): QueuePosition {
    let lastSeq = this.disk.lastSeq.get(queueId) ?? 0;
    for (const seq of this.disk.messages.get(queueId)?.keys() ?? []) lastSeq = Math.max(lastSeq, seq);
    return { ...this.stats(queueId), lastSeq };
  }

  scan(queueId: number, fromSeq: number, limit: number): RecoveredEntry[] {
    // A linear pass: the memory store is for tests and small embedded brokers, not depth.
    return this.recover(queueId)
      .filter((e) => e.seq >= fromSeq)
      .slice(0, limit);
  }

  stats(queueId: number): QueueStoreStats {
    let messages = 0;
    let bytes = 0;
    for (const m of this.disk.messages.get(queueId)?.values() ?? []) {
      messages++;
      bytes += m.record.content.length;
    }
    return { messages, bytes };
  }

  read(queueId: number, seq: number): MessageRecord | undefined {
    const m = this.disk.messages.get(queueId)?.get(seq);
    return m === undefined ? undefined : { ...m.record };
  }

  recover(queueId: number): RecoveredEntry[] {
    const m = this.disk.messages.get(queueId);
    if (m === undefined) return [];
    return [...m.entries()]
      .sort((a, b) => a[0] - b[0])
      .map(([seq, s]) => ({
        seq,
        size: s.record.content.length,
        deliveries: s.deliveries,
        readyAt: s.readyAt,
        lease: 0,
        ...s.meta,
      }));
  }

  delayed(vhost: string): DelayedMessageStore {
    let store = this.delayedStores.get(vhost);
    if (store === undefined) {
      store = {
        put: (seq, record, dueAt) => {
          const copy: MessageRecord = { ...record, content: Uint8Array.prototype.slice.call(record.content) };
          this.write((d) => sub(d.delayed, vhost).set(seq, { record: copy, dueAt }));
        },
        read: (seq) => {
          const m = this.disk.delayed.get(vhost)?.get(seq);
          return m === undefined ? undefined : { ...m.record };
        },
        remove: (seq) => this.write((d) => d.delayed.get(vhost)?.delete(seq)),
        recover: (): RecoveredDelayed[] =>
          [...(this.disk.delayed.get(vhost)?.entries() ?? [])]
            .sort((a, b) => a[0] - b[0])
            .map(([seq, m]) => ({ seq, dueAt: m.dueAt })),
        clear: () => this.write((d) => d.delayed.delete(vhost)),
      };
      this.delayedStores.set(vhost, store);
    }
    return store;
  }

  putDedup(scope: string, id: string, expiresAt: number): void {
    this.write((d) => sub(d.dedup, scope).set(id, expiresAt));
  }

  removeDedup(scope: string, id: string): void {
    this.write((d) => d.dedup.get(scope)?.delete(id));
  }

  removeDedupScope(scope: string): void {
    this.write((d) => d.dedup.delete(scope));
  }

  loadDedup(scope: string): [string, number][] {
    return [...(this.disk.dedup.get(scope)?.entries() ?? [])].sort((a, b) => a[1] - b[1]);
  }

  loadSchemaRecords(): [string, unknown][] {
    return [...this.disk.schemaRecords];
  }

  putSchemaRecord(key: string, value: unknown): void {
    const copy = structuredClone(value); // as a store would: later changes to `value` are not kept
    this.write((d) => d.schemaRecords.set(key, copy));
  }

  removeSchemaRecord(key: string): void {
    this.write((d) => d.schemaRecords.delete(key));
  }

  loadAccess(): AccessData {
    const d = this.disk;
    return { users: [...d.users.values()], vhosts: [...d.vhosts.values()], permissions: [...d.permissions.values()] };
  }

  putUser(user: UserRecord): void {
    this.write((d) => d.users.set(user.name, user));
  }

  removeUser(name: string): void {
    this.write((d) => d.users.delete(name));
  }

  putVhost(vhost: VhostRecord): void {
    this.write((d) => d.vhosts.set(vhost.name, vhost));
  }

  removeVhost(name: string): void {
    this.write((d) => d.vhosts.delete(name));
  }

  putPermission(p: PermissionRecord): void {
    this.write((d) => d.permissions.set(`${p.user}\u0000${p.vhost}`, p));
  }

  removePermission(user: string, vhost: string): void {
    this.write((d) => d.permissions.delete(`${user}\u0000${vhost}`));
  }

  durable(): Promise<void> {
    const pending = this.batchDone;
    if (pending !== undefined) this.tail = Promise.all([this.tail, pending]).then(noop);
    return this.tail;
  }

  /** Bytes of the batch not yet applied to the simulated disk. */
  unflushedBytes(): number {
    return this.batchBytes;
  }

  takePendingBytes(): number {
    const n = this.pendingBytes;
    this.pendingBytes = 0;
    return n;
  }

  /** Body bytes committed (the memory a broker on this store holds for its messages). */
  sizeBytes(): number {
    let bytes = 0;
    for (const q of this.disk.messages.values()) for (const m of q.values()) bytes += m.record.content.length;
    return bytes;
  }

  async close(): Promise<void> {
    await this.durable();
    this.dead = true;
  }
}
