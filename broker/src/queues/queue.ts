import { BrokerError, ErrorCode, type FieldTable, type MessageProperties } from '@switchyard/client/protocol';
import { queueDedupScope, type MessageRecord, type QueueStore, type RecoveredEntry } from '../store/store.js';
import { DeadlineTimer, type Clock } from './clock.js';
import type { QueueConsumer } from './consumer.js';
import { ConsumerSet } from './consumer-set.js';
import type { DeathReason } from './dead-letter.js';
import { DedupWindow, dedupIdOf } from './dedup-window.js';
import type { QueueEntry } from './entry.js';
import { MinHeap } from './min-heap.js';
import { parseQueueArguments, type QueuePolicy } from './queue-arguments.js';
import { ReadyQueue } from './ready-queue.js';
import { retryDelay } from './retry-policy.js';
import { expiryOf, parseExpiration } from './ttl.js';
import { clusterRefusal } from './cluster-refusals.js';

/**
 * Bodies of persistent messages a queue keeps in memory after they are durable. Beyond
 * this a backlog lives in LMDB and costs only its index entries in memory.
 */
const RESIDENT_BUDGET_BYTES = 4 * 1024 * 1024;

/**
 * The in-memory window of a deep queue (spec/semantics.md §Deep backlogs): once this many
 * ready messages are in memory, further persistent messages of a durable queue without
 * priorities stay on disk only (counted, not indexed) and are read back in key order, in
 * chunks of WINDOW_CHUNK, whenever fewer than WINDOW_LOW are ready in memory.
 */
export const WINDOW_MAX = 4096;
const WINDOW_LOW = 1024;
const WINDOW_CHUNK = 2048;
/**
 * A priority queue's window: WINDOW_MAX ready messages in all, and each level with an unread
 * tail is read back in its own key order (the store's priority index) in chunks of
 * LEVEL_CHUNK whenever fewer than LEVEL_LOW of that level are ready in memory.
 */
export const LEVEL_LOW = 256;
const LEVEL_CHUNK = 512;
/**
 * What a starting broker reads of each windowed level: enough for the heads (expiry timer,
 * first deliveries); the first dispatch or get reads on in full chunks. A full chunk per
 * queue at start would make start-up grow with the number of deep queues (2,048 entries
 * each: about 16 ms per queue here).
 */
export const RECOVER_CHUNK = 64;
/** Pulled queues (cluster): messages a node reads ahead per queue for its consumers. */
const PULL_WINDOW = 256;

/** The unread, on-disk-only tail of one priority level (the only level of a plain queue). */
interface DiskTail {
  /** Stored messages of the level from this sequence on are on disk only (undefined: none are). */
  from: number | undefined;
  count: number;
  bytes: number;
  /**
   * Messages of the level beyond its tail's start that are in memory, in sequence order:
   * transient ones that arrived after the tail began, and delayed retries held back since a
   * restart whose delay ended before the window reached them. Admitted as the window passes.
   */
  later: QueueEntry[];
  /** A refill found nothing committed yet; it is retried once the store is durable. */
  waiting: boolean;
  /** The last refill was a retry after a commit and still found nothing: the count is off. */
  scannedEmpty: boolean;
}

function emptyTail(): DiskTail {
  return { from: undefined, count: 0, bytes: 0, later: [], waiting: false, scannedEmpty: false };
}

/**
 * Expired messages a queue removes (dead-letters or drops) per event-loop turn at most; the
 * rest continue in the next turn, so a deep queue whose messages all expired at once does
 * not hold the event loop (other connections are served in between). spec/semantics.md
 * §Deep backlogs.
 */
export const EXPIRE_PER_TURN = 1000;

/** How a queue was declared. */
export interface QueueSettings {
  name: string;
  id: number;
  durable: boolean;
  autoDelete: boolean;
  /** Owning connection id for exclusive queues. */
  exclusiveOwner: string | undefined;
  arguments: FieldTable;
}

/** What a queue needs from its surroundings; injected so the queue stays free of I/O. */
export interface QueueEnvironment {
  /** Persistence for durable queues; undefined for transient ones. */
  store: QueueStore | undefined;
  clock: Clock;
  /** Routes a dead-lettered copy through the queue's DLX (synchronously). */
  deadLetter(queue: Queue, record: MessageRecord, reason: DeathReason): void;
  /** An auto-delete queue lost its last consumer, or an `x-expires` queue went unused. */
  remove(queue: Queue, reason: string): void;
}

/** Counters for management and metrics. */
export interface QueueCounters {
  published: number;
  delivered: number;
  redelivered: number;
  acked: number;
  /** Messages this queue dead-lettered (rejected, expired, maxlen, delivery_limit). */
  deadLettered: number;
  /** Messages dropped without a dead-letter exchange (expired, maxlen, rejected, limit). */
  dropped: number;
}

/** What became of a published message in this queue. */
export type EnqueueOutcome = 'queued' | 'rejected' | 'duplicate';

