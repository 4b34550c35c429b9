/**
 * Channel machinery shared by every channel operation: the state machine, request ids and
 * pending RPCs, incoming-frame dispatch, publisher confirms, consumers, and closing (by the
 * client, by the broker, or with the connection). The public API lives in channel.ts.
 */
import { BrokerError, ErrorCode, ProtocolError } from '../protocol/errors.js';
import type { Frame, FrameName, FrameOf } from '../protocol/frames.js';
import { ConfirmTracker } from './confirms.js';
import { ConsumerSet } from './consumer.js';
import { deferred, type Deferred } from './deferred.js';
import { Emitter } from './emitter.js';
import { ChannelClosedError } from './errors.js';
import { consumeMessage, returnMessage, type ConsumeMessage, type ReturnMessage } from './message.js';

/** Life cycle of a channel. Users only ever see `open`, `closing` and `closed`. */
export const ChannelState = {
  Opening: 'opening',
  Open: 'open',
  Closing: 'closing',
  Closed: 'closed',
} as const;
/** One of the ChannelState values. */
export type ChannelState = (typeof ChannelState)[keyof typeof ChannelState];

/** Events of a Channel. */
export interface ChannelEvents<C extends Uint8Array> {
  /** A `mandatory` message could not be routed and came back (before its publish ack). */
  return: (msg: ReturnMessage<C>) => void;
  /** The broker closed the channel with an error (404, 406 ...); 'close' follows. */
  error: (err: Error) => void;
  /** The channel is closed, for whatever reason. */
  close: () => void;
  /** The broker cancelled a consumer (its queue was deleted ...); its callback got `null`. */
  cancel: (info: { consumerTag: string; reason: string }) => void;
  /**
   * Single-active-consumer queues: this consumer became active (`true`), or was registered
   * as waiting its turn (`false`).
   */
  'consumer-active': (info: { consumerTag: string; active: boolean }) => void;
  /** A consumer callback threw or its promise rejected; `msg` is the message it was handling. */
  'consumer-error': (err: unknown, msg: ConsumeMessage<C> | null) => void;
}

/** What a channel needs from its connection. @internal */
export interface ChannelHost<C extends Uint8Array> {
  /** Queues a frame for sending. */
  send(frame: Frame): void;
  /** Platform hook: message body view → Buffer (Node) or Uint8Array (browsers). */
  wrapContent(view: Uint8Array): C;
  /** Largest body the broker accepts (from helloOk). */
  maxMessageBytes(): number;
  /** Routes frames of `channel` to `link` from now on. */
  attach(channel: number, link: ChannelLink): void;
  /** Frees the channel number and drops its held frames. */
  detach(channel: number): void;
}

/** How the connection drives a channel. @internal */
export interface ChannelLink {
  /** Handles a frame for this channel; throws ProtocolError for one it cannot accept. */
  onFrame(frame: Frame): void;
  /** The connection closed: everything pending fails with `err`. */
  onConnectionClosed(err: Error): void;
}

/** Frames that carry a request id. */
export type RpcFrame = Extract<Frame, { rid: number }>;

interface PendingRpc {
  map(reply: Frame): unknown;
  resolve(value: unknown): void;
  reject(err: Error): void;
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
  /** The channel number (1..65535). */
  readonly number: number;
  /** @internal */
  protected readonly host: ChannelHost<C>;
  /** @internal */
  protected readonly confirms = new ConfirmTracker();
  /** @internal */
  protected readonly consumers = new ConsumerSet<C>((err, msg) => this.emit('consumer-error', err, msg));
  /** Highest delivery tag received that needs an ack (for ackAll/nackAll). @internal */
  protected lastDeliveryTag = 0;
  /** Every tag up to this one was acked or nacked with `multiple`. @internal */
  protected settledUpTo = 0;
  #state: ChannelState = ChannelState.Opening;
  #closeReason: Error | undefined;
  #nextRid = 1;
  readonly #pending = new Map<number, PendingRpc>();
  readonly #opened: Deferred<void>;
  #closing: Deferred<void> | undefined;

  /** @internal Channels are created by `Connection.createChannel()`. */
  constructor(host: ChannelHost<C>, number: number, opened: Deferred<void>) {
    super();
    this.host = host;
    this.number = number;
    this.#opened = opened;
    host.attach(number, {
      onFrame: (f) => this.#onFrame(f),
      onConnectionClosed: (err) => this.#terminate(err, false),
    });
    host.send({ type: 'channelOpen', channel: number });
  }

  /** Current state: `open`, `closing` (close sent, awaiting the broker) or `closed`. */
  get state(): ChannelState {
    return this.#state;
  }

