import type { QueuePosition } from './store.js';

/**
 * What one turn's writes changed in the counts: taken back if the batch carrying them fails.
 * Opaque outside this module; the store holds it until its batch settles.
 */
export interface CountTurn {
  /** Queue id -> [messages, bytes] this turn added (negative: removed). */
  readonly deltas: Map<number, [number, number]>;
  /** Queue id -> per level `[messages0, bytes0, messages1, bytes1, ...]`. */
  readonly levelDeltas: Map<number, number[]>;
  /** Messages enqueued this turn: queue id -> seq -> body size and level, and whether new. */
  readonly enqueued: Map<number, Map<number, Stored & { fresh: boolean }>>;
}

/** A message's body size and priority level, as counted when it was enqueued. */
export interface Stored {
  size: number;
  priority: number;
}

/** A count record as written: `[messages, bytes, lastSeq]`, plus the per-level counts of a priority queue. */
export type CountRecord = [number, number, number] | [number, number, number, number[]];

/**
 * Per-queue message counts of a store whose writes are grouped into batches that commit or
 * fail as a whole (spec/semantics.md §Deep backlogs): the counts as of every write issued, the
 * records each turn must write beside its messages, and the bookkeeping that keeps them true
 * when a batch fails (disk full). Pure: the store does the I/O.
 *
 * A failed batch wrote none of its messages and none of its count records, so:
 * - what it counted is taken back, and that correction is not itself a change of the next
 *   turn (were the next batch to fail too, taking its changes back would undo the correction);
 * - the stored record of each queue it touched may now be stale (a later batch may have
 *   committed a record that included the failed changes), so it is written again;
 * - the messages it enqueued are not stored: settling one later (the queue still holds it in
 *   memory and may deliver it) must not count it out a second time.
 */
export class CountBook {
  private readonly counts = new Map<number, QueuePosition>();
  private readonly levels = new Map<number, number[]>();
  private turn: CountTurn = newTurn();
  private readonly dirty = new Set<number>();
  /** Messages whose enqueue failed with its batch, per queue: seq -> size and level. */
  private readonly lost = new Map<number, Map<number, Stored>>();

  /** The queue's counts, if known (loaded or set). */
  get(queueId: number): QueuePosition | undefined {
    return this.counts.get(queueId);
  }

  /** Per-level counts of a priority queue (its marker: indexed), if any. */
  levelsOf(queueId: number): number[] | undefined {
    return this.levels.get(queueId);
  }

  /** Takes a queue's counts as loaded (its record) or computed; `write` marks them to be written. */
  load(queueId: number, position: QueuePosition, levels: number[] | undefined, write: boolean): QueuePosition {
    this.counts.set(queueId, position);
    if (levels !== undefined) this.levels.set(queueId, levels);
    if (write) this.dirty.add(queueId);
    return position;
  }

  /** Starts per-level counts for a queue (priority index built now): written with the next turn. */
  setLevels(queueId: number, levels: number[]): void {
    this.levels.set(queueId, levels);
    this.dirty.add(queueId);
  }

  /** The queue is gone: forget everything about it. */
  forget(queueId: number): void {
    this.counts.delete(queueId);
    this.levels.delete(queueId);
    this.dirty.delete(queueId);
    this.turn.deltas.delete(queueId);
    this.turn.levelDeltas.delete(queueId);
    this.turn.enqueued.delete(queueId);
    this.lost.delete(queueId);
  }

  /**
   * A message stored under `seq`: counted once, also when an id is replayed (`replaced` is what
   * the replayed message counted, read from the store, when it was not enqueued this turn).
   * The queue's counts must be loaded. Returns what the replayed message counted, if it is one.
   */
  enqueue(queueId: number, seq: number, stored: Stored, replaced: () => Stored | undefined): Stored | undefined {
    const c = this.counts.get(queueId)!;
    let old: Stored | undefined;
    if (seq > c.lastSeq) c.lastSeq = seq;
    else old = this.turn.enqueued.get(queueId)?.get(seq) ?? replaced();
    if (old !== undefined) this.changeLevel(queueId, old.priority, -1, -old.size);
    this.changeLevel(queueId, stored.priority, 1, stored.size);
    this.change(queueId, old === undefined ? 1 : 0, stored.size - (old?.size ?? 0));
    let mine = this.turn.enqueued.get(queueId);
    if (mine === undefined) this.turn.enqueued.set(queueId, (mine = new Map<number, Stored & { fresh: boolean }>()));
    // A replay of a message stored by an earlier batch is no new message: if this batch
    // fails, the earlier one is still there.
    const fresh = old === undefined || mine.get(seq)?.fresh === true;
    mine.set(seq, { size: stored.size, priority: stored.priority, fresh });
    return old;
  }