/**
 * One queue: ready messages (by priority, then sequence), messages held back for a delayed
 * retry, the count out with consumers, the consumers, and the policies RabbitMQ's queue
 * arguments name: TTL, length limits, dead-lettering, delivery limits, retry delays,
 * deduplication and queue expiry. Persistence and time come from the injected environment;
 * nothing here touches a socket. spec/semantics.md §Queues and delivery and §Reliability policies.
 */
export class Queue {
  readonly name: string;
  readonly id: number;
  readonly durable: boolean;
  readonly autoDelete: boolean;
  readonly exclusiveOwner: string | undefined;
  readonly arguments: FieldTable;
  readonly policy: QueuePolicy;
  readonly counters: QueueCounters = {
    published: 0,
    delivered: 0,
    redelivered: 0,
    acked: 0,
    deadLettered: 0,
    dropped: 0,
  };

  private readonly ready: ReadyQueue<QueueEntry>;
  private readonly delayed = new MinHeap<QueueEntry>((e) => e.readyAt);
  private readonly consumerSet: ConsumerSet;
  private readonly dedup: DedupWindow | undefined;
  private readonly store: QueueStore | undefined;
  private readonly clock: Clock;
  private readonly expiryTimer: DeadlineTimer;
  private readonly delayTimer: DeadlineTimer;
  private readonly unusedTimer: DeadlineTimer;
  private readyBytesTotal = 0;
  private unackedCount = 0;
  private nextSeq = 1;
  private dispatching = false;
  private pendingRelease: QueueEntry[] = [];
  /** Bytes of stored messages whose bodies are still held in memory. */
  private residentBytes = 0;
  private lastUsedAt: number;
  private deleted = false;
  /**
   * Keeps a bounded window in memory and the rest on disk (durable queue with a store; with
   * priorities, only on a store that indexes them: `priorityLevels`).
   */
  private readonly windowed: boolean;
  /** The on-disk tail of each priority level (one for a queue without priorities). */
  private tails: DiskTail[];
  private readonly levelLow: number;
  /**
   * Delayed retries beyond the window, held back at restart already (`heldBack`): the window
   * skips them when it reaches them.
   */
  private heldEarly = new Set<number>();
  /** Expired messages removed in the current event-loop turn (EXPIRE_PER_TURN). */
  private expiredInTurn = 0;
  /** The turn's expiry budget ran out with expired messages left: continue next turn. */
  private expiryPending = false;
  private readonly levelChunk: number;
  /**
   * Messages arrive by pull from a replicated store (store.ts `PulledQueues`): `enqueue` only
   * publishes and the store hands messages over as consumers have room. spec/cluster.md.
   */
  private readonly pulled: boolean;

  constructor(
    settings: QueueSettings,
    private readonly env: QueueEnvironment,
  ) {
    this.name = settings.name;
    this.id = settings.id;
    this.durable = settings.durable;
    this.autoDelete = settings.autoDelete;
    this.exclusiveOwner = settings.exclusiveOwner;
    this.arguments = settings.arguments;
    this.policy = parseQueueArguments(settings.name, settings.arguments);
    this.store = env.store;
    this.clock = env.clock;
    this.ready = new ReadyQueue(this.policy.maxPriority);
    const maxPriority = this.policy.maxPriority;
    this.pulled = this.durable && this.store?.pull !== undefined;
    const refusal = this.pulled ? clusterRefusal(this.policy, this.autoDelete) : undefined;
    if (refusal !== undefined)
      throw new BrokerError(ErrorCode.PRECONDITION_FAILED, `queue '${settings.name}': ${refusal}`);
    this.windowed =
      !this.pulled &&
      this.durable &&
      this.store !== undefined &&
      (maxPriority === 0 || (this.store.priorityLevels !== undefined && this.store.scanLevel !== undefined));
    // Registers the queue's levels with the store before its first enqueue (index kept from then on).
    if (this.windowed && maxPriority > 0) this.store!.priorityLevels!(this.id, maxPriority);
    this.tails = Array.from({ length: maxPriority + 1 }, emptyTail);
    this.levelLow = maxPriority === 0 ? WINDOW_LOW : LEVEL_LOW;
    this.levelChunk = maxPriority === 0 ? WINDOW_CHUNK : LEVEL_CHUNK;
    this.consumerSet = new ConsumerSet(this.policy.singleActiveConsumer, (c) => this.consumerGroup(c));
    if (this.policy.dedupWindowMs !== undefined) this.dedup = new DedupWindow(this.policy.dedupWindowMs);
    this.expiryTimer = new DeadlineTimer(this.clock, () => this.expireHeads());
    this.delayTimer = new DeadlineTimer(this.clock, () => this.releaseDue());
    this.unusedTimer = new DeadlineTimer(this.clock, () => this.checkUnused());
    this.lastUsedAt = this.clock.now();
    this.touch();
  }

  // ---- read-only views -------------------------------------------------------------

  /** Ready messages (what AMQP's declare-ok reports). */
  get messageCount(): number {
    let n = this.ready.size;
    for (const t of this.tails) n += t.count + t.later.length;
    return n;
  }

