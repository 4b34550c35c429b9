import type {
  BindingDefinition,
  Definitions,
  ExchangeDefinition,
  MessageMeta,
  MessageRecord,
  QueueDefinition,
  QueueStore,
  RecoveredEntry,
} from './store.js';

/** The reserved queue id a vhost's delayed messages use in its scoped store. */
export const SCOPED_DELAYED_QUEUE_ID = 0;

type Scoped<T> = T & { vhost?: string };

/**
 * One vhost's view of the shared store. Definitions are tagged with the vhost and stored
 * under vhost-prefixed names, so equal names in two vhosts never collide; loading returns
 * only this vhost's, untagged. Queue ids are already unique broker-wide, except the reserved
 * id 0 for delayed messages, which maps to the vhost's own id. The default vhost `/` uses
 * no prefix, so stores written before vhosts existed load unchanged.
 */
export class ScopedStore implements QueueStore {
  private readonly prefix: string;

  constructor(
    private readonly inner: QueueStore,
    readonly vhost: string,
    /** Store queue id for this vhost's delayed messages. */
    private readonly delayedQueueId: number,
  ) {
    this.prefix = vhost === '/' ? '' : `${vhost}\u0001`;
  }

  private id(queueId: number): number {
    return queueId === SCOPED_DELAYED_QUEUE_ID ? this.delayedQueueId : queueId;
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
      exchanges: (all.exchanges as Scoped<ExchangeDefinition>[]).filter((d) => this.mine(d)).map((d) => ({ ...strip(d), name: this.unprefix(d.name) })),
      queues: (all.queues as Scoped<QueueDefinition>[]).filter((d) => this.mine(d)).map((d) => ({ ...strip(d), name: this.unprefix(d.name) })),
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

  removeQueue(def: QueueDefinition): void {
    this.inner.removeQueue({ ...def, id: this.id(def.id), name: this.prefix + def.name });
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
    this.inner.enqueue(this.id(queueId), seq, record, meta);
  }

  ack(queueId: number, seq: number, hasMark: boolean): void {
    this.inner.ack(this.id(queueId), seq, hasMark);
  }

  markDeliveredUpTo(queueId: number, seq: number): void {
    this.inner.markDeliveredUpTo(this.id(queueId), seq);
  }

  setDeliveryState(queueId: number, seq: number, deliveries: number, readyAt: number): void {
    this.inner.setDeliveryState(this.id(queueId), seq, deliveries, readyAt);
  }

  read(queueId: number, seq: number): MessageRecord | undefined {
    return this.inner.read(this.id(queueId), seq);
  }

  recover(queueId: number): RecoveredEntry[] {
    return this.inner.recover(this.id(queueId));
  }

  removeMessages(queueId: number, seqs: Iterable<number>): void {
    this.inner.removeMessages(this.id(queueId), seqs);
  }

  putDedup(scope: string, id: string, expiresAt: number): void {
    this.inner.putDedup(this.prefix + scope, id, expiresAt);
  }

  removeDedup(scope: string, id: string): void {
    this.inner.removeDedup(this.prefix + scope, id);
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
