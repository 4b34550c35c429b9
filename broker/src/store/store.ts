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

/**
 * A stored message's lease token: whatever the store needs to settle it cheaply later (for
 * LMDB, whether a delivery record exists beside the message). Opaque above the store: the
 * queue keeps the last token `claim`, `release` or `recover` gave it and hands it back.
 */
export type Lease = number;

/** What recovery finds for one stored message, without its body. */
export interface RecoveredEntry extends MessageMeta {
  seq: number;
  size: number;
  /** Deliveries before the restart (0 = never delivered). */
  deliveries: number;
  /** Held back until this time (delayed retry; ms since the epoch); 0 = ready. */
  readyAt: number;
  /** Token to hand back to `ack`, `drop`, `release` and `purge`. */
  lease: Lease;
}

/** A stored message with its sequence (`readRange`). */
export interface StoredMessage {
  seq: number;
  record: MessageRecord;
}

/** A stored message as the queue refers to it when settling: its sequence, lease token and body size. */
export interface StoredRef {
  seq: number;
  lease: Lease;
  /** Body bytes, as enqueued: the store keeps per-queue byte counts without reading values. */
  size: number;
  /** Its priority level (priority queues: the store keeps a per-level index). */
  priority?: number;
}

/** What a store holds for one queue (`stats`). */
export interface QueueStoreStats {
  /** Stored messages: ready, delayed and claimed. */
  messages: number;
  /** Their body bytes. */
  bytes: number;
}

/**
 * Where a queue's stored messages stand, known without reading them (`position`): the
 * counts are kept current in the same transactions as the messages, so a restart reads
 * one record per queue, not every message. spec/semantics.md §Deep backlogs.
 */
export interface QueuePosition extends QueueStoreStats {
  /** Highest sequence ever stored for the queue (0 = none): new messages continue after it. */
  lastSeq: number;
}

/** A delayed message (`x-delay`) as recovered: its id and when it is due. */
export interface RecoveredDelayed {
  seq: number;
  /** When it is routed (ms since the epoch). */
  dueAt: number;
}

/**
 * One vhost's messages published with `x-delay`, waiting to be routed. Where they live is the
 * store's business (LMDB keeps them under an id of their own, beside the queues); the timer
 * that routes them stays above the store. Writes join the current batch like queue writes.
 */
