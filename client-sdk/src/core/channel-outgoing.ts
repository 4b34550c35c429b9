/**
 * What a channel sends, in order, and when: publisher flow control and confirms.
 *
 * Frames leave at once while the channel is *linked* (open on the current connection and
 * not being recovered), the broker has not blocked publishing, nothing is already waiting,
 * and - for a publish - fewer than `maxUnconfirmed` publishes await their confirm.
 * Otherwise they wait here, in order: a publish waits for room or for `unblocked`; any
 * later frame of the channel (a declare, a consume ...) waits behind it, so the broker
 * still sees the channel's operations in the order the application made them. Acks and
 * nacks do not come through here (their order relative to publishes does not matter).
 *
 * While the connection is down, publishes wait too, counted against the connection's
 * bounded buffer; the ones that were sent but not confirmed when it dropped are kept
 * (`inflight`) and sent again, before anything that waits, once it is back.
 *
 * A channel without confirms (`createChannel({ confirm: false })`) settles a publish when it
 * hands the frame to the session; instead of `maxUnconfirmed` its publishes wait while the
 * socket's buffered amount is above SOCKET_HIGH_WATER_BYTES (polled: neither `ws` nor
 * browsers have a drain event on the WebSocket). Nothing of it is kept across a drop: a
 * publish handed over before the connection dropped cannot be sent again.
 */
import { encodeFrame } from '../protocol/codec.js';
import type { Frame, FrameOf } from '../protocol/frames.js';
import { ConfirmTracker } from './confirms.js';
import { deferred, type Deferred } from './deferred.js';
import { PublishBufferFullError } from './errors.js';
import { Fifo } from './fifo.js';

/** One publish, from the call to its confirm. */
export interface PublishRecord {
  readonly kind: 'publish';
  readonly frame: FrameOf<'publish'>;
  readonly resolve: (value: void) => void;
  readonly reject: (err: Error) => void;
  /** Publish number on this channel (1, 2, 3 ...), for waitForConfirms. */
  readonly id: number;
  /** Position in the channel's send order, set when sent; orders re-sends after recovery. */
  order: number;
  /** Counted against the connection's buffer of publishes made while it is down. */
  buffered: boolean;
}

/** A non-publish frame waiting its turn. */
interface FrameEntry {
  readonly kind: 'frame';
  readonly frame: Frame;
}

type Entry = PublishRecord | FrameEntry;

/** What the outgoing side needs from its channel and connection. */
export interface OutgoingIo {
  /** Hands a frame to the current session. Throws for an unencodable value. */
  transmit(frame: Frame): void;
  /** Counts a publish against the connection's buffer while it is down; false when full. */
  reserve(bytes: number): boolean;
  /** Returns what `reserve` counted. */
  release(bytes: number): void;
  /** True while the socket's buffered amount is high (channels without confirms wait). */
  congested(): boolean;
  /** A waiting non-publish frame was sent, at position `order` of the send order. */
  sent(frame: Frame, order: number): void;
  /** A waiting non-publish frame could not be encoded. */
  failed(frame: Frame, err: Error): void;
}

interface ConfirmWaiter {
  /** Publishes numbered up to here are waited for. */
  readonly upTo: number;
  /** How many of them are still unsettled. */
  remaining: number;
  failure: Error | undefined;
  readonly done: Deferred<void>;
}

const EMPTY = new Uint8Array(0);
const RESOLVED: Promise<void> = Promise.resolve();

/**
 * Socket bytes not yet written above which a channel without confirms holds its publishes
 * (the broker's default `socketHighWaterBytes`, 4 MiB).
 */
export const SOCKET_HIGH_WATER_BYTES = 4 * 1024 * 1024;

/** How often a congested channel looks at the socket again. */
const DRAIN_POLL_MS = 1;

