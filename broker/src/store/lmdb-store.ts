import { open, type Database, type Key, type RangeOptions, type RootDatabase } from 'lmdb';
import { createHash } from 'node:crypto';
import { mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { CountBook, type CountTurn } from './count-book.js';
import { messageKey, priorityKey, queueRange, seqOfKey, seqOfPriorityKey } from './keys.js';
import {
  checkStoreFile,
  ENV_FILE,
  PRE_OPEN_DATABASES,
  StoreDamagedError,
  verifyStoreDeep,
  verifyStoreInBackground,
} from './store-check.js';
import { decodeMeta, decodeRecord, encodeRecord, recordBodySize } from './record-codec.js';
import type {
  AccessData,
  AccessStore,
  PermissionRecord,
  UserRecord,
  VhostRecord,
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

/** Options for {@link LmdbStore.open}. */
export interface LmdbStoreOptions {
  /** Directory holding the LMDB environment file; created if missing. */
  path: string;
  /**
   * Skip fsync. Only for tests that do not test durability: a crash may lose
   * confirmed messages. Default false.
   */
  noSync?: boolean;
  /**
   * Called once per failed commit (disk full, I/O error), after the writes it carried have
   * been rejected (durable() reports them to the publishers). Default: nothing.
   */
  onCommitError?: (error: Error) => void;
  /** Read the whole existing store in a child process before opening it (store-check.ts). Default false. */
  verify?: boolean;
  /**
   * With `verify`: check only the small databases before opening, and the messages in the
   * background while the broker serves; damage found there is reported here (the store is
   * open by then). Keeps the start after an unclean stop independent of the store's depth.
   */
  onDamagedInBackground?: (error: StoreDamagedError) => void;
  /**
   * With `verify`: the small databases were checked already, since the last writer stopped
   * (pre-open-check.ts, started before the broker's modules loaded); only the background check
   * of the messages is left.
   */
  checkedBeforeOpen?: boolean;
  /**
   * How often the store looks whether it is idle, and after how many operations since it
   * opened an idle store reopens its environment to unmap the file pages it touched
   * (checkIdle). Default every 0.5 s, after 20,000.
   */
  remapWhenIdle?: { everyMs: number; afterOps: number };
}

type WritePromise = Promise<boolean> & { flushed?: Promise<boolean> };

/*
 * Keys of the `meta` and `dedup` databases are printable strings: lmdb-js's ordered-binary
 * key encoding treats control characters (NUL included) as structure, so a name containing
 * them — or a long key containing them — would not read back as written. Names are therefore
 * base64url-encoded behind a one-letter kind, and hashed when that would exceed LMDB's key
 * size; the values hold everything needed to rebuild state, keys only identify.
 */
const MAX_ENCODED = 1024;
/** After an unclean stop, the read-through check of the messages starts this long after the store opens. */
const BACKGROUND_CHECK_DELAY_MS = 2000;
/**
 * How often a store looks whether it is idle (no read or write since the last look), and how
 * many operations since it opened make an idle store reopen its environment (checkIdle).
 */
const IDLE_REMAP = { everyMs: 500, afterOps: 20_000 };
/** After a failed commit, the count records it carried are written again this much later. */
const COUNTS_RETRY_MS = 100;

function enc(part: string): string {
  const b = Buffer.from(part, 'utf8').toString('base64url');
  return b.length <= MAX_ENCODED ? b : '#' + createHash('sha256').update(part).digest('base64url');
}

function metaKey(kind: string, ...parts: string[]): string {
  return `${kind}:${parts.map(enc).join('.')}`;
}

const KIND_EXCHANGE = 'x';
const KIND_QUEUE = 'q';
const KIND_BINDING = 'b';
const KIND_HWM = 'd';
const KIND_USER = 'u';
const KIND_VHOST = 'v';
const KIND_PERMISSION = 'p';
/** Schema registry records (spec/schemas.md §Storage): `s:<id>`, `j:<subject>`, `g`. */
const KIND_SCHEMA = 's';
/**
 * Per-queue counts and last sequence: `[messages, bytes, lastSeq]`, written with the messages;
 * a priority queue adds `[messages0, bytes0, messages1, bytes1, ...]` per level.
 */
const KIND_COUNT = 'c';
/** A removal of many messages still in progress (PendingDrop), finished at the next open after a crash. */
const KIND_DROP = 'r';

/**
 * Keys one transaction removes per table when a queue is deleted or a deep tail purged. LMDB
 * bounds the pages one transaction may dirty (MDB_TXN_FULL: deleting 200,000 1 KiB messages in
 * one commit failed it, and with it every write of that batch), so a large removal is spread
 * over several commits, one chunk each (spec/semantics.md §Deep backlogs).
 */
const DROP_CHUNK_KEYS = 20_000;

/**
 * Messages of a queue being removed over several commits: seqs `from`..`to` (inclusive; `to`
 * absent: the whole queue, with its delivery records, priority index and dedup ids), or of one
 * priority level. Stored while in progress, so a crash in between does not bring them back.
 */
interface PendingDrop {
  queueId: number;
  from: number;
  to?: number;
  level?: number;
  whole?: true;
}

function dropKey(d: PendingDrop): string {
  return metaKey(KIND_DROP, String(d.queueId), d.level === undefined ? '' : String(d.level), String(d.from));
}

/** Removes up to `limit` keys of `range` from `db`; true when it removed `limit` (more may remain). */
function removeKeys<K extends Key>(db: Database<unknown, K>, range: RangeOptions, limit: number): boolean {
  let n = 0;
  for (const key of db.getKeys({ ...range, limit })) {
    db.removeSync(key);
    n++;
  }
  return n >= limit;
}
/** The store's format record: written at creation, checked at every open. */
const FORMAT_KEY = 'f:format';
/**
 * Present once the stored permission patterns are read as RabbitMQ reads them (matching
 * anywhere in a name). A store without it (written when patterns matched whole names) gets
 * its patterns anchored once at open, so an upgrade grants nobody more than before.
 */
const PERMISSIONS_SEARCH_KEY = 'f:permissions-search';

/**
 * A pattern written when permissions matched whole names, rewritten to grant exactly what it
 * granted then: `a|b` becomes `^(?:a|b)$`. `.*` and the empty pattern mean the same either
 * way and are kept.
 */
function anchoredLegacyPattern(pattern: string): string {
  return pattern === '' || pattern === '.*' ? pattern : `^(?:${pattern})$`;
}
/**
 * Bumped when the layout changes in a way older brokers cannot read. 2: per-queue count
 * records (a broker of version 1 would write messages without keeping them current). A
 * version-1 store is upgraded at open: each queue's counts are computed by one scan the
 * first time the queue is opened (spec/semantics.md §Deep backlogs). 3: the priority index
 * (`prio`) of priority queues, which an older broker would not keep current; a priority queue
 * of a version-2 store gets its index built once when first opened.
 */
export const STORE_FORMAT_VERSION = 3;
interface FormatRecord {
  format: 'switchyard';
  version: number;
}

/** Dedup ids of one scope sort together: `<scope>.<id>`, all printable. */
function dedupKey(scope: string, id: string): string {
  return `${enc(scope)}.${enc(id)}`;
}

/** Every key of a scope: from `<scope>.` up to (not including) `<scope>/` ('/' follows '.'). */
function dedupRange(scope: string): { start: string; end: string } {
  return { start: `${enc(scope)}.`, end: `${enc(scope)}/` };
}

function kindOf(key: unknown): string | undefined {
  return typeof key === 'string' && key[1] === ':' ? key[0] : undefined;
}
/**
 * lmdb-js opens each batch with a write of its own whose promise it never hands out; when that
 * batch's commit fails (disk full) the promise rejects unhandled and Node ends the process.
 * Every write we issue is handled in track(), and the failure reaches the publishers through
 * durable(), so a rejection carrying lmdb-js's `commitError` is expected here and dropped.
 * Any other unhandled rejection is rethrown as Node would, unless someone else listens.
 */
const onUnhandledRejection = (reason: unknown): void => {
  if (reason instanceof Error && 'commitError' in reason) return;
  if (process.listenerCount('unhandledRejection') === 1) throw reason;
};
let openStores = 0;
function watchLmdbRejections(delta: 1 | -1): void {
  openStores += delta;
  if (delta === 1 && openStores === 1) process.on('unhandledRejection', onUnhandledRejection);
  if (delta === -1 && openStores === 0) process.off('unhandledRejection', onUnhandledRejection);
}

/*
 * Lease tokens (store.ts `Lease`): which records beside a message exist, so settling it
 * deletes exactly those. A first delivery in publish order is covered by the queue's
 * high-water mark and needs no record of its own (the common case costs no extra write).
 */
/** A `deliveries` record exists for the message (redelivered, priority queue, or delayed). */
const HAS_RECORD = 1;
/** That record holds a delayed-retry time that has not been cleared yet. */
const DELAYED = 2;

export { ENV_FILE } from './store-check.js';
const noop = (): void => {};
const EMPTY = Buffer.alloc(0);

/**
 * QueueStore on one LMDB environment with four named databases: `meta` (definitions and
 * per-queue delivered high-water marks, msgpack), `messages` (binary values keyed by queue
 * id + seq), `deliveries` (delivery count and retry time of messages delivered out of order
 * or more than once) and `dedup`. A vhost's delayed messages are kept like a queue's, under
 * the id its vhost record names (`delayedQueueId`; 0 for `/`), with the due time as expiry.
 *
 * lmdb-js puts every write issued in one event-loop turn into one transaction on its
 * writer thread (the group commit); with `separateFlushed` each write promise carries a
 * `flushed` promise that resolves once that transaction is on disk, which `durable()` uses.
 */
export class LmdbStore implements QueueStore, AccessStore {
  // Not readonly: an idle store reopens its environment (remapWhenIdle).
  private root!: RootDatabase;
  private meta!: Database;
  private messages!: Database<Buffer, Buffer>;
  private deliveries!: Database<[number, number] | number, Buffer>;
  private dedup!: Database<[number, string], string>;
  /** Priority queues' (queue id, level, seq) index: each level refills in key order. */
  private prio!: Database<Buffer, Buffer>;
  private lastWrite: WritePromise | undefined;
  private handledWrite: WritePromise | undefined;
  private tail: Promise<void> = Promise.resolve();
  private nextQueueId = 1;
  private readonly pendingHwm = new Map<number, number>();
  /** Highest first-delivered seq per queue (what the stored high-water mark says, or will). */
  private readonly hwm = new Map<number, number>();
  /** Store id of each vhost's delayed messages, from the vhost records. */
  private readonly delayedIds = new Map<string, number>([['/', 0]]);
  private readonly delayedStores = new Map<string, DelayedMessageStore>();
  private hwmScheduled = false;
  private readonly path: string;
  private readonly onCommitError: (error: Error) => void;
  private pendingBytes = 0;
  /** Message bytes handed to LMDB whose transaction is not on disk yet (unflushedBytes). */
  private unflushed = 0;
  /** The message bytes of the batch lmdb-js is filling now; settled with its transaction. */
  private batchBytes = { n: 0 };
  private readonly reportedFailures = new WeakSet<object>();
  /**
   * Per-queue counts as of every write issued so far (and per level of a priority queue, also
   * its marker: indexed); the stored records follow each turn, and a failed batch is taken back.
   */
  private readonly book = new CountBook();
  private countsScheduled = false;

  private constructor(options: LmdbStoreOptions) {
    mkdirSync(options.path, { recursive: true });
    this.path = join(options.path, ENV_FILE);
    this.onCommitError = options.onCommitError ?? noop;
    // Before mapping it: LMDB faults (SIGBUS / SIGSEGV) on a truncated or overwritten file.
    checkStoreFile(this.path);
    const onDamaged = options.onDamagedInBackground;
    if (options.verify === true && !(options.checkedBeforeOpen === true && onDamaged !== undefined))
      verifyStoreDeep(this.path, onDamaged === undefined ? [] : PRE_OPEN_DATABASES);
    this.noSync = options.noSync ?? false;
    this.openEnvironment();
    try {
      this.checkFormat();
      this.finishDrops();
    } catch (err) {
      void this.root.close().catch(noop);
      throw err;
    }
    watchLmdbRejections(1);
    const remap = options.remapWhenIdle ?? IDLE_REMAP;
    this.remapAfterOps = remap.afterOps;
    this.idleTimer = setInterval(this.checkIdle, remap.everyMs);
    this.idleTimer.unref();
    if (options.verify === true && onDamaged !== undefined) {
      // A moment after the start, not during it: the check reads the whole store, and
      // starting a process and reading gigabytes beside a broker that is starting doubled
      // spawn -> first delivery at 10,000,000 messages (spec/semantics.md §Deep backlogs).
      const later = setTimeout(() => {
        const check = verifyStoreInBackground(this.path, ['messages']);
        this.stopBackgroundCheck = check.stop;
        void check.result.then((damage) => {
          if (damage !== undefined && !this.closed) onDamaged(damage);
        });
      }, BACKGROUND_CHECK_DELAY_MS);
      later.unref();
      this.stopBackgroundCheck = () => clearTimeout(later);
    }
  }

  private stopBackgroundCheck: () => void = noop;
  private closed = false;
  private readonly noSync: boolean;

  private openEnvironment(): void {
    this.root = open({
      path: this.path,
      maxDbs: 8,
      separateFlushed: true,
      noSync: this.noSync,
      // Map the file in chunks and unmap the ones not in use, instead of one mapping of the
      // whole file: pages a broker once touched (a drained backlog, the free pages of a file
      // grown under load) otherwise stay resident and counted in its RSS for good. Measured
      // side by side at real-time priority: W6's RSS with its backlog 572-680 -> 424-432 MiB,
      // throughput unchanged (spec/semantics.md §Deep backlogs).
      remapChunks: true,
    });
    this.meta = this.root.openDB({ name: 'meta', encoding: 'msgpack' });
    this.messages = this.root.openDB({ name: 'messages', encoding: 'binary', keyEncoding: 'binary' });
    this.deliveries = this.root.openDB({ name: 'deliveries', encoding: 'msgpack', keyEncoding: 'binary' });
    this.dedup = this.root.openDB({ name: 'dedup', encoding: 'msgpack' });
    this.prio = this.root.openDB({ name: 'prio', encoding: 'binary', keyEncoding: 'binary' });
    this.opsAtOpen = this.ops;
  }

  /** Writes and reads issued: an idle store has issued none since the last look. */
  private ops = 0;
  private opsAtOpen = 0;
  /** Batches handed to LMDB and not yet on disk (or failed). */
  private unsettledBatches = 0;
  private idleTimer: NodeJS.Timeout | undefined;

  /**
   * LMDB keeps up to 8,191 chunks of the file mapped (lmdb-js `remapChunks`, a compile-time
   * limit), and a mapped page stays in the process's RSS: a broker that has moved millions of
   * messages keeps about 512 MiB of file pages counted in its RSS while it then sits on a
   * backlog. So a store that has done much since it opened and then did nothing for a while
   * closes and reopens its environment, which unmaps them all (spec/semantics.md §Deep
   * backlogs). Only when nothing is in flight: then lmdb-js's close settles within the
   * current task's microtasks, so no other code of the broker sees the store closed.
   */
  private readonly checkIdle = (): void => {
    const quiet = this.ops === this.opsAtLastLook;
    this.opsAtLastLook = this.ops;
    if (!quiet || this.closed || this.ops - this.opsAtOpen < this.remapAfterOps) return;
    if (this.unsettledBatches > 0 || this.hwmScheduled || this.countsScheduled || this.countsRetry !== undefined)
      return;
    // Were anything to run between the close and the reopen (it should not), it would be seen.
    let crossed = false;
    const sentinel = setImmediate(() => (crossed = true));
    const reopen = (): void => {
      clearImmediate(sentinel);
      this.remapDone = undefined;
      this.openEnvironment();
      this.remaps++;
      if (crossed) this.onRemapLate?.();
    };
    this.remapDone = this.root.close().then(reopen, reopen);
  };
  private opsAtLastLook = 0;
  private remapAfterOps = IDLE_REMAP.afterOps;
  /** How many times the environment was reopened (checkIdle): for tests and metrics. */
  remaps = 0;
  /** A reopen in progress (close waits for it). */
  private remapDone: Promise<void> | undefined;
  /** For tests: the reopen was not done within one task (something ran while it was closed). */
  onRemapLate: (() => void) | undefined;

  /**
   * The format record tells a Switchyard store from another LMDB file and from one written by
   * a newer, incompatible broker; a store without one (new, or from before the record) gets it.
   */
  private checkFormat(): void {
    const rec = this.meta.get(FORMAT_KEY) as Partial<FormatRecord> | undefined;
    const current = { format: 'switchyard', version: STORE_FORMAT_VERSION } satisfies FormatRecord;
    if (rec === undefined) {
      this.meta.putSync(FORMAT_KEY, current);
      this.anchorLegacyPermissions();
      return;
    }
    if (rec.format !== 'switchyard' || !Number.isSafeInteger(rec.version)) {
      throw new StoreDamagedError(this.path, 'its format record is not a Switchyard one');
    }
    if (rec.version! > STORE_FORMAT_VERSION) {
      throw new Error(
        `message store '${this.path}' has format version ${rec.version}, newer than this broker's ${STORE_FORMAT_VERSION}: run a newer Switchyard, or restore a backup made by this version`,
      );
    }
    // Older: queues without a count record get one from a scan when first opened (countOf).
    if (rec.version! < STORE_FORMAT_VERSION) this.meta.putSync(FORMAT_KEY, current);
    this.anchorLegacyPermissions();
  }

  /** See PERMISSIONS_SEARCH_KEY: done once, in one transaction with the marker. */
  private anchorLegacyPermissions(): void {
    if (this.meta.get(PERMISSIONS_SEARCH_KEY) !== undefined) return;
    this.meta.transactionSync(() => {
      for (const { key, value } of this.meta.getRange({ snapshot: false })) {
        if (kindOf(key) !== KIND_PERMISSION) continue;
        const p = value as PermissionRecord;
        this.meta.putSync(key, {
          ...p,
          configure: anchoredLegacyPattern(p.configure),
          write: anchoredLegacyPattern(p.write),
          read: anchoredLegacyPattern(p.read),
        });
      }
      this.meta.putSync(PERMISSIONS_SEARCH_KEY, true);
    });
  }

  /** Opens (creating if needed) the store at `options.path`. Throws if the directory is unusable. */
  static open(options: LmdbStoreOptions): LmdbStore {
    return new LmdbStore(options);
  }

  private track(p: Promise<boolean>): void {
    const w = p as WritePromise;
    // lmdb-js hands every write of one batch the same promise: handle each batch once. The
    // handler makes a failed commit surface through durable(), not as an unhandled rejection
    // that would bring the broker down.
    this.ops++;
    if (w === this.handledWrite) return void (this.lastWrite = w);
    this.handledWrite = w;
    this.unsettledBatches++;
    w.catch(this.onWriteFailed);
    w.flushed?.catch(noop);
    this.lastWrite = w;
    const batch = { n: 0 };
    this.batchBytes = batch;
    // On disk once flushed; a failed commit never will be, so it stops counting at once
    // (its `flushed` may never settle).
    const settle = (): void => {
      this.unflushed -= batch.n;
      this.unsettledBatches--;
    };
    w.then(() => w.flushed ?? w).then(settle, settle);
  }

  /**
   * lmdb-js rejects a failed batch's writes with an error whose `commitError` is a second
   * promise, rejected with the cause (ENOSPC shows as EIO) once the writer thread reports it:
   * unhandled, that second rejection would end the process. The failure itself reaches the
   * publishers through durable() (nacks); here it is counted once per batch.
   */
  private readonly onWriteFailed = (err: unknown): void => {
    const cause = (err as { commitError?: Promise<unknown> } | undefined)?.commitError;
    if (cause !== undefined && typeof cause.then === 'function') {
      // Every write of the failed batch carries the same cause: report it once.
      if (this.reportedFailures.has(cause)) return;
      this.reportedFailures.add(cause);
      cause.then(noop, (e: unknown) => this.onCommitError(e instanceof Error ? e : new Error(String(e))));
    } else {
      this.onCommitError(err instanceof Error ? err : new Error(String(err)));
    }
  };

  /** Bytes of message records handed to LMDB since the last call (for the disk alarm). */
  takePendingBytes(): number {
    const n = this.pendingBytes;
    this.pendingBytes = 0;
    return n;
  }

  /** Bytes of message records handed to LMDB and not yet on disk (for the disk alarm). */
  unflushedBytes(): number {
    return this.unflushed;
  }

  loadDefinitions(): Definitions {
    const defs: Definitions = { exchanges: [], queues: [], bindings: [] };
    for (const { key, value } of this.meta.getRange({ snapshot: false })) {
      const kind = kindOf(key);
      if (kind === KIND_EXCHANGE) defs.exchanges.push(value as ExchangeDefinition);
      else if (kind === KIND_QUEUE) {
        const q = value as QueueDefinition;
        defs.queues.push(q);
        this.nextQueueId = Math.max(this.nextQueueId, q.id + 1);
      } else if (kind === KIND_BINDING) defs.bindings.push(value as BindingDefinition);
    }
    return defs;
  }

  putExchange(def: ExchangeDefinition): void {
    this.track(this.meta.put(metaKey(KIND_EXCHANGE, def.name), def));
  }

  removeExchange(name: string): void {
    this.track(this.meta.remove(metaKey(KIND_EXCHANGE, name)));
  }

  putQueue(def: QueueDefinition): void {
    this.track(this.meta.put(metaKey(KIND_QUEUE, def.name), def));
  }

  removeQueue(def: QueueDefinition): void {
    this.track(this.meta.remove(metaKey(KIND_QUEUE, def.name)));
    this.removeMessagesOf(def.id);
  }

  /** Every message, delivery record, mark and dedup id under a store id. */
  private removeMessagesOf(queueId: number): void {
    this.track(this.meta.remove(metaKey(KIND_HWM, String(queueId))));
    this.track(this.meta.remove(metaKey(KIND_COUNT, String(queueId))));
    this.book.forget(queueId);
    this.pendingHwm.delete(queueId);
    this.hwm.delete(queueId);
    this.dropInChunks({ queueId, from: 0, whole: true });
  }

  /**
   * Removes a drop's messages: the first chunk in this turn's batch (inside the writer's
   * transaction, so messages written earlier in the same turn are seen and removed too), the
   * rest one chunk per later commit, with the drop stored until it is done.
   */
  private dropInChunks(d: PendingDrop): void {
    let more = false;
    const write = this.root.transaction(() => {
      if (d.whole !== true) d.to ??= this.lastSeqOf(d); // what exists now: later messages stay
      if (this.dropChunk(d)) return true;
      this.meta.putSync(dropKey(d), d);
      more = true;
      return true;
    });
    this.track(write);
    write.then(
      () => more && this.continueDrop(d),
      // The whole batch failed (the disk is full): nothing of the drop was removed; again later.
      () => void setTimeout(() => this.continueDrop(d, true), 1_000).unref(),
    );
  }

  /** The next chunk of a drop, once the previous one is committed; retried after a failed commit. */
  private continueDrop(d: PendingDrop, record = false): void {
    if (this.closed) return;
    let done = false;
    const write = this.root.transaction(() => {
      done = this.dropChunk(d);
      if (done) this.meta.removeSync(dropKey(d));
      else if (record) this.meta.putSync(dropKey(d), d);
      return true;
    });
    this.track(write);
    write.then(
      () => done || this.continueDrop(d),
      () => void setTimeout(() => this.continueDrop(d, record), 1_000).unref(),
    );
  }

  /** Drops stored by a process that stopped before finishing them: finished now, before any queue reads. */
  private finishDrops(): void {
    for (const { key, value } of this.meta.getRange({ start: `${KIND_DROP}:`, end: `${KIND_DROP};` })) {
      const d = value as PendingDrop;
      while (!this.root.transactionSync(() => this.dropChunk(d)));
      this.meta.removeSync(key);
    }
  }

  /** The highest seq a tail drop covers: the last message (or index entry) stored now. */
  private lastSeqOf(d: PendingDrop): number {
    const q = d.queueId;
    if (d.level !== undefined) {
      const start = priorityKey(q, d.level + 1, 0);
      for (const key of this.prio.getKeys({ start, end: priorityKey(q, d.level, 0), reverse: true, limit: 1 }))
        return seqOfPriorityKey(key);
      return d.from;
    }
    const { start, end } = queueRange(q);
    for (const key of this.messages.getKeys({ start: end, end: start, reverse: true, limit: 1 })) return seqOfKey(key);
    return d.from;
  }

  /** Removes up to DROP_CHUNK_KEYS keys per table of a drop, in a write transaction; true when none remain. */
  private dropChunk(d: PendingDrop): boolean {
    const q = d.queueId;
    const limit = DROP_CHUNK_KEYS;
    if (d.level !== undefined) {
      const end = d.to === undefined ? priorityKey(q, d.level + 1, 0) : priorityKey(q, d.level, d.to + 1);
      let n = 0;
      for (const key of this.prio.getKeys({ start: priorityKey(q, d.level, d.from), end, limit })) {
        const mkey = messageKey(q, seqOfPriorityKey(key));
        this.messages.removeSync(mkey);
        this.deliveries.removeSync(mkey);
        this.prio.removeSync(key);
        n++;
      }
      return n < limit;
    }
    const whole = queueRange(q);
    const range = { start: messageKey(q, d.from), end: d.to === undefined ? whole.end : messageKey(q, d.to + 1) };
    let more = removeKeys(this.messages, range, limit);
    more = removeKeys(this.deliveries, range, limit) || more;
    if (d.whole === true) {
      more = removeKeys(this.prio, whole, limit) || more;
      more = removeKeys(this.dedup, dedupRange(queueDedupScope(q)), limit) || more;
    }
    return !more;
  }

  putBinding(key: string, def: BindingDefinition): void {
    this.track(this.meta.put(metaKey(KIND_BINDING, key), def));
  }

  removeBinding(key: string): void {
    this.track(this.meta.remove(metaKey(KIND_BINDING, key)));
  }

  loadAccess(): AccessData {
    const data: AccessData = { users: [], vhosts: [], permissions: [] };
    for (const { key, value } of this.meta.getRange({ snapshot: false })) {
      const kind = kindOf(key);
      if (kind === KIND_USER) data.users.push(value as UserRecord);
      else if (kind === KIND_VHOST) {
        const v = value as VhostRecord;
        data.vhosts.push(v);
        // Records from before the store assigned ids always carry one.
        const id = v.delayedQueueId ?? (v.name === '/' ? 0 : undefined);
        if (id !== undefined) {
          this.delayedIds.set(v.name, id);
          this.nextQueueId = Math.max(this.nextQueueId, id + 1);
        }
      } else if (kind === KIND_PERMISSION) data.permissions.push(value as PermissionRecord);
    }
    return data;
  }

  putUser(user: UserRecord): void {
    this.track(this.meta.put(metaKey(KIND_USER, user.name), user));
  }

  removeUser(name: string): void {
    this.track(this.meta.remove(metaKey(KIND_USER, name)));
  }

  putVhost(vhost: VhostRecord): void {
    // A vhost's delayed messages live under an id of their own, like a queue's messages; `/`
    // keeps id 0, where they have always been.
    const delayedQueueId = vhost.delayedQueueId ?? this.delayedIds.get(vhost.name) ?? this.allocateQueueId();
    this.delayedIds.set(vhost.name, delayedQueueId);
    this.track(this.meta.put(metaKey(KIND_VHOST, vhost.name), { ...vhost, delayedQueueId }));
  }

  removeVhost(name: string): void {
    this.track(this.meta.remove(metaKey(KIND_VHOST, name)));
    this.delayedStores.delete(name);
    if (name !== '/') this.delayedIds.delete(name);
  }

  putPermission(p: PermissionRecord): void {
    this.track(this.meta.put(metaKey(KIND_PERMISSION, p.user, p.vhost), p));
  }

  removePermission(user: string, vhost: string): void {
    this.track(this.meta.remove(metaKey(KIND_PERMISSION, user, vhost)));
  }

  loadSchemaRecords(): [string, unknown][] {
    const out: [string, unknown][] = [];
    // Keys are encoded (and hashed when long): the records carry their own identity.
    for (const { key, value } of this.meta.getRange({
      start: `${KIND_SCHEMA}:`,
      end: `${KIND_SCHEMA};`,
      snapshot: false,
    }))
      out.push([String(key), value]);
    return out;
  }

  putSchemaRecord(key: string, value: unknown): void {
    this.track(this.meta.put(metaKey(KIND_SCHEMA, key), value));
  }

  removeSchemaRecord(key: string): void {
    this.track(this.meta.remove(metaKey(KIND_SCHEMA, key)));
  }

  allocateQueueId(): number {
    return this.nextQueueId++;
  }

  enqueue(queueId: number, seq: number, record: MessageRecord, meta: MessageMeta): void {
    this.countOf(queueId);
    const key = messageKey(queueId, seq);
    const indexed = this.book.levelsOf(queueId) !== undefined;
    // A replayed id replaces its message (rare): counted once. Written this turn, it is not
    // readable yet, but the book noted its size and level; otherwise it is read here.
    const old = this.book.enqueue(queueId, seq, { size: record.content.length, priority: meta.priority }, () => {
      const value = this.messages.get(key);
      return value === undefined ? undefined : { size: recordBodySize(value), priority: decodeMeta(value).priority };
    });
    this.scheduleCounts();
    if (indexed) {
      // The replay may carry another priority: it leaves its old level's index key.
      if (old !== undefined && old.priority !== meta.priority)
        this.track(this.prio.remove(priorityKey(queueId, old.priority, seq)));
      this.track(this.prio.put(priorityKey(queueId, meta.priority, seq), EMPTY));
    }
    this.putMessage(key, record, meta);
  }

  private putMessage(key: Buffer, record: MessageRecord, meta: MessageMeta): void {
    const value = encodeRecord(record, meta);
    this.pendingBytes += value.length;
    this.track(this.messages.put(key, value));
    this.batchBytes.n += value.length;
    this.unflushed += value.length;
  }

  /**
   * The queue's counts, from its count record; a queue without one (a store of format 1, or
   * a queue never written to) is counted by one scan of its range, and the record written.
   */
  private countOf(queueId: number): QueuePosition {
    const known = this.book.get(queueId);
    if (known !== undefined) return known;
    const rec = this.meta.get(metaKey(KIND_COUNT, String(queueId))) as [number, number, number, number[]?] | undefined;
    if (rec !== undefined)
      return this.book.load(
        queueId,
        { messages: rec[0], bytes: rec[1], lastSeq: rec[2] },
        rec[3] === undefined ? undefined : [...rec[3]],
        false,
      );
    const c = { messages: 0, bytes: 0, lastSeq: 0 };
    for (const { key, value } of this.messages.getRange({ ...queueRange(queueId), snapshot: false })) {
      c.messages++;
      c.bytes += recordBodySize(value);
      c.lastSeq = seqOfKey(key);
    }
    const hwm = this.meta.get(metaKey(KIND_HWM, String(queueId))) as number | undefined;
    // Sequences continue after every one ever delivered, even when all were acked.
    c.lastSeq = Math.max(c.lastSeq, hwm ?? 0);
    this.scheduleCounts();
    return this.book.load(queueId, c, undefined, true);
  }

  /**
   * Count records are written at the end of the current turn (a microtask), before lmdb-js
   * commits the turn's batch (on setImmediate): the same transaction as the messages they
   * count, so after a crash the counts match the messages exactly.
   */
  private scheduleCounts(): void {
    if (this.countsScheduled) return;
    this.countsScheduled = true;
    queueMicrotask(this.writeCounts);
  }

  private readonly writeCounts = (): void => {
    this.countsScheduled = false;
    const { records, turn } = this.book.closeTurn();
    let batch: Promise<boolean> | undefined;
    for (const [id, record] of records) {
      batch = this.meta.put(metaKey(KIND_COUNT, String(id)), record);
      this.track(batch);
    }
    if (batch === undefined) return;
    // A failed commit (disk full) wrote none of its messages nor these records: the book
    // takes back what they counted, and the records go again after a pause (not at once: on a
    // full disk that would retry without end).
    const written = records.map(([id]) => id);
    batch.catch(() => this.countsFailed(turn, written));
  };

  private countsFailed(turn: CountTurn, written: number[]): void {
    if (this.closed) return;
    this.book.failed(turn, written);
    if (this.countsRetry !== undefined) return;
    this.countsRetry = setTimeout(() => {
      this.countsRetry = undefined;
      if (!this.closed && this.book.pending) this.scheduleCounts();
    }, COUNTS_RETRY_MS);
    this.countsRetry.unref();
  }

  private countsRetry: NodeJS.Timeout | undefined;

  /** A settled message leaves the counts (unless its enqueue failed with its batch: counted out then). */
  private uncount(queueId: number, seq: number, size: number, priority: number | undefined): void {
    this.countOf(queueId);
    this.book.remove(queueId, seq, size, priority);
    this.scheduleCounts();
  }

  /**
   * Marks a priority queue and returns its per-level counts. A queue without level counts (new,
   * or stored by a format-2 broker) is indexed here: one scan of its messages, once.
   */
  priorityLevels(queueId: number, maxPriority: number): QueueStoreStats[] {
    this.countOf(queueId);
    let levels = this.book.levelsOf(queueId);
    if (levels === undefined) {
      const built: number[] = new Array<number>(2 * (maxPriority + 1)).fill(0);
      levels = built;
      // Synchronous, in one write transaction: visible to the first window's read at once.
      this.root.transactionSync(() => {
        for (const { key, value } of this.messages.getRange({ ...queueRange(queueId), snapshot: false })) {
          const p = Math.min(decodeMeta(value).priority, maxPriority);
          built[2 * p]! += 1;
          built[2 * p + 1]! += recordBodySize(value);
          this.prio.putSync(priorityKey(queueId, p, seqOfKey(key)), EMPTY);
        }
      });
      this.book.setLevels(queueId, levels);
      this.scheduleCounts();
    }
    const out: QueueStoreStats[] = [];
    for (let p = 0; p <= maxPriority; p++) out.push({ messages: levels[2 * p] ?? 0, bytes: levels[2 * p + 1] ?? 0 });
    return out;
  }

  scanLevel(queueId: number, priority: number, fromSeq: number, limit: number): RecoveredEntry[] {
    this.ops++;
    this.root.resetReadTxn();
    const hwm = this.hwm.get(queueId) ?? 0;
    const out: RecoveredEntry[] = [];
    for (const key of this.prio.getKeys({
      start: priorityKey(queueId, priority, fromSeq),
      end: priorityKey(queueId, priority + 1, 0),
      snapshot: false,
      ...(Number.isFinite(limit) ? { limit } : {}),
    })) {
      const seq = seqOfPriorityKey(key);
      const mkey = messageKey(queueId, seq);
      const value = this.messages.get(mkey);
      if (value === undefined) continue; // removed in a batch that also removes this key
      const state = this.deliveries.get(mkey);
      const [stored, readyAt] = state === undefined ? [0, 0] : typeof state === 'number' ? [state, 0] : state;
      out.push({
        seq,
        size: recordBodySize(value),
        ...decodeMeta(value),
        priority,
        deliveries: Math.max(stored, seq <= hwm ? 1 : 0),
        readyAt,
        lease: state === undefined ? 0 : HAS_RECORD | (readyAt !== 0 ? DELAYED : 0),
      });
    }
    return out;
  }

  heldBack(queueId: number): RecoveredEntry[] {
    this.root.resetReadTxn();
    const hwm = this.hwm.get(queueId) ?? 0;
    const out: RecoveredEntry[] = [];
    // Delivery records exist only for messages delivered out of order, redelivered or delayed:
    // what was in memory before the stop, not the queue's depth.
    for (const { key, value } of this.deliveries.getRange({ ...queueRange(queueId), snapshot: false })) {
      if (typeof value === 'number' || value[1] === 0) continue;
      const seq = seqOfKey(key);
      const message = this.messages.get(messageKey(queueId, seq));
      if (message === undefined) continue;
      out.push({
        seq,
        size: recordBodySize(message),
        ...decodeMeta(message),
        deliveries: Math.max(value[0], seq <= hwm ? 1 : 0),
        readyAt: value[1],
        lease: HAS_RECORD | DELAYED,
      });
    }
    return out;
  }

  dropLevelFrom(queueId: number, priority: number, fromSeq: number, removed: QueueStoreStats): void {
    this.countOf(queueId);
    this.book.removeFrom(queueId, fromSeq, removed, priority);
    this.scheduleCounts();
    this.dropInChunks({ queueId, from: fromSeq, level: priority });
  }

  claim(queueId: number, seq: number, deliveries: number, inOrder: boolean): Lease {
    if (deliveries === 1 && inOrder) {
      // In publish order, a high-water mark says "delivered" for every earlier message too.
      if (seq > (this.hwm.get(queueId) ?? 0)) {
        this.hwm.set(queueId, seq);
        this.markDeliveredUpTo(queueId, seq);
      }
      return 0;
    }
    // Out of order (priorities) or a redelivery: the message gets a record of its own.
    this.track(this.deliveries.put(messageKey(queueId, seq), [deliveries, 0]));
    return HAS_RECORD;
  }

  ack(queueId: number, seq: number, lease: Lease, size: number, priority?: number): void {
    this.uncount(queueId, seq, size, priority);
    this.removeMessage(queueId, seq, lease);
    if (priority !== undefined && this.book.levelsOf(queueId) !== undefined)
      this.track(this.prio.remove(priorityKey(queueId, priority, seq)));
  }

  private removeMessage(queueId: number, seq: number, lease: Lease): void {
    const key = messageKey(queueId, seq);
    this.track(this.messages.remove(key));
    if ((lease & HAS_RECORD) !== 0) this.track(this.deliveries.remove(key));
  }

  drop(queueId: number, seq: number, lease: Lease, size: number, priority?: number): void {
    this.ack(queueId, seq, lease, size, priority);
  }

  release(queueId: number, seq: number, deliveries: number, readyAt: number, lease: Lease): Lease {
    if (readyAt > 0) {
      this.track(this.deliveries.put(messageKey(queueId, seq), [deliveries, readyAt]));
      return HAS_RECORD | DELAYED;
    }
    if ((lease & DELAYED) !== 0) {
      // The delay is over: ready again at once after a restart.
      this.track(this.deliveries.put(messageKey(queueId, seq), [deliveries, 0]));
      return HAS_RECORD;
    }
    // An immediate requeue: the next claim records the delivery count.
    return lease;
  }

  /** LMDB's leases never expire: the broker process owns its queues until it stops. */
  touch(_queueId: number, _seq: number, _lease: Lease): void {}

  purge(queueId: number, refs: Iterable<StoredRef>): void {
    for (const r of refs) this.ack(queueId, r.seq, r.lease, r.size, r.priority);
  }

  dropFrom(queueId: number, fromSeq: number, removed: QueueStoreStats): void {
    this.countOf(queueId);
    this.book.removeFrom(queueId, fromSeq, removed);
    this.scheduleCounts();
    this.dropInChunks({ queueId, from: fromSeq });
  }

  stats(queueId: number): QueueStoreStats {
    const c = this.countOf(queueId);
    return { messages: c.messages, bytes: c.bytes };
  }

  position(queueId: number): QueuePosition {
    this.loadHwm(queueId);
    return { ...this.countOf(queueId) };
  }

  private loadHwm(queueId: number): number {
    const hwm = (this.meta.get(metaKey(KIND_HWM, String(queueId))) as number | undefined) ?? 0;
    if (hwm > (this.hwm.get(queueId) ?? 0)) this.hwm.set(queueId, hwm);
    return this.hwm.get(queueId) ?? 0;
  }

  scan(queueId: number, fromSeq: number, limit: number): RecoveredEntry[] {
    this.ops++;
    // lmdb-js renews its cached read transaction lazily: look at the latest commit.
    this.root.resetReadTxn();
    const end = queueRange(queueId).end;
    const start = messageKey(queueId, fromSeq);
    const hwm = this.hwm.get(queueId) ?? 0;
    const out: RecoveredEntry[] = [];
    for (const { key, value } of this.messages.getRange({
      start,
      end,
      snapshot: false,
      ...(Number.isFinite(limit) ? { limit } : {}),
    })) {
      out.push({
        seq: seqOfKey(key),
        size: recordBodySize(value),
        deliveries: 0,
        readyAt: 0,
        lease: 0,
        ...decodeMeta(value),
      });
    }
    if (out.length === 0) return out;
    // Delivery records of the same key range (redelivered, delayed, priority claims).
    const states = new Map<number, [number, number]>();
    const last = messageKey(queueId, out[out.length - 1]!.seq + 1);
    for (const { key, value } of this.deliveries.getRange({ start, end: last, snapshot: false }))
      states.set(seqOfKey(key), typeof value === 'number' ? [value, 0] : value);
    for (const e of out) {
      const state = states.get(e.seq);
      const [stored, readyAt] = state ?? [0, 0];
      e.deliveries = Math.max(stored, e.seq <= hwm ? 1 : 0);
      e.readyAt = readyAt;
      e.lease = state === undefined ? 0 : HAS_RECORD | (readyAt !== 0 ? DELAYED : 0);
    }
    return out;
  }

  private markDeliveredUpTo(queueId: number, seq: number): void {
    // One mark per queue per turn, not one per delivery: the mark is a high-water mark.
    this.pendingHwm.set(queueId, seq);
    if (!this.hwmScheduled) {
      this.hwmScheduled = true;
      setImmediate(this.writeHwm);
    }
  }

  private readonly writeHwm = (): void => {
    this.hwmScheduled = false;
    for (const [queueId, seq] of this.pendingHwm) this.track(this.meta.put(metaKey(KIND_HWM, String(queueId)), seq));
    this.pendingHwm.clear();
  };

  delayed(vhost: string): DelayedMessageStore {
    let d = this.delayedStores.get(vhost);
    if (d === undefined) {
      // Resolved on each call: the vhost record may be written after the handle is taken.
      const id = (): number => {
        const found = this.delayedIds.get(vhost);
        if (found === undefined)
          throw new Error(`no vhost record for '${vhost}': its delayed messages have no place in the store`);
        return found;
      };
      d = {
        // Not counted: delayed messages are read whole at start (recover), not windowed.
        put: (seq, record, dueAt) => this.putMessage(messageKey(id(), seq), record, { expiresAt: dueAt, priority: 0 }),
        read: (seq) => this.read(id(), seq),
        remove: (seq) => this.removeMessage(id(), seq, 0),
        recover: () => this.recover(id()).map((e) => ({ seq: e.seq, dueAt: e.expiresAt })),
        clear: () => this.removeMessagesOf(id()),
      };
      this.delayedStores.set(vhost, d);
    }
    return d;
  }

  putDedup(scope: string, id: string, expiresAt: number): void {
    this.track(this.dedup.put(dedupKey(scope, id), [expiresAt, id]));
  }

  removeDedup(scope: string, id: string): void {
    this.track(this.dedup.remove(dedupKey(scope, id)));
  }

  removeDedupScope(scope: string): void {
    // In the writer's transaction, as removeMessagesOf: ids put earlier this turn go too.
    this.track(
      this.root.transaction(() => {
        for (const key of this.dedup.getKeys(dedupRange(scope))) this.dedup.removeSync(key);
        return true;
      }),
    );
  }

  loadDedup(scope: string): [string, number][] {
    const out: [string, number][] = [];
    for (const { value } of this.dedup.getRange({ ...dedupRange(scope), snapshot: false })) {
      const [expiresAt, id] = value;
      out.push([id, expiresAt]);
    }
    return out.sort((a, b) => a[1] - b[1]);
  }

  read(queueId: number, seq: number): MessageRecord | undefined {
    this.ops++;
    const key = messageKey(queueId, seq);
    let value = this.messages.get(key);
    if (value === undefined) {
      // lmdb-js renews its cached read transaction lazily; right after a commit resolves it
      // may still show the snapshot from before that commit. Renew once and look again.
      this.root.resetReadTxn();
      value = this.messages.get(key);
    }
    return value === undefined ? undefined : decodeRecord(value);
  }

  readRange(queueId: number, fromSeq: number, toSeq: number, limit: number, maxBytes: number): StoredMessage[] {
    // lmdb-js renews its cached read transaction lazily: look at the latest commit.
    this.root.resetReadTxn();
    const out: StoredMessage[] = [];
    let bytes = 0;
    for (const { key, value } of this.messages.getRange({
      start: messageKey(queueId, fromSeq),
      end: messageKey(queueId, toSeq + 1),
      limit,
      snapshot: false,
    })) {
      // Binary values from a range read are copies (lmdb-js slices them): the body may be kept.
      const record = decodeRecord(value);
      out.push({ seq: seqOfKey(key), record });
      bytes += record.content.length;
      if (bytes >= maxBytes) break;
    }
    return out;
  }

  recover(queueId: number): RecoveredEntry[] {
    const range = queueRange(queueId);
    const hwm = this.loadHwm(queueId);
    const states = new Map<number, [number, number]>();
    for (const { key, value } of this.deliveries.getRange({ ...range, snapshot: false })) {
      // older stores kept a bare count
      states.set(seqOfKey(key), typeof value === 'number' ? [value, 0] : value);
    }
    const out: RecoveredEntry[] = [];
    for (const { key, value } of this.messages.getRange({ ...range, snapshot: false })) {
      const seq = seqOfKey(key);
      const state = states.get(seq);
      const [stored, readyAt] = state ?? [0, 0];
      const deliveries = Math.max(stored, seq <= hwm ? 1 : 0);
      const lease = state === undefined ? 0 : HAS_RECORD | (readyAt !== 0 ? DELAYED : 0);
      out.push({ seq, size: recordBodySize(value), deliveries, readyAt, lease, ...decodeMeta(value) });
    }
    return out;
  }

  durable(): Promise<void> {
    if (this.hwmScheduled) this.writeHwm();
    if (this.countsScheduled) this.writeCounts();
    const w = this.lastWrite;
    this.lastWrite = undefined;
    if (w !== undefined) {
      // The commit (w) rejects when the transaction fails; `flushed` alone might never settle.
      // A failed earlier batch does not fail this one: each batch is its own transaction,
      // and its publishers were nacked already.
      this.tail = Promise.all([this.tail.catch(noop), w, w.flushed ?? w]).then(noop);
    }
    return this.tail;
  }

  sizeBytes(): number {
    try {
      return statSync(this.path).size;
    } catch {
      return 0;
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    this.stopBackgroundCheck();
    clearInterval(this.idleTimer);
    await this.remapDone;
    if (this.countsRetry !== undefined) clearTimeout(this.countsRetry);
    if (this.hwmScheduled) this.writeHwm();
    if (this.countsScheduled) this.writeCounts();
    // A failed last batch was nacked already; shutting down must still close the environment.
    await this.durable().catch(noop);
    await Promise.resolve(this.root.flushed).catch(noop);
    await this.root.close();
    watchLmdbRejections(-1);
  }
}
