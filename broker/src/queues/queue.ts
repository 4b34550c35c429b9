import { BrokerError, ErrorCode, type FieldTable, type MessageProperties } from '@switchyard/client/protocol';
import type { MessageRecord, QueueStore, RecoveredEntry } from '../store/store.js';
import type { QueueConsumer } from './consumer.js';
import type { QueueEntry } from './entry.js';
import { parseQueueArguments, type QueuePolicy } from './queue-arguments.js';
import { ReadyList } from './ready-list.js';

/**
 * Bodies of persistent messages a queue keeps in memory after they are durable. Beyond
 * this a backlog lives in LMDB and costs only its index entries in memory.
 */
const RESIDENT_BUDGET_BYTES = 4 * 1024 * 1024;

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

/** Counters for management and metrics. */
export interface QueueCounters {
  published: number;
  delivered: number;
  redelivered: number;
  acked: number;
  /** Messages this queue dead-lettered (rejected, expired, maxlen, delivery_limit). */
  deadLettered: number;
}

/**
 * One queue: the ready list, the count of messages out with consumers, the consumers, and
 * the rules for handing messages out (round-robin among the highest-priority consumers
 * with room). Persistence goes through the injected store; nothing here touches a socket.
 */
export class Queue {
  readonly name: string;
  readonly id: number;
  readonly durable: boolean;
  readonly autoDelete: boolean;
  readonly exclusiveOwner: string | undefined;
  readonly arguments: FieldTable;
  readonly policy: QueuePolicy;
  readonly counters: QueueCounters = { published: 0, delivered: 0, redelivered: 0, acked: 0, deadLettered: 0 };

  private readonly ready = new ReadyList<QueueEntry>();
  private readyBytesTotal = 0;
  private unackedCount = 0;
  private nextSeq = 1;
  private deliveredHwm = 0;
  private readonly consumerList: QueueConsumer[] = [];
  private roundRobin = 0;
  private dispatching = false;
  private pendingRelease: QueueEntry[] = [];
  /** Bytes of stored messages whose bodies are still held in memory. */
  private residentBytes = 0;
  private deleted = false;
  /** Called when an auto-delete queue loses its last consumer. */
  onUnused: ((queue: Queue) => void) | undefined;

  constructor(
    settings: QueueSettings,
    private readonly store: QueueStore | undefined,
  ) {
    this.name = settings.name;
    this.id = settings.id;
    this.durable = settings.durable;
    this.autoDelete = settings.autoDelete;
    this.exclusiveOwner = settings.exclusiveOwner;
    this.arguments = settings.arguments;
    this.policy = parseQueueArguments(settings.name, settings.arguments);
  }

  get messageCount(): number {
    return this.ready.size;
  }

  get readyBytes(): number {
    return this.readyBytesTotal;
  }

  get unacked(): number {
    return this.unackedCount;
  }

  /**
   * Age in ms of the oldest ready message (0 when none): the consumer lag in time. A
   * requeued message counts from when it was first enqueued.
   */
  oldestReadyAgeMs(now: number): number {
    const head = this.ready.peek();
    return head === undefined ? 0 : Math.max(0, now - head.enqueuedAt);
  }

  get consumerCount(): number {
    return this.consumerList.length;
  }

  get consumers(): readonly QueueConsumer[] {
    return this.consumerList;
  }

  get isDeleted(): boolean {
    return this.deleted;
  }

  /** Rebuilds the ready list from the store after a restart, in sequence order. */
  recover(entries: RecoveredEntry[]): void {
    const now = Date.now();
    for (const e of entries) {
      this.ready.push({ seq: e.seq, size: e.size, stored: true, deliveries: e.deliveries, enqueuedAt: now, record: undefined });
      this.readyBytesTotal += e.size;
      this.nextSeq = e.seq + 1;
      if (e.deliveries > 0) this.deliveredHwm = Math.max(this.deliveredHwm, e.seq);
    }
  }