/** The outgoing side of one channel. */
export class ChannelOutgoing {
  /** Open on the current session and not being recovered: frames may leave. */
  linked = false;
  /** The broker blocked publishing (connection `blocked`). */
  blocked = false;
  /** Most unconfirmed publishes; 0 for no limit. */
  maxUnconfirmed: number;
  /** Publisher confirms on; false settles a publish when it is handed to the session. */
  readonly confirming: boolean;
  private drainTimer: ReturnType<typeof setTimeout> | undefined;
  private readonly drainCheck = (): void => {
    this.drainTimer = undefined;
    this.pump();
  };
  private readonly confirms = new ConfirmTracker<PublishRecord>((r, err) => this.settled(r, err));
  private readonly waiting = new Fifo<Entry>();
  /** Sent but unconfirmed when the connection dropped: sent again on recovery. */
  private inflight: PublishRecord[] = [];
  private order = 0;
  private nextId = 1;
  /** Publishes accepted and not yet settled, wherever they are. */
  private unsettled = 0;
  private waiters: ConfirmWaiter[] = [];
  private nextFrame: FrameOf<'publish'> | undefined;
  private nextBuffered = false;
  // One executor for every publish (no closure per call): takes its frame from nextFrame.
  private readonly sendExecutor = (resolve: (value: void) => void, reject: (err: Error) => void): void => {
    const record = this.record(resolve, reject);
    record.order = ++this.order;
    this.confirms.add(record);
  };
  private readonly queueExecutor = (resolve: (value: void) => void, reject: (err: Error) => void): void => {
    const record = this.record(resolve, reject);
    record.buffered = this.nextBuffered;
    this.waiting.push(record);
  };

  constructor(
    private readonly io: OutgoingIo,
    maxUnconfirmed: number,
    confirming = true,
  ) {
    this.maxUnconfirmed = maxUnconfirmed;
    this.confirming = confirming;
  }

  /** Publishes sent and awaiting their confirm on the current session. */
  get outstanding(): number {
    return this.confirms.outstanding;
  }

  /** Publishes accepted but not yet sent (waiting for room, `unblocked` or recovery). */
  get waitingPublishes(): number {
    let n = this.inflight.length;
    for (const e of this.waiting) if (e.kind === 'publish') n++;
    return n;
  }

  /** Publishes accepted and not yet confirmed or failed. */
  get unconfirmed(): number {
    return this.unsettled;
  }

  /** True if `seqNo` was handed out on the current session. */
  isIssued(seqNo: number): boolean {
    return this.confirms.isIssued(seqNo);
  }

  /** Highest sequence number handed out on the current session. */
  get lastSeq(): number {
    return this.confirms.nextSeq - 1;
  }

  /**
   * Publishes `frame`: resolves on its confirm. Sends it now if it may leave, else queues
   * it. Throws (synchronously, nothing queued) for an unencodable property.
   */
  publish(frame: FrameOf<'publish'>): Promise<void> {
    if (!this.confirming && this.linked && !this.blocked && this.waiting.length === 0 && !this.stalled()) {
      this.io.transmit(frame); // may throw: nothing queued
      this.order++;
      return RESOLVED;
    }
    if (this.confirming && this.linked && !this.blocked && this.waiting.length === 0 && !this.full()) {
      this.io.transmit(frame); // may throw: then no sequence number was used
      this.nextFrame = frame;
      return new Promise<void>(this.sendExecutor);
    }
    // Encode the fields now, so that a bad header throws here rather than when sent.
    encodeFrame({ ...frame, content: EMPTY });
    if (!this.linked && !this.io.reserve(frame.content.byteLength)) {
      return Promise.reject(
        new PublishBufferFullError('the connection is down and its buffer of publishes waiting for it is full'),
      );
    }
    this.nextFrame = frame;
    this.nextBuffered = !this.linked;
    return new Promise<void>(this.queueExecutor);
  }

  /** Sends a non-publish frame in order: now, or after what waits. */
  send(frame: Frame): void {
    if (this.linked && this.waiting.length === 0) {
      this.io.transmit(frame);
      this.io.sent(frame, ++this.order);
      return;
    }
    this.waiting.push({ kind: 'frame', frame });
  }

  /** Sends what may leave now. */
  pump(): void {
    while (this.linked) {
      const e = this.waiting.peek();
      if (e === undefined) return;
      if (e.kind === 'publish') {
        if (this.blocked || this.full() || this.stalled()) return;
        this.waiting.shift();
        this.unbuffer(e);
        try {
          this.io.transmit(e.frame);
        } catch (err) {
          this.settled(e, err as Error);
          continue;
        }
        e.order = ++this.order;
        if (this.confirming) this.confirms.add(e);
        else this.settled(e, undefined);
      } else {
        this.waiting.shift();
        try {
          this.io.transmit(e.frame);
        } catch (err) {
          this.io.failed(e.frame, err as Error);
          continue;
        }
        this.io.sent(e.frame, ++this.order);
      }
    }
  }

