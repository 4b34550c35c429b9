/**
 * Channel machinery shared by every channel operation: the state machine, request ids and
 * pending RPCs, incoming-frame dispatch, publisher confirms (channel-outgoing.ts),
 * consumers, delivery tags, closing (by the client, by the broker, or with the
 * connection) and automatic recovery. The public API lives in channel.ts.
 *
 * Recovery, seen from a channel: when the connection drops and will be recovered,
 * `onSessionLost(err, true)` keeps everything the application relies on - the channel
 * stays `open`, consumers stay registered, unconfirmed publishes and unanswered requests
 * are kept - and bumps the delivery-tag offset, so that messages received before the drop
 * (which the broker requeues) can no longer be acknowledged by mistake against the new
 * session's tags. `recover()` then re-opens the channel under the same number, restores
 * its prefetch, re-subscribes its consumers under the same tags, re-sends what was in
 * flight in its original order, and lets waiting frames go.
 */
import { BrokerError, ErrorCode, ProtocolError } from '../protocol/errors.js';
import type { Frame, FrameName, FrameOf } from '../protocol/frames.js';
import { ChannelOutgoing } from './channel-outgoing.js';
import { ConsumerSet, type Consumer } from './consumer.js';
import { deferred, type Deferred } from './deferred.js';
import { DeliveryTags } from './delivery-tags.js';
import { Emitter } from './emitter.js';
import {
  ChannelState,
  type ChannelEvents,
  type ChannelHost,
  type ChannelSetup,
  type RpcFrame,
} from './channel-types.js';
import { ChannelClosedError } from './errors.js';
import { MessageFactory, type ConsumeMessage } from './message.js';

export {
  ChannelState,
  type ChannelEvents,
  type ChannelHost,
  type ChannelLink,
  type ChannelOptions,
  type ChannelSetup,
  type RpcFrame,
} from './channel-types.js';

interface PendingRpc {
  readonly frame: RpcFrame;
  map(reply: Frame): unknown;
  resolve(value: unknown): void;
  reject(err: Error): void;
  /** Sent on the current session (else it waits in the outgoing queue). */
  sent: boolean;
  /** Position in the channel's send order. */
  order: number;
  /** A recovery request: failed rather than re-sent if the connection drops again. */
  readonly internal: boolean;
}

/**
 * Narrows an RPC reply to the expected type.
 * @throws ProtocolError (UNEXPECTED_FRAME) for any other frame type
 */
export function expectReply<N extends FrameName>(reply: Frame, type: N): FrameOf<N> {
  if (reply.type !== type) {
    throw new ProtocolError(`expected ${type} in reply, got ${reply.type}`, ErrorCode.UNEXPECTED_FRAME);
  }
  return reply as FrameOf<N>;
}

function unexpected(f: Frame, state: ChannelState): ProtocolError {
  return new ProtocolError(`unexpected ${f.type} frame on channel ${f.channel} (${state})`, ErrorCode.UNEXPECTED_FRAME);
}

