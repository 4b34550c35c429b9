import type { FieldTable, MessageProperties } from '@switchyard/client/protocol';

/** A message as stored: where it was published and what it carries. */
export interface MessageRecord {
  exchange: string;
  routingKey: string;
  properties: MessageProperties | null;
  content: Uint8Array;
}

/** Per-message scheduling facts stored beside the envelope. */
export interface MessageMeta {
  /** When it expires (ms since the epoch); 0 = never. */
  expiresAt: number;
  /** Priority level in its queue (0 when the queue has none). */
  priority: number;
}

/** What recovery finds for one stored message, without its body. */
export interface RecoveredEntry extends MessageMeta {
  seq: number;
  size: number;
  /** Deliveries before the restart (0 = never delivered). */
  deliveries: number;
  /** Held back until this time (delayed retry; ms since the epoch); 0 = ready. */
  readyAt: number;
}

export interface ExchangeDefinition {
  name: string;
  type: string;
  durable: boolean;
  autoDelete: boolean;
  internal: boolean;
  arguments: FieldTable;
}

export interface QueueDefinition {
  name: string;
  /** Stable numeric id: the prefix of this queue's message keys. */
  id: number;
  durable: boolean;
  autoDelete: boolean;
  arguments: FieldTable;
}

export interface BindingDefinition {
  source: string;
  destination: string;
  destinationKind: 'queue' | 'exchange';
  routingKey: string;
  arguments: FieldTable;
}

export interface Definitions {
  exchanges: ExchangeDefinition[];
  queues: QueueDefinition[];
  bindings: BindingDefinition[];
}

/** A user as stored: scrypt hash, never the password. */
export interface UserRecord {
  name: string;
  passwordHash: string;
  /** RabbitMQ-style tags; `administrator` may use the management API. */
  tags: string[];
  /** Login tokens issued at or before this time (ms since the epoch) are refused. */
  tokensRevokedAt?: number;
}

export interface VhostRecord {
  name: string;
  /** Store queue id of the vhost's delayed messages. */
  delayedQueueId: number;
}

export interface PermissionRecord {
  user: string;
  vhost: string;
  configure: string;
  write: string;
  read: string;
}

export interface AccessData {
  users: UserRecord[];
  vhosts: VhostRecord[];
  permissions: PermissionRecord[];
}

/** Users, vhosts and permissions, durable beside the queues (same LMDB environment). */
export interface AccessStore {
  loadAccess(): AccessData;
  putUser(user: UserRecord): void;
  removeUser(name: string): void;
  putVhost(vhost: VhostRecord): void;
  removeVhost(name: string): void;
  putPermission(p: PermissionRecord): void;
  removePermission(user: string, vhost: string): void;
}

/**
 * Durable state behind the broker: definitions and persistent messages of durable queues.
 *
 * Writes are fire-and-forget and grouped: everything issued during one event-loop turn is
 * committed together. `durable()` is the only way to learn that a write is safe, and is what
 * publisher confirms wait on. Routing, prefetch and redelivery stay above this interface, so
 * another engine (a replicated log, say) can implement it.
 */
export interface QueueStore {
  /** Everything declared durable, as of the last clean or unclean stop. */
  loadDefinitions(): Definitions;
  putExchange(def: ExchangeDefinition): void;
  removeExchange(name: string): void;
  putQueue(def: QueueDefinition): void;
  /** Removes the queue's definition and every message and delivery mark it had. */
  removeQueue(def: QueueDefinition): void;
  /**
   * Stores a binding under its identity (routing's `bindingKey`, any length: the store
   * turns it into a valid key).
   */
  putBinding(key: string, def: BindingDefinition): void;
  removeBinding(key: string): void;
  /** Next free queue id; ids are never reused. */
  allocateQueueId(): number;

  /** Stores a message under (queueId, seq). */
  enqueue(queueId: number, seq: number, record: MessageRecord, meta: MessageMeta): void;
  /**
   * Deletes an acknowledged (or dropped) message, and its delivery mark when `hasMark`
   * (the message was delivered more than once, so `setDeliveries` may have written one).
   */
  ack(queueId: number, seq: number, hasMark: boolean): void;
  /** Records that every message up to `seq` has been delivered at least once. */
  markDeliveredUpTo(queueId: number, seq: number): void;
  /**
   * Records a message's delivery count (when delivered more than once, or in a priority
   * queue) and, for a delayed retry, when it is ready again (0 = now).
   */
  setDeliveryState(queueId: number, seq: number, deliveries: number, readyAt: number): void;
  /** Reads a stored message body and envelope, synchronously. */
  read(queueId: number, seq: number): MessageRecord | undefined;
  /** Every stored message of a queue, in sequence order, without bodies. */
  recover(queueId: number): RecoveredEntry[];
  /** Deletes the given messages and any delivery marks they have (purge). */
  removeMessages(queueId: number, seqs: Iterable<number>): void;

  /** Remembers a deduplication id of a queue or exchange (`scope`) until `expiresAt`. */
  putDedup(scope: string, id: string, expiresAt: number): void;
  removeDedup(scope: string, id: string): void;
  /** Every remembered deduplication id of a scope, with its expiry. */
  loadDedup(scope: string): [string, number][];

  /** Resolves once every write issued so far is durable on disk; resolves in call order. */
  durable(): Promise<void>;
  /** Bytes of message records written since the last call (optional; feeds the disk alarm). */
  takePendingBytes?(): number;
  /** Approximate size of the store on disk, in bytes. */
  sizeBytes(): number;
  /** Flushes and closes. */
  close(): Promise<void>;
}