  /**
   * Messages this queue holds an index entry for in memory (ready window, delayed, transient
   * beyond the window); what is out with consumers is the channels'. Bounded for a deep
   * queue: for tests and metrics.
   */
  get inMemoryEntries(): number {
    let n = this.ready.size + this.delayed.size;
    for (const t of this.tails) n += t.later.length;
    return n;
  }

  /** Messages held back by a delayed retry. */
  get delayedCount(): number {
    return this.delayed.size;
  }

  get readyBytes(): number {
    return this.readyBytesTotal;
  }

  get unacked(): number {
    return this.unackedCount;
  }

  get consumerCount(): number {
    return this.consumerSet.size;
  }

  /**
   * The single-active-consumer group of a consumer: one for the whole queue; a stream groups
   * by reader name (`x-stream-reader`). Must not depend on subclass fields (called from the
   * base constructor's consumer set).
   */
  protected consumerGroup(_consumer: QueueConsumer): string {
    return '';
  }

  /** With single active consumer: whether `consumer` is the one served (of its group). */
  protected isActiveConsumer(consumer: QueueConsumer): boolean {
    return this.consumerSet.isActive(consumer);
  }

  get consumers(): readonly QueueConsumer[] {
    return this.consumerSet.values();
  }

  get isDeleted(): boolean {
    return this.deleted;
  }

  /**
   * Expired messages at the head are left for the next turn (EXPIRE_PER_TURN): an empty
   * take() now does not mean an empty queue, so basic.get asks again then.
   */
  get expiryDeferred(): boolean {
    return this.expiryPending;
  }

  /**
   * Age in ms of the oldest ready message (0 when none): the consumer lag in time. A
   * requeued message counts from when it was first enqueued.
   */
  oldestReadyAgeMs(now: number): number {
    let oldest = Infinity;
    for (const h of this.ready.heads()) oldest = Math.min(oldest, h.enqueuedAt);
    return oldest === Infinity ? 0 : Math.max(0, now - oldest);
  }

  // ---- recovery ----------------------------------------------------------------------

  /**
   * Picks up the stored messages after a restart: a windowed queue reads its kept counts (per
   * priority level too) and only the first window of messages (the rest is read as the window
   * drains); a queue that cannot be windowed reads all of them. spec/semantics.md §Deep backlogs.
   */
  recover(): void {
    const store = this.store;
    if (store === undefined) return;
    const pos = store.position(this.id);
    this.nextSeq = pos.lastSeq + 1;
    if (this.windowed) {
      const levels = this.policy.maxPriority === 0 ? [pos] : store.priorityLevels!(this.id, this.policy.maxPriority);
      levels.forEach((l, p) => {
        if (l.messages <= 0) return;
        const t = this.tails[p]!;
        t.from = 0;
        t.count = l.messages;
        t.bytes = l.bytes;
        this.readyBytesTotal += l.bytes;
      });
      this.holdBackEarly();
      this.refill(RECOVER_CHUNK);
    } else {
      const now = this.clock.now();
      for (const e of store.scan(this.id, 0, Infinity)) this.admit(e, now);
    }
    if (this.dedup !== undefined && this.store !== undefined) {
      for (const [id, at] of this.store.loadDedup(this.dedupScope)) this.dedup.restore(id, at);
    }
    this.armExpiry();
  }

  /**
   * After a restart, the messages waiting for a delayed retry wait in memory again at once
   * (as before the stop), so `delayedCount` and the ready count are right the moment the
   * broker answers, however deep they are. spec/semantics.md §Deep backlogs.
   */
  private holdBackEarly(): void {
    const now = this.clock.now();
    for (const e of this.store!.heldBack?.(this.id) ?? []) {
      if (e.readyAt <= now) continue; // due: ready where it is, read with the window
      const p = Math.min(e.priority, this.policy.maxPriority);
      const t = this.tails[p]!;
      if (t.from === undefined || e.seq < t.from) continue;
      t.count--;
      t.bytes -= e.size;
      this.readyBytesTotal -= e.size;
      this.heldEarly.add(e.seq);
      this.admit(e, now);
    }
  }

  /** A message read from the store becomes ready, or delayed while its retry is not due. */
  private admit(e: RecoveredEntry, now: number): void {
    const entry: QueueEntry = {
      seq: e.seq,
      size: e.size,
      stored: true,
      deliveries: e.deliveries,
      enqueuedAt: now,
      priority: Math.min(e.priority, this.policy.maxPriority),
      expiresAt: e.expiresAt,
      readyAt: e.readyAt,
      lease: e.lease,
      record: undefined,
    };
    if (entry.readyAt > now) {
      this.delayed.push(entry);
      this.delayTimer.armAt(entry.readyAt);
    } else {
      entry.readyAt = 0;
      this.pushReady(entry);
    }
  }