/** Base of Channel: everything but the public operations. */
export abstract class ChannelBase<C extends Uint8Array> extends Emitter<ChannelEvents<C>> {
  /** The channel number (1..65535); kept across automatic recovery. */
  readonly number: number;
  /** @internal */
  protected readonly host: ChannelHost<C>;
  /** @internal */
  protected readonly outgoing: ChannelOutgoing;
  /** @internal */
  protected readonly consumers = new ConsumerSet<C>((err, msg, c) => this.#onConsumerError(err, msg, c));
  /** @internal */
  protected readonly messages: MessageFactory<C>;
  /** Delivery tags, offset across recoveries. @internal */
  protected readonly tags = new DeliveryTags();
  /** Prefetch set with `prefetch()`, by `global`, re-applied on recovery. @internal */
  protected readonly prefetchCounts = new Map<boolean, number>();
  #state: ChannelState = ChannelState.Opening;
  #closeReason: Error | undefined;
  #closeRef = 0;
  #nextRid = 1;
  readonly #pending = new Map<number, PendingRpc>();
  readonly #opened: Deferred<void>;
  #closing: Deferred<void> | undefined;
  /** channelOpenOk received on the current session. */
  #sessionOpen = false;
  /** Set while recover() waits for channelOpenOk. */
  #reopened: Deferred<void> | undefined;
  readonly #internal: boolean;

  /** @internal Channels are created by `Connection.createChannel()`. */
  constructor(host: ChannelHost<C>, number: number, opened: Deferred<void>, setup: ChannelSetup) {
    super();
    this.host = host;
    this.number = number;
    this.#opened = opened;
    this.#internal = setup.internal;
    this.outgoing = new ChannelOutgoing(
      {
        transmit: (f) => host.transmit(f),
        reserve: (bytes) => host.reserve(bytes),
        release: (bytes) => host.release(bytes),
        congested: () => host.congested(),
        sent: (f, order) => this.#rpcSent(f, order),
        failed: (f, err) => this.#rpcFailed(f, err),
      },
      setup.maxUnconfirmed,
      setup.confirm !== false,
    );
    this.messages = new MessageFactory<C>(
      host.wrapContent,
      {
        ack: (m, allUpTo) => this.settleDelivery('ack', m.fields.deliveryTag, allUpTo, false),
        nack: (m, allUpTo, requeue, delayMs) =>
          this.settleDelivery('nack', m.fields.deliveryTag, allUpTo, requeue, delayMs),
      },
      host.schemas,
    );
    host.attach(number, {
      internal: setup.internal,
      onFrame: (f) => this.#onFrame(f),
      onSessionLost: (err, recovering) => this.#onSessionLost(err, recovering),
      recover: () => this.#recover(),
      setBlocked: (blocked) => this.outgoing.setBlocked(blocked),
    });
    if (setup.internal || host.canOpen()) this.#transmitOpen();
  }

  /** channelOpen, then confirmSelect for a channel without confirms (before any publish). */
  #transmitOpen(): void {
    this.host.transmit({ type: 'channelOpen', channel: this.number });
    if (!this.outgoing.confirming) this.host.transmit({ type: 'confirmSelect', channel: this.number, enabled: false });
  }

  /** Current state: `open`, `closing` (close sent, awaiting the broker) or `closed`. */
  get state(): ChannelState {
    return this.#state;
  }

  /** False for a channel made with `createChannel({ confirm: false })`: its publishes are not confirmed. */
  get confirm(): boolean {
    return this.outgoing.confirming;
  }

  /** Publishes accepted on this channel and not yet confirmed (sent or waiting to be sent). */
  get outstandingConfirms(): number {
    return this.outgoing.unconfirmed;
  }

  /** Most unconfirmed publishes before further ones wait (0: no limit); may be changed at any time. */
  get maxUnconfirmed(): number {
    return this.outgoing.maxUnconfirmed;
  }

  set maxUnconfirmed(value: number) {
    if (!Number.isInteger(value) || value < 0)
      throw new RangeError('maxUnconfirmed must be a non-negative integer (0: no limit)');
    this.outgoing.maxUnconfirmed = value;
    this.outgoing.pump();
  }

  /**
   * Resolves once every publish made on this channel so far is confirmed. Rejects, once
   * they have all settled, with the first failure among them (a broker nack, or the
   * channel closing), as amqplib's `waitForConfirms` does.
   */
  waitForConfirms(): Promise<void> {
    return this.outgoing.waitForConfirms();
  }

