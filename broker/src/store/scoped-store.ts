import type {
  BindingDefinition,
  Definitions,
  DelayedMessageStore,
  ExchangeDefinition,
  Lease,
  MessageMeta,
  MessageRecord,
  QueueDefinition,
  QueuePosition,
  QueueStore,
  QueueStoreStats,
  RecoveredEntry,
  StoredRef,
  StoredMessage,
} from './store.js';
import { queueDedupScope } from './store.js';

type Scoped<T> = T & { vhost?: string };

/**
 * One vhost's view of the shared store. Definitions are tagged with the vhost and stored
 * under vhost-prefixed names, so equal names in two vhosts never collide; loading returns
 * only this vhost's, untagged. Queue ids are unique broker-wide and pass through; the
 * vhost's delayed messages are the store's own (`delayed`). The default vhost `/` uses no
 * prefix, so stores written before vhosts existed load unchanged.
 */
export class ScopedStore implements QueueStore {
  private readonly prefix: string;
  /** Passed through when the inner store windows priority queues (store.ts `priorityLevels`). */
  readonly priorityLevels?: QueueStore['priorityLevels'];
  readonly scanLevel?: QueueStore['scanLevel'];
  readonly dropLevelFrom?: QueueStore['dropLevelFrom'];
  readonly heldBack?: QueueStore['heldBack'];
  /** Passed through: the inner store hands messages over by pull (cluster). */
  readonly pull?: QueueStore['pull'];

  constructor(
    private readonly inner: QueueStore,
    readonly vhost: string,
  ) {
    this.prefix = vhost === '/' ? '' : `${vhost}\u0001`;
    if (inner.priorityLevels !== undefined && inner.scanLevel !== undefined && inner.dropLevelFrom !== undefined) {
      this.priorityLevels = inner.priorityLevels.bind(inner);
      this.scanLevel = inner.scanLevel.bind(inner);
      this.dropLevelFrom = inner.dropLevelFrom.bind(inner);
    }
    if (inner.heldBack !== undefined) this.heldBack = inner.heldBack.bind(inner);
    this.pull = inner.pull;
  }

  private mine(def: { vhost?: string }): boolean {
    return (def.vhost ?? '/') === this.vhost;
  }

  loadDefinitions(): Definitions {
    const all = this.inner.loadDefinitions();
    const strip = <T extends object>(d: Scoped<T>): T => {
      const { vhost: _vhost, ...rest } = d;
      return rest as T;
    };
    return {
      exchanges: (all.exchanges as Scoped<ExchangeDefinition>[])
        .filter((d) => this.mine(d))
        .map((d) => ({ ...strip(d), name: this.unprefix(d.name) })),
      queues: (all.queues as Scoped<QueueDefinition>[])
        .filter((d) => this.mine(d))
        .map((d) => ({ ...strip(d), name: this.unprefix(d.name) })),
      bindings: (all.bindings as Scoped<BindingDefinition>[]).filter((d) => this.mine(d)).map((d) => strip(d)),
    };
  }

  private unprefix(name: string): string {
    return this.prefix !== '' && name.startsWith(this.prefix) ? name.slice(this.prefix.length) : name;
  }

  putExchange(def: ExchangeDefinition): void {
    this.inner.putExchange({ ...def, name: this.prefix + def.name, vhost: this.vhost } as ExchangeDefinition);
  }

  removeExchange(name: string): void {
    this.inner.removeExchange(this.prefix + name);
  }

  putQueue(def: QueueDefinition): void {
    this.inner.putQueue({ ...def, name: this.prefix + def.name, vhost: this.vhost } as QueueDefinition);
  }

  queueStored(name: string): Promise<QueueDefinition | undefined> | undefined {
    return this.inner
      .queueStored?.(this.prefix + name, this.vhost)
      ?.then((def) => (def === undefined ? undefined : { ...def, name }));
  }