  /** Broker `blocked`/`unblocked`: stops or resumes sending publishes. */
  setBlocked(blocked: boolean): void {
    this.blocked = blocked;
    if (!blocked) this.pump();
  }

  /** publishAck. */
  ack(seqNo: number, multiple: boolean): void {
    this.confirms.ack(seqNo, multiple);
    if (this.waiting.length > 0) this.pump();
  }

  /** publishNack. */
  nack(seqNo: number, multiple: boolean, err: Error): void {
    this.confirms.nack(seqNo, multiple, err);
    if (this.waiting.length > 0) this.pump();
  }

  /**
   * The connection dropped (and will be recovered): stop sending; the unconfirmed
   * publishes are kept to be sent again. Sequence numbers start again at 1.
   */
  sessionLost(): void {
    this.linked = false;
    const outstanding = this.confirms.takeOutstanding();
    if (outstanding.length > 0) this.inflight = this.inflight.concat(outstanding);
  }

  /** The publishes to send again after recovery, in their original send order (and forgets them). */
  takeInflight(): PublishRecord[] {
    const out = this.inflight;
    this.inflight = [];
    return out;
  }

  /** Sends a publish again during recovery (before the channel is linked). */
  resend(record: PublishRecord): void {
    try {
      this.io.transmit(record.frame);
    } catch (err) {
      this.settled(record, err as Error);
      return;
    }
    record.order = ++this.order;
    this.confirms.add(record);
  }

  /** Takes the next position in the send order, for a frame sent outside `send`. */
  nextOrder(): number {
    return ++this.order;
  }

  /** Fails every publish not yet confirmed with `err` and drops what waits (channel closed for good). */
  failAll(err: Error): void {
    this.linked = false;
    if (this.drainTimer !== undefined) clearTimeout(this.drainTimer);
    this.drainTimer = undefined;
    this.confirms.failAll(err);
    for (const r of this.takeInflight()) this.settled(r, err);
    for (const e of this.waiting.drain()) {
      if (e.kind === 'publish') {
        this.unbuffer(e);
        this.settled(e, err);
      }
    }
  }

  /**
   * Resolves once every publish made so far is confirmed; rejects with the first failure
   * (nack, channel closed) among them, after all of them have settled.
   */
  waitForConfirms(): Promise<void> {
    if (this.unsettled === 0) return Promise.resolve();
    const w: ConfirmWaiter = { upTo: this.nextId - 1, remaining: this.unsettled, failure: undefined, done: deferred() };
    this.waiters.push(w);
    return w.done.promise;
  }

  private full(): boolean {
    return this.confirming && this.maxUnconfirmed > 0 && this.confirms.outstanding >= this.maxUnconfirmed;
  }

  /** Without confirms: the socket is backed up; looks again shortly. */
  private stalled(): boolean {
    if (this.confirming || !this.io.congested()) return false;
    this.drainTimer ??= setTimeout(this.drainCheck, DRAIN_POLL_MS);
    return true;
  }

  private record(resolve: (value: void) => void, reject: (err: Error) => void): PublishRecord {
    const frame = this.nextFrame!;
    this.nextFrame = undefined;
    this.unsettled++;
    return { kind: 'publish', frame, resolve, reject, id: this.nextId++, order: 0, buffered: false };
  }

  private unbuffer(r: PublishRecord): void {
    if (!r.buffered) return;
    this.io.release(r.frame.content.byteLength);
    r.buffered = false;
  }

  private settled(r: PublishRecord, err: Error | undefined): void {
    this.unsettled--;
    if (err === undefined) r.resolve();
    else r.reject(err);
    if (this.waiters.length > 0) this.settleWaiters(r, err);
  }

  private settleWaiters(r: PublishRecord, err: Error | undefined): void {
    let finished = false;
    for (const w of this.waiters) {
      if (r.id > w.upTo) continue;
      w.failure ??= err;
      if (--w.remaining === 0) finished = true;
    }
    if (!finished) return;
    const still: ConfirmWaiter[] = [];
    for (const w of this.waiters) {
      if (w.remaining > 0) still.push(w);
      else if (w.failure === undefined) w.done.resolve();
      else w.done.reject(w.failure);
    }
    this.waiters = still;
  }
}