  /**
   * Closes the channel: sends channelClose (after any frames still waiting to be sent) and
   * resolves once the broker confirms. Pending operations and unconfirmed publishes still
   * outstanding then reject with ChannelClosedError; unacked deliveries are requeued by the
   * broker. While the connection is being recovered, the channel closes at once, locally.
   * Resolves at once if the channel is already closed.
   */
  close(): Promise<void> {
    switch (this.#state) {
      case ChannelState.Closed:
        return Promise.resolve();
      case ChannelState.Closing:
        return this.#closing!.promise;
      default: {
        this.#state = ChannelState.Closing;
        const closing = (this.#closing = deferred());
        const frame: Frame = {
          type: 'channelClose',
          channel: this.number,
          code: 200,
          message: 'closed by client',
          ref: 0,
        };
        if (this.outgoing.linked) this.outgoing.send(frame);
        else if (this.#sessionOpen) this.host.transmit(frame);
        else this.#terminate(new ChannelClosedError(`channel ${this.number} closed by client`), false);
        return closing.promise;
      }
    }
  }

  /** True while operations may be started. @internal */
  protected isOpen(): boolean {
    return this.#state === ChannelState.Open;
  }

  /** The error for an operation attempted on a closed (or closing) channel. @internal */
  protected closedError(): ChannelClosedError {
    const detail = this.#state === ChannelState.Closing ? 'is closing' : 'is closed';
    return new ChannelClosedError(`channel ${this.number} ${detail}`, { cause: this.#closeReason });
  }

  /** @internal @throws ChannelClosedError unless open */
  protected requireOpen(): void {
    if (this.#state !== ChannelState.Open) throw this.closedError();
  }

  /**
   * After recoverOk: every delivery received so far is void (requeued by the broker, coming
   * again), including those still waiting for a `concurrency` slot. @internal
   */
  protected voidDeliveries(): void {
    this.tags.voidAll();
    this.consumers.dropBacklogs();
  }

  /** The next request id. @internal */
  protected nextRid(): number {
    return this.#nextRid++;
  }

  /**
   * Sends a request (in order with the channel's other frames) and resolves with
   * `map(reply)` once the reply with the same rid arrives. `map` runs synchronously in
   * frame processing, so state it sets up (a consumer registration) is in place before the
   * next frame of the same WebSocket message.
   * @internal
   */
  protected rpc<T>(frame: RpcFrame, map: (reply: Frame) => T): Promise<T> {
    if (this.#state !== ChannelState.Open) return Promise.reject(this.closedError());
    return new Promise<T>((resolve, reject) => {
      const p: PendingRpc = { frame, map, resolve: resolve, reject, sent: false, order: 0, internal: false };
      this.#pending.set(frame.rid, p);
      try {
        this.outgoing.send(frame);
      } catch (err) {
        this.#pending.delete(frame.rid);
        throw err;
      }
    });
  }

  /**
   * A raw request for the SDK's own use (topology recovery): its rid, and its reply.
   * @internal
   */
  request(build: (rid: number) => RpcFrame): { rid: number; reply: Promise<Frame> } {
    const rid = this.nextRid();
    return { rid, reply: this.rpc({ ...build(rid), channel: this.number }, (r) => r) };
  }

  /** The `ref` (failing request's rid) of the broker's channelClose, 0 if none. @internal */
  get closeRef(): number {
    return this.#closeRef;
  }

  /**
   * Sends an ack or nack for SDK-side tag `tag` (with `multiple`, for everything up to it).
   * A tag from before the last recovery is ignored: that delivery is dead, the broker has
   * requeued it.
   * @internal @throws ChannelClosedError unless open
   */
  protected settleDelivery(type: 'ack' | 'nack', tag: number, multiple: boolean, requeue: boolean, delayMs = 0): void {
    this.requireOpen();
    const deliveryTag = this.tags.wire(tag);
    if (deliveryTag === 0 || !this.#sessionOpen) return;
    // Acking the oldest unsettled delivery with `multiple` means the same to the broker (there
    // is nothing below it to ack) and lets the outbox fold a turn's in-order acks into one frame.
    if (type === 'ack' && !multiple && this.tags.isOldestUnsettled(tag)) multiple = true;
    if (type === 'ack') this.host.transmit({ type, channel: this.number, deliveryTag, multiple });
    else this.host.transmit({ type, channel: this.number, deliveryTag, multiple, requeue, delayMs });
    this.tags.settled(tag, multiple);
  }

  #onFrame(f: Frame): void {
    switch (f.type) {
      case 'deliver':
        return this.#onDeliver(f);
      case 'publishAck':
        this.#checkSeqNo(f.seqNo, f.type);
        return this.outgoing.ack(f.seqNo, f.multiple);
      case 'publishNack':
        this.#checkSeqNo(f.seqNo, f.type);
        return this.outgoing.nack(f.seqNo, f.multiple, new BrokerError(f.code, f.message));
      case 'return':
        if (this.#state === ChannelState.Opening) throw unexpected(f, this.#state);
        this.emit('return', this.messages.returned(f));
        return;
      case 'cancelNotify':
        return this.#onCancelNotify(f);
      case 'consumerActive':
        this.emit('consumer-active', { consumerTag: f.consumerTag, active: f.active });
        return;
      case 'channelOpenOk':
        return this.#onOpenOk(f);
      case 'channelClose':
        return this.#onBrokerClose(f);
      case 'channelCloseOk':
        // Outside `closing` this is the broker's answer to our close after its own close
        // crossed it: nothing left to do.
        if (this.#state !== ChannelState.Closing) return;
        return this.#terminate(new ChannelClosedError(`channel ${this.number} closed by client`), false);
      case 'exchangeDeclareOk':
      case 'exchangeDeleteOk':
      case 'exchangeBindOk':
      case 'exchangeUnbindOk':
      case 'queueDeclareOk':
      case 'queueBindOk':
      case 'queueUnbindOk':
      case 'queuePurgeOk':
      case 'queueDeleteOk':
      case 'qosOk':
      case 'consumeOk':
      case 'cancelOk':
      case 'getOk':
      case 'getEmpty':
      case 'recoverOk':
      case 'streamOffsetStoreOk':
      case 'streamOffsetQueryOk':
        return this.#settle(f.rid, f);
      default:
        throw unexpected(f, this.#state);
    }
  }

  #onOpenOk(f: Frame): void {
    if (this.#sessionOpen || this.#state === ChannelState.Closed) throw unexpected(f, this.#state);
    this.#sessionOpen = true;
    if (this.#state === ChannelState.Opening) {
      this.#state = ChannelState.Open;
      this.#opened.resolve();
    }
    const reopened = this.#reopened;
    if (reopened !== undefined) {
      // recover() continues from here.
      this.#reopened = undefined;
      reopened.resolve();
      return;
    }
    this.outgoing.blocked = this.host.blocked();
    this.outgoing.linked = true;
    this.outgoing.pump();
  }

  #onDeliver(f: FrameOf<'deliver'>): void {
    if (this.#state !== ChannelState.Open) {
      // After channelClose was sent, AMQP has deliveries discarded (the broker requeues).
      if (this.#state === ChannelState.Closing) return;
      throw unexpected(f, this.#state);
    }
    const consumer = this.consumers.get(f.consumerTag);
    if (consumer === undefined) {
      throw new ProtocolError(
        `deliver for unknown consumer "${f.consumerTag}" on channel ${this.number}`,
        ErrorCode.UNEXPECTED_FRAME,
      );
    }
    const noAck = consumer.noAck;
    const tag = this.tags.register(f.deliveryTag, noAck);
    this.consumers.dispatch(consumer, this.messages.deliver(f, tag, noAck));
  }

  #onCancelNotify(f: FrameOf<'cancelNotify'>): void {
    const consumer = this.consumers.remove(f.consumerTag);
    if (consumer !== undefined) {
      this.host.topology?.consumerCancelled(consumer.spec.queue);
      this.consumers.dispatch(consumer, null);
    }
    this.emit('cancel', { consumerTag: f.consumerTag, reason: f.reason });
  }

  #onConsumerError(err: unknown, msg: ConsumeMessage<C> | null, consumer: Consumer<C>): void {
    if (msg !== null && !consumer.noAck && this.tags.isUnsettled(msg.fields.deliveryTag) && this.isOpen()) {
      this.settleDelivery('nack', msg.fields.deliveryTag, false, consumer.spec.requeueOnError);
    }
    if (!this.emit('consumer-error', err, msg)) {
      this.host.logger.warn('consumer callback failed', {
        channel: this.number,
        consumerTag: consumer.tag,
        deliveryTag: msg?.fields.deliveryTag,
        error: err instanceof Error ? err.message : String(err),
      });
    }
  }

  #onBrokerClose(f: FrameOf<'channelClose'>): void {
    // Also the answer to our own channelClose if the two crossed: the broker treats our
    // close as its closeOk, and we still owe it this closeOk.
    this.host.transmit({ type: 'channelCloseOk', channel: this.number });
    this.#closeRef = f.ref;
    const graceful = f.code === 200;
    const err = graceful
      ? new ChannelClosedError(`channel ${this.number} closed by the broker: ${f.message}`)
      : new BrokerError(f.code, f.message);
    this.#terminate(err, !graceful);
  }

  #checkSeqNo(seqNo: number, type: string): void {
    if (!this.outgoing.isIssued(seqNo)) {
      throw new ProtocolError(
        `${type} for seqNo ${seqNo}, but channel ${this.number} sent ${this.outgoing.lastSeq} publishes`,
        ErrorCode.UNEXPECTED_FRAME,
      );
    }
  }

  #settle(rid: number, f: Frame): void {
    const pending = this.#pending.get(rid);
    if (pending === undefined) {
      throw new ProtocolError(`${f.type} for unknown rid ${rid} on channel ${this.number}`, ErrorCode.UNEXPECTED_FRAME);
    }
    this.#pending.delete(rid);
    let value: unknown;
    try {
      value = pending.map(f);
    } catch (err) {
      pending.reject(err as Error);
      return;
    }
    pending.resolve(value);
  }

  #rpcSent(f: Frame, order: number): void {
    if (!('rid' in f)) return;
    const p = this.#pending.get(f.rid);
    if (p === undefined) return;
    p.sent = true;
    p.order = order;
  }

  #rpcFailed(f: Frame, err: Error): void {
    if (!('rid' in f)) return;
    const p = this.#pending.get(f.rid);
    if (p === undefined) return;
    this.#pending.delete(f.rid);
    p.reject(err);
  }

  /** Sends a recovery request directly (the channel is not linked yet). */
  #rpcDirect<T>(frame: RpcFrame, map: (reply: Frame) => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const p: PendingRpc = { frame, map, resolve: resolve, reject, sent: true, order: 0, internal: true };
      this.#pending.set(frame.rid, p);
      this.host.transmit(frame);
    });
  }