  /**
   * Reads the next chunk of each level's on-disk tail into the window when that level runs
   * low. Each read is one bounded LMDB range read (a chunk of keys, no bodies), so the event
   * loop is never held for long. Only committed messages are seen: if a tail is all in the
   * current, uncommitted batch, its refill is retried once the store is durable.
   */
  private refill(chunk = this.levelChunk): void {
    if (!this.windowed || this.deleted) return;
    for (let p = this.tails.length - 1; p >= 0; p--) if (this.tails[p]!.from !== undefined) this.refillLevel(p, chunk);
  }

  private refillLevel(p: number, chunk: number): void {
    const t = this.tails[p]!;
    if (t.from === undefined || t.waiting || this.ready.levelSize(p) >= this.levelLow) return;
    const got =
      this.policy.maxPriority === 0
        ? this.store!.scan(this.id, t.from, chunk)
        : this.store!.scanLevel!(this.id, p, t.from, chunk);
    const now = this.clock.now();
    for (const e of got) {
      if (this.heldEarly.delete(e.seq)) continue; // waiting in memory already
      t.count--;
      t.bytes -= e.size;
      this.readyBytesTotal -= e.size; // counted again by pushReady, or not at all while delayed
      this.admitTransientsBefore(t, e.seq);
      this.admit(e, now);
    }
    if (got.length > 0) t.from = got[got.length - 1]!.seq + 1;
    if (t.count <= 0 || (got.length === 0 && t.count > 0 && t.scannedEmpty)) {
      // All read (a count that disagrees with what is there is corrected, not waited on).
      this.readyBytesTotal -= t.bytes;
      t.from = undefined;
      t.count = 0;
      t.bytes = 0;
      t.scannedEmpty = false;
      this.admitTransientsBefore(t, Infinity);
    } else if (got.length === 0) {
      t.waiting = true;
      this.store!.durable().then(
        () => this.retryRefill(t),
        () => this.retryRefill(t),
      );
    } else t.scannedEmpty = false;
  }

  private retryRefill(t: DiskTail): void {
    t.waiting = false;
    t.scannedEmpty = true;
    try {
      this.refill();
      this.dispatch();
    } catch {
      // The store was closed meanwhile (broker shutdown): the tail stays on disk for the next start.
    }
  }

  /**
   * True when a level above the ready head has an unread tail but nothing of it in memory
   * (its refill waits for a commit): serving the lower level now would break priority order.
   */
  private headBlocked(): boolean {
    for (let p = this.tails.length - 1; p >= 0; p--) {
      if (this.ready.levelSize(p) > 0) return false;
      if (this.tails[p]!.from !== undefined) return true;
    }
    return false;
  }

  private admitTransientsBefore(t: DiskTail, seq: number): void {
    let n = 0;
    while (n < t.later.length && t.later[n]!.seq < seq) this.ready.requeue(t.later[n++]!);
    if (n > 0) t.later.splice(0, n);
  }

  private get dedupScope(): string {
    return queueDedupScope(this.id);
  }

  // ---- publishing --------------------------------------------------------------------

  /**
   * Adds a routed message. Persistent messages of a durable queue are written to the store.
   * Returns `duplicate` for a messageId seen within the dedup window (not enqueued) and
   * `rejected` when a reject-publish length limit refuses it.
   */
  enqueue(
    exchange: string,
    routingKey: string,
    properties: MessageProperties | null,
    content: Uint8Array,
    /** The parsed `expiration` property: the publish path parses it once per message. */
    expirationMs: number | undefined = parseExpiration(properties?.expiration),
  ): EnqueueOutcome {
    const now = this.clock.now();
    const p = this.policy;
    const record: MessageRecord = { exchange, routingKey, properties, content };
    const messageId = dedupIdOf(properties);
    if (this.dedup !== undefined && messageId !== undefined) {
      this.pruneDedup(now);
      if (this.dedup.has(messageId, now)) return 'duplicate';
    }
    if (p.overflow !== 'drop-head' && this.wouldOverflow(1, content.length)) {
      if (p.overflow === 'reject-publish-dlx') this.deadLetterRecord(record, 'maxlen');
      return 'rejected';
    }
    if (this.dedup !== undefined && messageId !== undefined) {
      const at = this.dedup.remember(messageId, now);
      if (this.durable && this.store !== undefined) this.store.putDedup(this.dedupScope, messageId, at);
    }
    if (this.pulled) return this.publishToStore(record, now, expirationMs);
    const stored = this.durable && this.store !== undefined && properties?.persistent === true;
    // `content` may be a view into the socket's read buffer. A stored message's in-memory
    // copy is short-lived (dropped once durable), so it keeps the view; a message that lives
    // only in memory gets its own copy, so it does not pin the whole read buffer.
    if (!stored) record.content = Uint8Array.prototype.slice.call(content);
    const priority = p.maxPriority > 0 ? clampPriority(properties?.priority, p.maxPriority) : 0;
    const expiresAt = expiryOf(now, p.messageTtlMs, expirationMs);
    const entry: QueueEntry = {
      seq: this.nextSeq++,
      size: content.length,
      stored,
      deliveries: 0,
      enqueuedAt: now,
      priority,
      expiresAt,
      readyAt: 0,
      lease: 0,
      record,
    };
    if (stored) this.store.enqueue(this.id, entry.seq, record, { expiresAt, priority });
    this.counters.published++;
    const tail = this.tails[priority]!;
    if (
      stored &&
      this.windowed &&
      (tail.from !== undefined || (this.ready.size >= WINDOW_MAX && this.ready.levelSize(priority) >= this.levelLow))
    ) {
      // Beyond the window: on disk only, read back in key order when the window drains. A
      // level keeps at least its low mark in memory, so a new tail is never all uncommitted
      // while its level is empty (see headBlocked).
      tail.from ??= entry.seq;
      tail.count++;
      tail.bytes += entry.size;
      this.readyBytesTotal += entry.size;
    } else if (!stored && tail.from !== undefined) {
      tail.later.push(entry);
      this.readyBytesTotal += entry.size;
    } else {
      if (stored) {
        this.residentBytes += entry.size;
        this.scheduleRelease(entry);
      }
      this.pushReady(entry);
    }
    if (p.overflow === 'drop-head') this.dropHeadsOverLimit();
    this.dispatch();
    if (expiresAt !== 0) this.expiryTimer.armAt(expiresAt);
    return 'queued';
  }