export interface DelayedMessageStore {
  /** Stores a message due at `dueAt` under `seq` (unique within the vhost, increasing). */
  put(seq: number, record: MessageRecord, dueAt: number): void;
  read(seq: number): MessageRecord | undefined;
  /** The message was routed (in this same batch): forget it. */
  remove(seq: number): void;
  /** Every stored delayed message, in `seq` order. */
  recover(): RecoveredDelayed[];
  /** Forgets every delayed message of the vhost (vhost deleted). */
  clear(): void;
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
  /**
   * The store's own: where an LMDB store keeps the vhost's delayed messages (a message-key
   * prefix like a queue id; 0 for `/`). Assigned by the store when a record without it is put.
   */
  delayedQueueId?: number;
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

/**
 * A change to users, vhosts or permissions stored by another cluster node (spec/cluster.md
 * §Definitions): applied to this node's access data without being stored again.
 */
export type AccessChange =
  | { kind: 'user'; op: 'put'; user: UserRecord }
  | { kind: 'user'; op: 'delete'; name: string }
  | { kind: 'vhost'; op: 'put' | 'delete'; name: string }
  | { kind: 'permission'; op: 'put'; permission: PermissionRecord }
  | { kind: 'permission'; op: 'delete'; user: string; vhost: string };

/**
 * Where a queue whose messages arrive by pull (`QueueStore.pull`) takes them: the store asks
 * `credit()` how many more it may hand over and gives each with `deliver`.
 */
export interface PullSink {
  /** How many more messages the queue takes now (0: none until the store is woken). */
  credit(): number;
  /** A message for the queue; its body is read with `read(queueId, entry.seq)`. */
  deliver(entry: RecoveredEntry): void;
}

/**
 * Optional (replicated engines, spec/cluster.md §The store interface): messages reach a
 * queue by pull, not by its own `enqueue`, which only publishes. So a message published on
 * one node and consumed on another is handed to exactly one of them.
 */
export interface PulledQueues {
  /** The queue takes its messages from the store from now on. */
  attach(queueId: number, sink: PullSink): void;
  /** The queue's credit may have grown. */
  wake(queueId: number): void;
  /** Messages the queue received and hands back undelivered (no local consumer left). */
  giveBack(queueId: number, seqs: readonly number[]): void;
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
 * one batch, committed together (one LMDB transaction), so a dead-letter copy and the drop of
 * its original, or a routed delayed message and its removal, are durable together or not at
 * all. `durable()` is the only way to learn that a write is safe, and is what publisher
 * confirms wait on. Reads see committed writes.
 *
 * Messages are handled as leases, the shape both an embedded and a replicated engine honour:
 * `enqueue` (idempotent under its publish id), `claim` (handed to a consumer), `ack`,
 * `release` (back to the queue, optionally delayed), `drop` (removed without an ack: expired,
 * over a length limit, or dead-lettered — its copy is enqueued in the same batch), `touch`,
 * `purge`, `stats` and `recover`. How a delivery is recorded (a high-water mark, a per-message
 * record, a redelivery counter) is the store's choice. Routing, prefetch, TTL, dead-lettering
 * and consumer timeouts stay above this interface.
 */
export interface QueueStore {
  /** Everything declared durable, as of the last clean or unclean stop. */
  loadDefinitions(): Definitions;
  putExchange(def: ExchangeDefinition): void;
  removeExchange(name: string): void;
  putQueue(def: QueueDefinition): void;
  /**
   * Stores with several writers (the cluster store): settles once the definition `putQueue`
   * just wrote for `name` is the stored one, or resolves to the definition another writer
   * stored first with other arguments (a declare race it lost; spec/cluster.md §Declare
   * races). Undefined, or absent, when nothing is in flight: a single-writer store.
   */
  queueStored?(name: string, vhost: string): Promise<QueueDefinition | undefined> | undefined;
  /** Removes the queue's definition and every message and delivery record it had. */
  removeQueue(def: QueueDefinition): void;
  /**
   * Stores a binding under its identity (routing's `bindingKey`, any length: the store
   * turns it into a valid key).
   */
  putBinding(key: string, def: BindingDefinition): void;
  removeBinding(key: string): void;
  /** Next free queue id; ids are never reused. */
  allocateQueueId(): number;