  /**
   * Whether a settled message (acked, dropped) was counted: false for one whose enqueue failed
   * with its batch (counted out then already). When counted, it is counted out here.
   */
  remove(queueId: number, seq: number, size: number, priority: number | undefined): boolean {
    const lost = this.lost.get(queueId);
    if (lost?.delete(seq) === true) {
      if (lost.size === 0) this.lost.delete(queueId);
      return false;
    }
    if (priority !== undefined) this.changeLevel(queueId, priority, -1, -size);
    this.change(queueId, -1, -size);
    return true;
  }

  /**
   * Messages from `fromSeq` on (of one level, if given) removed by range; `removed` is what
   * the queue counted there, which includes messages whose enqueue failed: those are not
   * counted out twice.
   */
  removeFrom(queueId: number, fromSeq: number, removed: { messages: number; bytes: number }, priority?: number): void {
    let { messages, bytes } = removed;
    const lost = this.lost.get(queueId);
    if (lost !== undefined) {
      for (const [seq, s] of lost) {
        if (seq < fromSeq || (priority !== undefined && s.priority !== priority)) continue;
        lost.delete(seq);
        messages -= 1;
        bytes -= s.size;
      }
      if (lost.size === 0) this.lost.delete(queueId);
    }
    if (priority !== undefined) this.changeLevel(queueId, priority, -messages, -bytes);
    this.change(queueId, -messages, -bytes);
  }

  /** Whether any count changed since the last `closeTurn` (a record must be written). */
  get pending(): boolean {
    return this.dirty.size > 0;
  }

  /**
   * Ends the turn: the records to write in its batch (each queue whose counts changed, or
   * whose stored record is stale), and the turn to hand to `failed` if that batch fails.
   */
  closeTurn(): { records: [number, CountRecord][]; turn: CountTurn } {
    const records: [number, CountRecord][] = [];
    for (const id of this.dirty) {
      const c = this.counts.get(id);
      if (c === undefined) continue;
      const levels = this.levels.get(id);
      records.push([
        id,
        levels === undefined ? [c.messages, c.bytes, c.lastSeq] : [c.messages, c.bytes, c.lastSeq, [...levels]],
      ]);
    }
    this.dirty.clear();
    const turn = this.turn;
    this.turn = newTurn();
    return { records, turn };
  }

  /**
   * The batch that carried `turn` failed: its changes are taken back (directly, not as changes
   * of the current turn), its messages are remembered as not stored, and every queue it wrote
   * a record for is marked to be written again (`pending`).
   */
  failed(turn: CountTurn, written: readonly number[]): void {
    for (const [id, d] of turn.levelDeltas) {
      const levels = this.levels.get(id);
      if (levels !== undefined) d.forEach((v, i) => (levels[i] = (levels[i] ?? 0) - (v ?? 0)));
    }
    for (const [id, [messages, bytes]] of turn.deltas) {
      const c = this.counts.get(id);
      if (c === undefined) continue;
      c.messages -= messages;
      c.bytes -= bytes;
    }
    for (const [id, seqs] of turn.enqueued) {
      if (!this.counts.has(id)) continue;
      let lost = this.lost.get(id);
      if (lost === undefined) this.lost.set(id, (lost = new Map<number, Stored>()));
      for (const [seq, s] of seqs) if (s.fresh) lost.set(seq, { size: s.size, priority: s.priority });
    }
    for (const id of written) if (this.counts.has(id)) this.dirty.add(id);
  }

  private change(queueId: number, messages: number, bytes: number): void {
    const c = this.counts.get(queueId)!;
    c.messages += messages;
    c.bytes += bytes;
    const d = this.turn.deltas.get(queueId);
    if (d === undefined) this.turn.deltas.set(queueId, [messages, bytes]);
    else {
      d[0] += messages;
      d[1] += bytes;
    }
    this.dirty.add(queueId);
  }

  /** Changes a level's counts (priority queues only; a queue without levels is left alone). */
  private changeLevel(queueId: number, priority: number, messages: number, bytes: number): void {
    const levels = this.levels.get(queueId);
    if (levels === undefined) return;
    levels[2 * priority] = (levels[2 * priority] ?? 0) + messages;
    levels[2 * priority + 1] = (levels[2 * priority + 1] ?? 0) + bytes;
    let d = this.turn.levelDeltas.get(queueId);
    if (d === undefined) this.turn.levelDeltas.set(queueId, (d = []));
    d[2 * priority] = (d[2 * priority] ?? 0) + messages;
    d[2 * priority + 1] = (d[2 * priority + 1] ?? 0) + bytes;
  }
}

function newTurn(): CountTurn {
  return { deltas: new Map(), levelDeltas: new Map(), enqueued: new Map() };
}