  /** Adds a routed message. Persistent messages of a durable queue are written to the store. */
  enqueue(exchange: string, routingKey: string, properties: MessageProperties | null, content: Uint8Array): void {
    const record: MessageRecord = { exchange, routingKey, properties, content };
    const stored = this.durable && this.store !== undefined && properties?.persistent === true;
    const entry: QueueEntry = { seq: this.nextSeq++, size: content.length, stored, deliveries: 0, enqueuedAt: Date.now(), record };
    if (stored) {
      this.store!.enqueue(this.id, entry.seq, record);
      this.residentBytes += entry.size;
      this.scheduleRelease(entry);
    }
    this.counters.published++;
    this.ready.push(entry);
    this.readyBytesTotal += entry.size;
    this.dispatch();
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
        // only what exceeds the budget — a growing backlog — is left to the store.
        for (const e of batch) if (this.residentBytes > RESIDENT_BUDGET_BYTES) this.dropResident(e);
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

  /** Throws the BrokerError `addConsumer` would, without adding: 405 / 403 for exclusivity. */
  checkConsumer(consumer: { exclusive: boolean }): void {
    if (this.consumerList.some((c) => c.exclusive)) {
      throw new BrokerError(ErrorCode.RESOURCE_LOCKED, `queue '${this.name}' has an exclusive consumer; wait until it is cancelled`);
    }
    if (consumer.exclusive && this.consumerList.length > 0) {
      throw new BrokerError(
        ErrorCode.ACCESS_REFUSED,
        `cannot obtain exclusive access to queue '${this.name}': it already has consumers`,
      );
    }
  }

  addConsumer(consumer: QueueConsumer): void {
    this.checkConsumer(consumer);
    this.consumerList.push(consumer);
    if (this.policy.singleActiveConsumer) consumer.activeStateChanged?.(this.consumerList.length === 1);
    this.dispatch();
  }

  removeConsumer(consumer: QueueConsumer): void {
    const i = this.consumerList.indexOf(consumer);
    if (i < 0) return;
    this.consumerList.splice(i, 1);
    // Single active consumer: the next consumer in registration order takes over.
    if (this.policy.singleActiveConsumer && i === 0 && this.consumerList.length > 0) {
      this.consumerList[0]!.activeStateChanged?.(true);
      this.dispatch();
    }
    if (this.autoDelete && this.consumerList.length === 0 && !this.deleted) this.onUnused?.(this);
  }

  /**
   * Hands ready messages to consumers with room, highest priority first, round-robin among
   * equals. Re-entrant calls (a consumer acking synchronously) are folded into the running loop.
   */
  dispatch(): void {
    if (this.dispatching || this.deleted) return;
    this.dispatching = true;
    try {
      while (this.ready.size > 0) {
        const consumer = this.pickConsumer();
        if (consumer === undefined) break;
        const entry = this.ready.shift()!;
        this.readyBytesTotal -= entry.size;
        const record = this.recordOf(entry);
        if (record === undefined) continue; // removed underneath us (purged by another path)
        this.unackedCount++;
        this.markDelivered(entry);
        consumer.take(this, entry, record);
      }
    } finally {
      this.dispatching = false;
    }
  }

  private pickConsumer(): QueueConsumer | undefined {
    const list = this.consumerList;
    const n = list.length;
    if (n === 0) return undefined;
    if (this.policy.singleActiveConsumer) {
      const active = list[0]!;
      return active.canTake() ? active : undefined;
    }
    // Highest priority with room wins; among equals, round-robin from the last one served.
    let best: QueueConsumer | undefined;
    let bestIndex = -1;
    for (let k = 0; k < n; k++) {
      const i = (this.roundRobin + k) % n;
      const c = list[i]!;
      if ((best === undefined || c.priority > best.priority) && c.canTake()) {
        best = c;
        bestIndex = i;
      }
    }
    if (best !== undefined) this.roundRobin = (bestIndex + 1) % n;
    return best;
  }

  private markDelivered(entry: QueueEntry): void {
    this.counters.delivered++;
    if (entry.deliveries > 0) this.counters.redelivered++;
    if (entry.stored) {
      if (entry.deliveries === 0) {
        if (entry.seq > this.deliveredHwm) {
          this.deliveredHwm = entry.seq;
          this.store!.markDeliveredUpTo(this.id, entry.seq);
        }
      } else {
        this.store!.setDeliveries(this.id, entry.seq, entry.deliveries + 1);
      }
    }
  }

  /** Takes the next ready message for basic.get, or undefined when empty. */
  take(): { entry: QueueEntry; record: MessageRecord } | undefined {
    for (;;) {
      const entry = this.ready.shift();
      if (entry === undefined) return undefined;
      this.readyBytesTotal -= entry.size;
      const record = this.recordOf(entry);
      if (record === undefined) continue;
      this.unackedCount++;
      this.markDelivered(entry);
      return { entry, record };
    }
  }

  /** A delivered message was acknowledged (or dropped without requeue). */
  settle(entry: QueueEntry): void {
    this.unackedCount--;
    this.counters.acked++;
    this.dropResident(entry);
    if (entry.stored && !this.deleted) this.store!.ack(this.id, entry.seq, entry.deliveries > 0);
  }

  /**
   * Delivered messages come back (nack/reject with requeue, channel closed): each returns to
   * its original position with one more delivery counted.
   */
  requeue(entries: readonly QueueEntry[]): void {
    for (const entry of entries) {
      this.unackedCount--;
      if (this.deleted) continue;
      entry.deliveries++;
      this.ready.requeue(entry);
      this.readyBytesTotal += entry.size;
    }
    this.dispatch();
  }

  /** Removes every ready message; returns how many. Messages out with consumers stay. */
  purge(): number {
    const entries = this.ready.drain();
    this.readyBytesTotal = 0;
    for (const e of entries) this.dropResident(e);
    if (this.store !== undefined) {
      const seqs = entries.filter((e) => e.stored).map((e) => e.seq);
      if (seqs.length > 0) this.store.removeMessages(this.id, seqs);
    }
    return entries.length;
  }

  /** Deletes the queue: consumers are cancelled, stored messages removed. Returns the ready count. */
  delete(reason: string): number {
    const count = this.ready.size;
    this.deleted = true;
    const consumers = this.consumerList.splice(0);
    for (const c of consumers) c.cancelledByQueue(this, reason);
    this.ready.drain();
    this.readyBytesTotal = 0;
    return count;
  }

  /** Called by the server when a consumer's socket drained: resume handing out messages. */
  wake(): void {
    this.dispatch();
  }
}