  /**
   * Pulled queues: every message (persistent or not: the nearest behaviour, spec/cluster.md)
   * goes to the store only; it comes back by pull to whichever node has a consumer with room.
   */
  private publishToStore(record: MessageRecord, now: number, expirationMs: number | undefined): EnqueueOutcome {
    const p = this.policy;
    const priority = p.maxPriority > 0 ? clampPriority(record.properties?.priority, p.maxPriority) : 0;
    const expiresAt = expiryOf(now, p.messageTtlMs, expirationMs);
    this.store!.enqueue(this.id, this.nextSeq++, record, { expiresAt, priority });
    this.counters.published++;
    return 'queued';
  }

  /** What a pulled queue's store asks and hands over (store.ts `PullSink`). */
  private readonly sink = {
    credit: (): number => (this.consumerSet.size > 0 && !this.deleted ? PULL_WINDOW - this.ready.size : 0),
    deliver: (e: RecoveredEntry): void => {
      const now = this.clock.now();
      this.admit(e, now);
      this.dispatch();
      if (e.expiresAt !== 0) this.expiryTimer.armAt(e.expiresAt);
    },
  };

  private pushReady(entry: QueueEntry): void {
    this.ready.push(entry);
    this.readyBytesTotal += entry.size;
  }

  private wouldOverflow(count: number, bytes: number): boolean {
    const p = this.policy;
    return (
      (p.maxLength !== undefined && this.messageCount + count > p.maxLength) ||
      (p.maxLengthBytes !== undefined && this.readyBytesTotal + bytes > p.maxLengthBytes)
    );
  }

  private dropHeadsOverLimit(): void {
    while (this.wouldOverflow(0, 0)) {
      this.refill();
      const head = this.ready.shift();
      if (head === undefined) break;
      this.readyBytesTotal -= head.size;
      this.deadLetterEntry(head, 'maxlen');
    }
  }

  private pruneDedup(now: number): void {
    const gone = this.dedup!.prune(now);
    if (gone.length > 0 && this.durable && this.store !== undefined)
      for (const id of gone) this.store.removeDedup(this.dedupScope, id);
  }

  private scheduleRelease(entry: QueueEntry): void {
    this.pendingRelease.push(entry);
    if (this.pendingRelease.length === 1) setImmediate(this.releaseWritten);
  }

  /**
   * Once a turn's writes are durable the bodies live in LMDB: drop the in-memory copies so a
   * backlog costs only its index entries. The batch is cut before asking for the durability
   * point, so it never includes an entry written after it (whose write may not be visible).
   */
  private readonly releaseWritten = (): void => {
    const batch = this.pendingRelease;
    this.pendingRelease = [];
    this.store!.durable().then(
      () => {
        // The head of a queue that keeps up stays in memory (no LMDB read per delivery);
        // only what exceeds the budget — a growing backlog — is left to the store. A body kept
        // in memory gets its own copy now, so it stops pinning the socket's read buffer.
        for (const e of batch) {
          if (e.record === undefined) continue;
          if (this.residentBytes > RESIDENT_BUDGET_BYTES) this.dropResident(e);
          else e.record = { ...e.record, content: Uint8Array.prototype.slice.call(e.record.content) };
        }
      },
      () => {
        // A failed commit keeps bodies in memory; the confirm path reports the failure.
      },
    );
  };

  private dropResident(entry: QueueEntry): void {
    if (entry.stored && entry.record !== undefined) {
      entry.record = undefined;
      this.residentBytes -= entry.size;
    }
  }

  /** Body and envelope of an entry, from memory or the store. */
  recordOf(entry: QueueEntry): MessageRecord | undefined {
    return entry.record ?? this.store?.read(this.id, entry.seq);
  }