  removeQueue(def: QueueDefinition): void {
    this.inner.removeQueue({ ...def, name: this.prefix + def.name });
    // The inner store forgets the queue's unprefixed scope; this view kept its ids under
    // the prefixed one (putDedup below).
    if (this.prefix !== '') this.inner.removeDedupScope?.(this.prefix + queueDedupScope(def.id));
  }

  putBinding(key: string, def: BindingDefinition): void {
    this.inner.putBinding(this.prefix + key, { ...def, vhost: this.vhost } as BindingDefinition);
  }

  removeBinding(key: string): void {
    this.inner.removeBinding(this.prefix + key);
  }

  allocateQueueId(): number {
    return this.inner.allocateQueueId();
  }

  enqueue(queueId: number, seq: number, record: MessageRecord, meta: MessageMeta): void {
    this.inner.enqueue(queueId, seq, record, meta);
  }

  claim(queueId: number, seq: number, deliveries: number, inOrder: boolean): Lease {
    return this.inner.claim(queueId, seq, deliveries, inOrder);
  }

  ack(queueId: number, seq: number, lease: Lease, size: number, priority?: number): void {
    this.inner.ack(queueId, seq, lease, size, priority);
  }

  release(queueId: number, seq: number, deliveries: number, readyAt: number, lease: Lease): Lease {
    return this.inner.release(queueId, seq, deliveries, readyAt, lease);
  }

  drop(queueId: number, seq: number, lease: Lease, size: number, priority?: number): void {
    this.inner.drop(queueId, seq, lease, size, priority);
  }

  touch(queueId: number, seq: number, lease: Lease): void {
    this.inner.touch(queueId, seq, lease);
  }

  purge(queueId: number, refs: Iterable<StoredRef>): void {
    this.inner.purge(queueId, refs);
  }

  dropFrom(queueId: number, fromSeq: number, removed: QueueStoreStats): void {
    this.inner.dropFrom(queueId, fromSeq, removed);
  }

  stats(queueId: number): QueueStoreStats {
    return this.inner.stats(queueId);
  }

  position(queueId: number): QueuePosition {
    return this.inner.position(queueId);
  }

  scan(queueId: number, fromSeq: number, limit: number): RecoveredEntry[] {
    return this.inner.scan(queueId, fromSeq, limit);
  }

  read(queueId: number, seq: number): MessageRecord | undefined {
    return this.inner.read(queueId, seq);
  }

  readRange(queueId: number, fromSeq: number, toSeq: number, limit: number, maxBytes: number): StoredMessage[] {
    if (this.inner.readRange !== undefined) return this.inner.readRange(queueId, fromSeq, toSeq, limit, maxBytes);
    // A store without range reads (memory, cluster): one read per message, same bounds.
    const out: StoredMessage[] = [];
    let bytes = 0;
    for (let seq = fromSeq; seq <= toSeq && out.length < limit && bytes < maxBytes; seq++) {
      const record = this.inner.read(queueId, seq);
      if (record === undefined) continue;
      out.push({ seq, record });
      bytes += record.content.length;
    }
    return out;
  }

  recover(queueId: number): RecoveredEntry[] {
    return this.inner.recover(queueId);
  }

  /** This vhost's delayed messages (a scoped store has one vhost, so no argument is needed). */
  delayed(): DelayedMessageStore {
    return this.inner.delayed(this.vhost);
  }

  putDedup(scope: string, id: string, expiresAt: number): void {
    this.inner.putDedup(this.prefix + scope, id, expiresAt);
  }

  removeDedup(scope: string, id: string): void {
    this.inner.removeDedup(this.prefix + scope, id);
  }

  removeDedupScope(scope: string): void {
    this.inner.removeDedupScope?.(this.prefix + scope);
  }

  loadDedup(scope: string): [string, number][] {
    return this.inner.loadDedup(this.prefix + scope);
  }

  durable(): Promise<void> {
    return this.inner.durable();
  }

  sizeBytes(): number {
    return this.inner.sizeBytes();
  }

  /** The shared store is closed by the broker, not by a vhost. */
  close(): Promise<void> {
    return Promise.resolve();
  }
}