  /** Publishes sent on this channel and not yet confirmed. */
  get outstandingConfirms(): number {
    return this.confirms.outstanding;
  }

  /**
   * Closes the channel: sends channelClose and resolves once the broker confirms. Pending
   * operations and unconfirmed publishes still outstanding then reject with
   * ChannelClosedError; unacked deliveries are requeued by the broker. Resolves at once if
   * the channel is already closed.
   */
  close(): Promise<void> {
    switch (this.#state) {
      case ChannelState.Closed:
        return Promise.resolve();
      case ChannelState.Closing:
        return this.#closing!.promise;
      default:
        this.#state = ChannelState.Closing;
        this.#closing = deferred();
        this.host.send({ type: 'channelClose', channel: this.number, code: 200, message: 'closed by client', ref: 0 });
        return this.#closing.promise;
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

  /** The next request id. @internal */
  protected nextRid(): number {
    return this.#nextRid++;
  }

  /**
   * Sends a request and resolves with `map(reply)` once the reply with the same rid
   * arrives. `map` runs synchronously in frame processing, so state it sets up (a consumer
   * registration) is in place before the next frame of the same WebSocket message.
   * @internal
   */
  protected rpc<T>(frame: RpcFrame, map: (reply: Frame) => T): Promise<T> {
    if (this.#state !== ChannelState.Open) return Promise.reject(this.closedError());
    return new Promise<T>((resolve, reject) => {
      this.host.send(frame);
      this.#pending.set(frame.rid, { map, resolve: resolve as (value: unknown) => void, reject });
    });
  }

  #onFrame(f: Frame): void {
    switch (f.type) {
      case 'deliver':
        return this.#onDeliver(f);
      case 'publishAck':
        this.#checkSeqNo(f.seqNo, f.type);
        return this.confirms.ack(f.seqNo, f.multiple);
      case 'publishNack':
        this.#checkSeqNo(f.seqNo, f.type);
        return this.confirms.nack(f.seqNo, f.multiple, new BrokerError(f.code, f.message));
      case 'return':
        if (this.#state === ChannelState.Opening) throw unexpected(f, this.#state);
        this.emit('return', returnMessage(f, this.host.wrapContent));
        return;
      case 'cancelNotify':
        return this.#onCancelNotify(f);
      case 'consumerActive':
        this.emit('consumer-active', { consumerTag: f.consumerTag, active: f.active });
        return;
      case 'channelOpenOk':
        if (this.#state !== ChannelState.Opening) throw unexpected(f, this.#state);
        this.#state = ChannelState.Open;
        return this.#opened.resolve();
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
        return this.#settle(f.rid, f);
      default:
        throw unexpected(f, this.#state);
    }
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
    if (!consumer.noAck && f.deliveryTag > this.lastDeliveryTag) this.lastDeliveryTag = f.deliveryTag;
    this.consumers.dispatch(consumer, consumeMessage(f, this.host.wrapContent));
  }

  #onCancelNotify(f: FrameOf<'cancelNotify'>): void {
    const consumer = this.consumers.remove(f.consumerTag);
    if (consumer !== undefined) this.consumers.dispatch(consumer, null);
    this.emit('cancel', { consumerTag: f.consumerTag, reason: f.reason });
  }

  #onBrokerClose(f: FrameOf<'channelClose'>): void {
    // Also the answer to our own channelClose if the two crossed: the broker treats our
    // close as its closeOk, and we still owe it this closeOk.
    this.host.send({ type: 'channelCloseOk', channel: this.number });
    const graceful = f.code === 200;
    const err = graceful
      ? new ChannelClosedError(`channel ${this.number} closed by the broker: ${f.message}`)
      : new BrokerError(f.code, f.message);
    this.#terminate(err, !graceful);
  }

  #checkSeqNo(seqNo: number, type: string): void {
    if (!this.confirms.isIssued(seqNo)) {
      throw new ProtocolError(
        `${type} for seqNo ${seqNo}, but channel ${this.number} sent ${this.confirms.nextSeq - 1} publishes`,
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

  /** Moves to `closed` once: fails everything pending with `err`, then emits. */
  #terminate(err: Error, emitError: boolean): void {
    const previous = this.#state;
    if (previous === ChannelState.Closed) return;
    this.#state = ChannelState.Closed;
    this.#closeReason = err;
    this.host.detach(this.number);
    const pending = [...this.#pending.values()];
    this.#pending.clear();
    for (const p of pending) p.reject(err);
    this.confirms.failAll(err);
    this.consumers.clear();
    if (previous === ChannelState.Opening) {
      this.#opened.reject(err);
      return;
    }
    this.#closing?.resolve();
    if (emitError) this.emit('error', err);
    this.emit('close');
  }
}