  // ---- consumers and dispatch --------------------------------------------------------

  /** Throws the BrokerError `addConsumer` would, without adding: 405 / 403 for exclusivity. */
  /**
   * basic.consume against exclusive consumers: RabbitMQ refuses both a consumer on a queue
   * held by an exclusive consumer and an exclusive consumer on a queue that has consumers with
   * 403 ACCESS_REFUSED "queue 'q' in vhost 'v' in exclusive use" (spec/semantics.md §Consumers and dispatch).
   */
  checkConsumer(consumer: { exclusive: boolean }, vhost?: string): void {
    if (this.consumerSet.hasExclusive() || (consumer.exclusive && this.consumerSet.size > 0)) {
      const where = vhost === undefined ? '' : ` in vhost '${vhost}'`;
      const why =
        consumer.exclusive && !this.consumerSet.hasExclusive()
          ? 'it already has consumers'
          : 'it has an exclusive consumer; wait until it is cancelled';
      throw new BrokerError(ErrorCode.ACCESS_REFUSED, `queue '${this.name}'${where} in exclusive use: ${why}`);
    }
  }

  addConsumer(consumer: QueueConsumer): void {
    this.checkConsumer(consumer);
    this.consumerSet.add(consumer);
    this.touch();
    if (this.pulled) this.store!.pull!.attach(this.id, this.sink);
    this.dispatch();
  }

  removeConsumer(consumer: QueueConsumer): void {
    if (!this.consumerSet.remove(consumer)) return;
    this.touch();
    if (this.consumerSet.size > 0) this.dispatch();
    else if (this.pulled && !this.deleted)
      // No consumer here any more: what this node pulled goes back to the stream for others.
      this.store!.pull!.giveBack(
        this.id,
        this.ready.drain().map((e) => {
          this.readyBytesTotal -= e.size;
          return e.seq;
        }),
      );
    if (this.consumerSet.size === 0 && this.autoDelete && !this.deleted)
      this.env.remove(this, `auto-delete queue '${this.name}' lost its last consumer`);
  }

  /**
   * Hands ready messages to consumers with room. Expired heads are dead-lettered or dropped
   * on the way, so an expired message is never delivered. Re-entrant calls (a consumer
   * acking synchronously) are folded into the running loop.
   */
  dispatch(): void {
    if (this.dispatching || this.deleted) return;
    this.dispatching = true;
    try {
      const now = this.clock.now();
      for (;;) {
        this.refill();
        const head = this.ready.peek();
        if (head === undefined || this.headBlocked()) break;
        // Strictly after its expiry: a message with TTL 0 still reaches a consumer that is
        // ready the moment it arrives, as in RabbitMQ; the expiry timer removes it otherwise.
        if (head.expiresAt !== 0 && head.expiresAt < now) {
          if (!this.mayExpire()) break;
          this.ready.shift();
          this.readyBytesTotal -= head.size;
          this.deadLetterEntry(head, 'expired');
          continue;
        }
        const consumer = this.consumerSet.pick();
        if (consumer === undefined) break;
        const taken = this.takeHead();
        if (taken !== undefined) consumer.take(this, taken.entry, taken.record);
      }
    } finally {
      this.dispatching = false;
    }
    if (this.pulled) this.store!.pull!.wake(this.id);
    this.armExpiry();
  }

  private takeHead(): { entry: QueueEntry; record: MessageRecord } | undefined {
    const entry = this.ready.shift()!;
    this.readyBytesTotal -= entry.size;
    const record = this.recordOf(entry);
    if (record === undefined) return undefined; // removed underneath us (queue purged or deleted)
    this.unackedCount++;
    this.markDelivered(entry);
    return { entry, record };
  }

  private markDelivered(entry: QueueEntry): void {
    this.counters.delivered++;
    if (entry.deliveries > 0) this.counters.redelivered++;
    // A priority queue hands out first deliveries out of publish order; the store records
    // a delivery as it sees fit (spec/semantics.md §Acknowledgements and redelivery).
    if (entry.stored)
      entry.lease = this.store!.claim(this.id, entry.seq, entry.deliveries + 1, this.policy.maxPriority === 0);
  }

  /** Takes the next ready message for basic.get, or undefined when empty. */
  take(): { entry: QueueEntry; record: MessageRecord } | undefined {
    this.touch();
    const now = this.clock.now();
    for (;;) {
      this.refill();
      const head = this.ready.peek();
      if (head === undefined || this.headBlocked()) break;
      if (head.expiresAt !== 0 && head.expiresAt <= now) {
        // Beyond the turn's budget: nothing for now (expiryDeferred says so).
        if (!this.mayExpire()) break;
        this.ready.shift();
        this.readyBytesTotal -= head.size;
        this.deadLetterEntry(head, 'expired');
        continue;
      }
      const taken = this.takeHead();
      if (taken !== undefined) return taken;
    }
    return undefined;
  }