  #onSessionLost(err: Error, recovering: boolean): void {
    if (!recovering || this.#internal) return this.#terminate(err, false);
    switch (this.#state) {
      case ChannelState.Closed:
        return;
      case ChannelState.Closing:
        // The broker forgets the channel with the connection: the close is complete.
        return this.#terminate(new ChannelClosedError(`channel ${this.number} closed by client`), false);
      default:
        break;
    }
    this.#sessionOpen = false;
    this.#reopened?.reject(err);
    this.#reopened = undefined;
    this.outgoing.sessionLost();
    for (const [rid, p] of this.#pending) {
      if (!p.internal) continue;
      this.#pending.delete(rid);
      p.reject(err);
    }
    this.tags.sessionLost();
    this.consumers.dropBacklogs();
  }

  async #recover(): Promise<void> {
    if (this.#state === ChannelState.Closed || this.#internal) return;
    const reopened = (this.#reopened = deferred());
    this.#transmitOpen();
    await reopened.promise;
    const steps: Promise<unknown>[] = [];
    for (const [global, prefetchCount] of this.prefetchCounts) {
      steps.push(
        this.#rpcDirect({ type: 'qos', channel: this.number, rid: this.nextRid(), prefetchCount, global }, (r) =>
          expectReply(r, 'qosOk'),
        ),
      );
    }
    for (const c of this.consumers.all()) steps.push(this.#resubscribe(c));
    this.#resendInflight();
    await Promise.all(steps);
    if (this.#state !== ChannelState.Open || !this.#sessionOpen) return;
    this.outgoing.blocked = this.host.blocked();
    this.outgoing.linked = true;
    this.outgoing.pump();
  }

  #resubscribe(c: Consumer<C>): Promise<void> {
    const s = c.spec;
    const frame: RpcFrame = {
      type: 'consume',
      channel: this.number,
      rid: this.nextRid(),
      queue: s.queue,
      consumerTag: c.tag,
      noAck: s.noAck,
      exclusive: s.exclusive,
      priority: s.priority,
      arguments: s.arguments,
    };
    return this.#rpcDirect(frame, (r) => {
      const { consumerTag } = expectReply(r, 'consumeOk');
      if (consumerTag !== c.tag) {
        this.consumers.remove(c.tag);
        c.tag = consumerTag;
        this.consumers.add(c);
      }
    });
  }

  /** Re-sends the publishes and requests that were in flight at the drop, in their original order. */
  #resendInflight(): void {
    const publishes = this.outgoing.takeInflight();
    const requests = [...this.#pending.values()].filter((p) => p.sent && !p.internal).sort((a, b) => a.order - b.order);
    let i = 0;
    let j = 0;
    while (i < publishes.length || j < requests.length) {
      const p = publishes[i];
      const r = requests[j];
      if (p !== undefined && (r === undefined || p.order < r.order)) {
        this.outgoing.resend(p);
        i++;
      } else if (r !== undefined) {
        this.host.transmit(r.frame);
        r.order = this.outgoing.nextOrder();
        j++;
      }
    }
  }

  /** Moves to `closed` once: fails everything pending with `err`, then emits. */
  #terminate(err: Error, emitError: boolean): void {
    const previous = this.#state;
    if (previous === ChannelState.Closed) return;
    this.#state = ChannelState.Closed;
    this.#closeReason = err;
    this.#sessionOpen = false;
    this.host.detach(this.number);
    this.#reopened?.reject(err);
    this.#reopened = undefined;
    const pending = [...this.#pending.values()];
    this.#pending.clear();
    for (const p of pending) p.reject(err);
    this.outgoing.failAll(err);
    if (!this.#internal) for (const c of this.consumers.all()) this.host.topology?.consumerCancelled(c.spec.queue);
    this.consumers.clear();
    this.tags.clear();
    if (previous === ChannelState.Opening) {
      this.#opened.reject(err);
      return;
    }
    this.#closing?.resolve();
    if (emitError) this.emit('error', err);
    this.emit('close');
  }
}