  /**
   * Stores a message of a queue under its publish id `seq` (per queue, increasing: the
   * queue's order). Enqueueing the same id again replaces the message, so a replayed publish
   * never makes a second copy. Every enqueue of one event-loop turn joins one batch.
   */
  enqueue(queueId: number, seq: number, record: MessageRecord, meta: MessageMeta): void;
  /**
   * The message is handed to a consumer; `deliveries` counts this delivery (1 = first).
   * `inOrder` says the queue hands out first deliveries in publish order (no priorities), so
   * every earlier message was claimed or removed before. Returns the new lease token.
   */
  claim(queueId: number, seq: number, deliveries: number, inOrder: boolean): Lease;
  /**
   * A claimed message of `size` body bytes was acknowledged: removed for good. `priority` is
   * its level in a priority queue (see `priorityLevels`).
   */
  ack(queueId: number, seq: number, lease: Lease, size: number, priority?: number): void;
  /**
   * A claimed message goes back to its queue after `deliveries` deliveries; `readyAt` > 0
   * holds it back until then (delayed retry), 0 makes it ready (also: a delay ended).
   * Returns the new lease token.
   */
  release(queueId: number, seq: number, deliveries: number, readyAt: number, lease: Lease): Lease;
  /**
   * Removes a message without an ack (expired, over a length limit, rejected, dead-lettered).
   * A dead-lettered message is dropped in the same turn its copy is enqueued, so both are in
   * one batch and durable together: there is no moment when it is in neither queue. (An
   * engine whose batches are not atomic across queues must hold the drop until the copy is
   * durable; none does today.)
   */
  drop(queueId: number, seq: number, lease: Lease, size: number, priority?: number): void;
  /** A consumer is still working on a claimed message: extend its lease (engines whose leases expire). */
  touch(queueId: number, seq: number, lease: Lease): void;
  /** Removes the given (ready or delayed) messages; claimed ones the queue did not list stay. */
  purge(queueId: number, refs: Iterable<StoredRef>): void;
  /**
   * Removes every message of a queue from sequence `fromSeq` on (the unread tail of a deep
   * queue, purged): none of them is claimed. `removed` is what the queue counted there.
   */
  dropFrom(queueId: number, fromSeq: number, removed: QueueStoreStats): void;
  /**
   * Optional (engines that can window a priority queue): marks queue `queueId` as having
   * priority levels 0..`maxPriority`, so its messages are also indexed by (level, sequence),
   * and returns the stored messages and bytes of each level (kept counts: no scan). A queue
   * stored before the index existed gets it built once, here. Call before its first enqueue.
   * spec/semantics.md §Deep backlogs.
   */
  priorityLevels?(queueId: number, maxPriority: number): QueueStoreStats[];
  /**
   * Optional: the stored messages of a queue held back for a delayed retry (`release` with a
   * `readyAt`), as `scan` reports them, without scanning the queue's other messages (LMDB
   * reads its delivery records only). A restart holds them back at once, wherever they are.
   */
  heldBack?(queueId: number): RecoveredEntry[];
  /** Optional, with `priorityLevels`: `scan` restricted to one priority level. */
  scanLevel?(queueId: number, priority: number, fromSeq: number, limit: number): RecoveredEntry[];
  /** Optional, with `priorityLevels`: `dropFrom` restricted to one priority level. */
  dropLevelFrom?(queueId: number, priority: number, fromSeq: number, removed: QueueStoreStats): void;
  /** Stored messages and bytes of a queue (kept counts: no scan). */
  stats(queueId: number): QueueStoreStats;
  /** The queue's counts and last sequence (restart), without reading its messages. */
  position(queueId: number): QueuePosition;
  /**
   * Up to `limit` stored messages of a queue with sequence `fromSeq` or higher, in sequence
   * order, without bodies: how a deep queue refills its in-memory window, chunk by chunk.
   * Sees committed writes only.
   */
  scan(queueId: number, fromSeq: number, limit: number): RecoveredEntry[];
  /** Reads a stored message body and envelope, synchronously. */
  read(queueId: number, seq: number): MessageRecord | undefined;
  /**
   * Optional: the stored messages with sequences `fromSeq..toSeq`, in order, bodies included,
   * at most `limit` of them and stopping once `maxBytes` of bodies were read (at least one):
   * one range read instead of a read per message (stream replay). Sees committed writes only.
   */
  readRange?(queueId: number, fromSeq: number, toSeq: number, limit: number, maxBytes: number): StoredMessage[];
  /** Every stored message of a queue, in sequence order, without bodies (restart). */
  recover(queueId: number): RecoveredEntry[];

  /** The delayed messages (`x-delay`) of a vhost. */
  delayed(vhost: string): DelayedMessageStore;

  /** Remembers a deduplication id of a queue or exchange (`scope`) until `expiresAt`. */
  putDedup(scope: string, id: string, expiresAt: number): void;
  removeDedup(scope: string, id: string): void;
  /**
   * Forgets every deduplication id of a scope. `removeQueue` does it for the queue's own
   * scope (queueDedupScope); a store that keeps scopes under other names (a vhost's scoped
   * view) calls this for them.
   */
  removeDedupScope?(scope: string): void;
  /** Every remembered deduplication id of a scope, with its expiry. */
  loadDedup(scope: string): [string, number][];

  /** Resolves once every write issued so far is durable on disk; resolves in call order. */
  durable(): Promise<void>;
  /** Bytes of message records written since the last call (optional; feeds the disk alarm). */
  takePendingBytes?(): number;
  /**
   * Bytes of message records written and not yet durable (optional; feeds the disk alarm:
   * free space on the file system does not show them until their commit reaches the disk).
   */
  unflushedBytes?(): number;
  /** Approximate size of the store on disk, in bytes. */
  sizeBytes(): number;
  /** Optional: messages arrive by pull (replicated engines); see `PulledQueues`. */
  readonly pull?: PulledQueues;
  /** Flushes and closes. */
  close(): Promise<void>;
}

/** The deduplication scope of a queue's `x-deduplication-window`: its ids live and go with it. */
export function queueDedupScope(queueId: number): string {
  return `q:${queueId}`;
}