  /**
   * Reads up to `count` ready messages from the head, in delivery order, without taking them:
   * no delivery is counted, nothing is marked redelivered or written, `x-delivery-limit` is
   * not approached. Expired messages are skipped (the expiry timer removes them).
   * spec/management.md §Queue (Get).
   */
  peek(count: number): { entry: QueueEntry; record: MessageRecord }[] {
    const now = this.clock.now();
    const out: { entry: QueueEntry; record: MessageRecord }[] = [];
    // Asking for a few more than `count` covers expired heads without scanning the queue.
    for (const entry of this.ready.first(count + 64)) {
      if (out.length === count) break;
      if (entry.expiresAt !== 0 && entry.expiresAt <= now) continue;
      const record = this.recordOf(entry);
      if (record !== undefined) out.push({ entry, record });
    }
    return out;
  }

  // ---- settling ----------------------------------------------------------------------

  /** A delivered message was acknowledged. */
  settle(entry: QueueEntry): void {
    this.unackedCount--;
    this.counters.acked++;
    this.dropResident(entry);
    if (entry.stored && !this.deleted) this.store!.ack(this.id, entry.seq, entry.lease, entry.size, entry.priority);
  }

  /** Removes a message for good without an ack (expired, limits, rejected, dead-lettered, purged). */
  private forget(entry: QueueEntry): void {
    this.dropResident(entry);
    if (entry.stored && !this.deleted) this.store!.drop(this.id, entry.seq, entry.lease, entry.size, entry.priority);
  }

  /** Delivered messages were rejected without requeue: dead-lettered (reason `rejected`) or dropped. */
  reject(entries: readonly QueueEntry[]): void {
    for (const entry of entries) {
      this.unackedCount--;
      this.deadLetterEntry(entry, 'rejected');
    }
  }

  /**
   * Delivered messages come back (nack/reject with requeue, or channel closed): each returns
   * to its original position with one more delivery counted — unless that exceeds
   * `x-delivery-limit` (then it is dead-lettered), or a delay applies (`delayMs`, or the
   * queue's `x-retry-delays` for explicit nacks), in which case it waits first.
   */
  requeue(entries: readonly QueueEntry[], options: { explicit?: boolean; delayMs?: number } = {}): void {
    const now = this.clock.now();
    for (const entry of entries) {
      this.unackedCount--;
      if (this.deleted) continue;
      entry.deliveries++;
      const limit = this.policy.deliveryLimit;
      if (limit !== undefined && entry.deliveries > limit) {
        this.deadLetterEntry(entry, 'delivery_limit');
        continue;
      }
      const retry = this.policy.retry;
      const delay =
        options.delayMs ?? (options.explicit === true && retry !== undefined ? retryDelay(retry, entry.deliveries) : 0);
      if (delay > 0) {
        entry.readyAt = now + delay;
        if (entry.stored)
          entry.lease = this.store!.release(this.id, entry.seq, entry.deliveries, entry.readyAt, entry.lease);
        this.delayed.push(entry);
        this.delayTimer.armAt(entry.readyAt);
        continue;
      }
      if (entry.stored) entry.lease = this.store!.release(this.id, entry.seq, entry.deliveries, 0, entry.lease);
      this.ready.requeue(entry);
      this.readyBytesTotal += entry.size;
    }
    this.dispatch();
  }

  /** Delayed retries that are due become ready again, at their original position. */
  private releaseDue(): void {
    const now = this.clock.now();
    for (let e = this.delayed.peek(); e !== undefined && e.readyAt <= now; e = this.delayed.peek()) {
      this.delayed.pop();
      e.readyAt = 0;
      if (e.stored) e.lease = this.store!.release(this.id, e.seq, e.deliveries, 0, e.lease);
      this.readyBytesTotal += e.size;
      const t = this.tails[e.priority]!;
      // Held back since a restart beyond the window: it waits for the window to reach it.
      if (t.from !== undefined && e.seq >= t.from) insertBySeq(t.later, e);
      else this.ready.requeue(e);
    }
    const next = this.delayed.peek();
    if (next !== undefined) this.delayTimer.armAt(next.readyAt);
    this.dispatch();
  }

  // ---- expiry and dead-lettering -----------------------------------------------------

  /** Arms the expiry timer for the earliest-expiring head (messages expire at the head, as in RabbitMQ). */
  private armExpiry(): void {
    // Expired heads are left for the next turn (EXPIRE_PER_TURN), which re-arms after them.
    if (this.expiryPending) return;
    // Runs after every dispatch: indexed, not through heads(), so it allocates nothing.
    for (let p = this.ready.levelCount - 1; p >= 0; p--) {
      const h = this.ready.headAt(p);
      if (h !== undefined && h.expiresAt !== 0) this.expiryTimer.armAt(h.expiresAt);
    }
  }

  private expireHeads(): void {
    if (this.deleted) return;
    const now = this.clock.now();
    let again = true;
    while (again) {
      again = false;
      this.refill();
      for (const h of this.ready.heads()) {
        if (h.expiresAt !== 0 && h.expiresAt <= now) {
          if (!this.mayExpire()) break;
          this.ready.shiftLevel(h.priority);
          this.readyBytesTotal -= h.size;
          this.deadLetterEntry(h, 'expired');
          again = true;
          break;
        }
      }
    }
    this.armExpiry();
  }

  /**
   * Counts one expired message against the turn's budget (EXPIRE_PER_TURN); false when it is
   * spent: the caller stops, and expiry and dispatch continue in the next turn.
   */
  private mayExpire(): boolean {
    if (this.expiredInTurn === 0) setImmediate(this.nextExpiryTurn);
    if (this.expiredInTurn >= EXPIRE_PER_TURN) {
      this.expiryPending = true;
      return false;
    }
    this.expiredInTurn++;
    return true;
  }

  private readonly nextExpiryTurn = (): void => {
    this.expiredInTurn = 0;
    if (!this.expiryPending || this.deleted) return;
    this.expiryPending = false;
    try {
      this.expireHeads();
      this.dispatch();
    } catch {
      // The store was closed meanwhile (broker shutdown): what is left expires after the next start.
    }
  };

  /**
   * Sends a copy through the DLX (if any) and then removes the original: both writes are in
   * the same turn, so the same LMDB transaction — there is no moment when a persistent
   * message is in neither queue.
   */
  private deadLetterEntry(entry: QueueEntry, reason: DeathReason): void {
    const record = this.recordOf(entry);
    if (record !== undefined) this.deadLetterRecord(record, reason);
    this.forget(entry);
  }

  private deadLetterRecord(record: MessageRecord, reason: DeathReason): void {
    if (this.policy.deadLetterExchange !== undefined && !this.deleted) {
      this.counters.deadLettered++;
      this.env.deadLetter(this, record, reason);
    } else {
      this.counters.dropped++;
    }
  }

  // ---- queue lifecycle ---------------------------------------------------------------

  /** Marks the queue as used now (consumers, get, redeclare) for `x-expires`. */
  touch(): void {
    this.lastUsedAt = this.clock.now();
    if (this.policy.expiresMs !== undefined) this.unusedTimer.armAt(this.lastUsedAt + this.policy.expiresMs);
  }

  private checkUnused(): void {
    const expires = this.policy.expiresMs;
    if (expires === undefined || this.deleted) return;
    const idleUntil = this.lastUsedAt + expires;
    if (this.consumerSet.size === 0 && this.clock.now() >= idleUntil)
      this.env.remove(this, `queue '${this.name}' unused for ${expires} ms (x-expires)`);
    else this.unusedTimer.armAt(Math.max(idleUntil, this.clock.now() + expires));
  }

  /** Removes every ready and delayed message; returns how many. Messages out with consumers stay. */
  purge(): number {
    const entries = [...this.ready.drain(), ...this.delayed.clear(), ...this.tails.flatMap((t) => t.later.splice(0))];
    const onDisk = this.tails.reduce((n, t) => n + t.count, 0);
    this.readyBytesTotal = 0;
    for (const e of entries) this.dropResident(e);
    if (this.store !== undefined && !this.deleted) {
      this.store.purge(
        this.id,
        entries.filter((e) => e.stored),
      );
      // The unread tails go by key range, without reading them (none of it is claimed).
      this.tails.forEach((t, p) => {
        if (t.from === undefined) return;
        const removed = { messages: t.count, bytes: t.bytes };
        if (this.policy.maxPriority === 0) this.store!.dropFrom(this.id, t.from, removed);
        else this.store!.dropLevelFrom!(this.id, p, t.from, removed);
      });
    }
    this.tails = this.tails.map(emptyTail);
    this.heldEarly.clear();
    return entries.length + onDisk;
  }

  /** Stops the queue's timers without deleting it (broker shutdown). */
  stopTimers(): void {
    this.expiryPending = false;
    this.expiryTimer.cancel();
    this.delayTimer.cancel();
    this.unusedTimer.cancel();
  }

  /** Deletes the queue: consumers are cancelled, timers stopped. Returns the ready count. */
  delete(reason: string): number {
    const count = this.messageCount;
    this.deleted = true;
    this.stopTimers();
    for (const c of this.consumerSet.clear()) c.cancelledByQueue(this, reason);
    this.ready.drain();
    this.delayed.clear();
    this.tails = this.tails.map(emptyTail);
    this.heldEarly.clear();
    this.readyBytesTotal = 0;
    return count;
  }
}

/** Inserts `entry` into `list` (sorted by sequence) at its place. */
function insertBySeq(list: QueueEntry[], entry: QueueEntry): void {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (list[mid]!.seq < entry.seq) lo = mid + 1;
    else hi = mid;
  }
  list.splice(lo, 0, entry);
}

function clampPriority(p: number | undefined, max: number): number {
  if (p === undefined || !Number.isFinite(p) || p <= 0) return 0;
  return Math.min(Math.floor(p), max);
}
