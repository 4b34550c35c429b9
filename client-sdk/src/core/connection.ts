/**
 * A connection to the broker: handshake, heartbeats, flow control, channel multiplexing
 * and closing. State machine: connecting → open → closing → closed (any → closed on a
 * socket failure, protocol violation or broker `close`).
 */
import { decodeFrames } from '../protocol/codec.js';
import { BrokerError, ErrorCode, ProtocolError } from '../protocol/errors.js';
import type { Frame, FrameOf } from '../protocol/frames.js';
import { DEFAULT_MAX_FRAME_BYTES, DEFAULT_MAX_MESSAGE_BYTES, MAX_CHANNEL, PROTOCOL_VERSION } from '../protocol/limits.js';
import type { FieldTable } from '../protocol/properties.js';
import type { Transport } from '../transport/transport.js';
import type { ChannelHost, ChannelLink } from './channel-base.js';
import { Channel } from './channel.js';
import type { ResolvedConnectOptions } from './connect-options.js';
import { deferred, type Deferred } from './deferred.js';
import { Emitter } from './emitter.js';
import { ConnectionClosedError, TimeoutError } from './errors.js';
import { Heartbeat } from './heartbeat.js';
import { Outbox } from './outbox.js';
import type { Platform } from './platform.js';

/** Life cycle of a connection. */
export const ConnectionState = {
  Connecting: 'connecting',
  Open: 'open',
  Closing: 'closing',
  Closed: 'closed',
} as const;
/** One of the ConnectionState values. */
export type ConnectionState = (typeof ConnectionState)[keyof typeof ConnectionState];

/** Events of a Connection. */
export interface ConnectionEvents {
  /** The broker stopped accepting publishes (resource alarm); publishes are held until 'unblocked'. */
  blocked: (reason: string) => void;
  /** Publishing may resume; held publishes are sent. */
  unblocked: () => void;
  /** The connection failed (broker close with an error, socket loss, heartbeat timeout ...); 'close' follows. */
  error: (err: Error) => void;
  /** The connection is closed; `err` is set unless it closed gracefully. */
  close: (err?: Error) => void;
  /** Reserved for automatic recovery (not implemented yet): never emitted. */
  reconnect: () => void;
}

/** A connection to a Switchyard broker. Obtain one with `connect()`. */
export class Connection<C extends Uint8Array = Uint8Array> extends Emitter<ConnectionEvents> {
  /** The URL connected to. */
  readonly url: string;
  /** Broker-assigned id of this connection (as the management API shows it). */
  connectionId = '';
  /** Negotiated heartbeat interval in ms (0: none). */
  heartbeatMs = 0;
  /** Largest frame the broker accepts. */
  maxFrameBytes = DEFAULT_MAX_FRAME_BYTES;
  /** Largest message body the broker accepts; larger publishes reject with 311 CONTENT_TOO_LARGE. */
  maxMessageBytes = DEFAULT_MAX_MESSAGE_BYTES;
  /** What the broker says about itself (product, version ...). */
  serverProperties: FieldTable = {};
  #state: ConnectionState = ConnectionState.Connecting;
  #closeReason: Error | undefined;
  #blocked = false;
  readonly #options: ResolvedConnectOptions;
  readonly #transport: Transport;
  readonly #outbox: Outbox;
  readonly #channels = new Map<number, ChannelLink>();
  #lastChannel = 0;
  #heartbeat: Heartbeat | undefined;
  readonly #handshake: Deferred<Connection<C>>;
  readonly #closed = deferred<void>();
  #connectTimer: ReturnType<typeof setTimeout> | undefined;
  #closeTimer: ReturnType<typeof setTimeout> | undefined;
  readonly #host: ChannelHost<C>;

  /** @internal Use `connect()`. */
  constructor(platform: Platform<C>, url: string, options: ResolvedConnectOptions, handshake: Deferred<Connection<C>>) {
    super();
    this.url = url;
    this.#options = options;
    this.#handshake = handshake;
    this.#outbox = new Outbox((bytes) => this.#transport.send(bytes), platform.schedule);
    this.#host = {
      send: (frame) => this.#outbox.push(frame),
      wrapContent: platform.wrapContent,
      maxMessageBytes: () => this.maxMessageBytes,
      attach: (n, link) => this.#channels.set(n, link),
      detach: (n) => {
        this.#channels.delete(n);
        this.#outbox.dropChannel(n);
      },
    };
    this.#connectTimer = setTimeout(() => {
      const err = new TimeoutError(`connecting to ${url} timed out after ${options.connectTimeoutMs} ms`);
      this.#finalize(err, true);
      this.#transport.terminate();
    }, options.connectTimeoutMs);
    try {
      this.#transport = platform.createTransport(url, {
        onOpen: () => this.#onOpen(),
        onMessage: (data) => this.#onMessage(data),
        onClose: (code, reason, error) => this.#onTransportClose(code, reason, error),
      });
    } catch (err) {
      clearTimeout(this.#connectTimer);
      throw err;
    }
  }

  /** Current state. */
  get state(): ConnectionState {
    return this.#state;
  }

  /** True while the broker has publishing blocked ('blocked' / 'unblocked' events). */
  get blocked(): boolean {
    return this.#blocked;
  }

  /** Bytes written to the socket but not yet sent: a backpressure signal for heavy publishers. */
  get bufferedAmount(): number {
    return this.#transport.bufferedAmount;
  }

  /** Opens a new channel (every channel is in confirm mode). */
  createChannel(): Promise<Channel<C>> {
    if (this.#state !== ConnectionState.Open) {
      return Promise.reject(new ConnectionClosedError(`connection is ${this.#state}`, { cause: this.#closeReason }));
    }
    const number = this.#allocateChannel();
    if (number === 0) {
      return Promise.reject(new BrokerError(ErrorCode.RESOURCE_ERROR, `all ${MAX_CHANNEL} channel numbers are in use`));
    }
    const opened = deferred<void>();
    const channel = new Channel<C>(this.#host, number, opened);
    return opened.promise.then(() => channel);
  }

  /** amqplib's name for a channel with publisher confirms; every channel has them: same as createChannel. */
  createConfirmChannel(): Promise<Channel<C>> {
    return this.createChannel();
  }

  /**
   * Closes the connection gracefully: sends `close`, waits for the broker's closeOk (or the
   * socket closing; at most 10 s), then closes the socket. Operations still pending then
   * reject with ConnectionClosedError.
   */
  close(): Promise<void> {
    if (this.#state !== ConnectionState.Open) return this.#closed.promise;
    this.#state = ConnectionState.Closing;
    this.#outbox.push({ type: 'close', channel: 0, code: 200, message: 'closed by client' });
    this.#outbox.flush();
    this.#closeTimer = setTimeout(() => {
      this.#finalize(new ConnectionClosedError('connection closed by client (no closeOk from the broker)'), false);
      this.#transport.terminate();
    }, this.#options.closeTimeoutMs);
    return this.#closed.promise;
  }

  #onOpen(): void {
    if (this.#state !== ConnectionState.Connecting) return;
    const o = this.#options;
    this.#outbox.push({
      type: 'hello', channel: 0, version: PROTOCOL_VERSION, username: o.username, password: o.password,
      vhost: o.vhost, heartbeatMs: o.heartbeatMs, clientProperties: o.clientProperties,
    });
  }

  #onMessage(data: Uint8Array | string): void {
    if (this.#state === ConnectionState.Closed) return;
    this.#heartbeat?.received();
    if (typeof data === 'string') {
      this.#failProtocol(new ProtocolError('received a text WebSocket message; the protocol is binary', ErrorCode.FRAME_ERROR));
      return;
    }
    try {
      decodeFrames(data, this.#onFrame);
    } catch (err) {
      this.#failProtocol(
        err instanceof BrokerError
          ? err
          : new BrokerError(ErrorCode.INTERNAL_ERROR, `client failed processing a frame: ${String(err)}`, { cause: err }),
      );
    }
  }

  readonly #onFrame = (f: Frame): void => {
    if (this.#state === ConnectionState.Closed) return;
    if (f.channel === 0) return this.#onConnectionFrame(f);
    if (this.#state === ConnectionState.Connecting) {
      throw new ProtocolError(`${f.type} frame before helloOk`, ErrorCode.UNEXPECTED_FRAME);
    }
    const link = this.#channels.get(f.channel);
    if (link !== undefined) return link.onFrame(f);
    // A closeOk can trail a channel whose close crossed the broker's: not an error.
    if (f.type === 'channelCloseOk') return;
    throw new ProtocolError(`${f.type} frame on channel ${f.channel}, which is not open`, ErrorCode.CHANNEL_ERROR);
  };

  #onConnectionFrame(f: Frame): void {
    switch (f.type) {
      case 'helloOk':
        if (this.#state !== ConnectionState.Connecting) break;
        return this.#onHelloOk(f);
      case 'heartbeat':
        return;
      case 'close':
        return this.#onBrokerClose(f);
      case 'closeOk':
        if (this.#state !== ConnectionState.Closing) break;
        this.#finalize(new ConnectionClosedError('connection closed by client'), false);
        return this.#transport.close(1000);
      case 'blocked':
        this.#blocked = true;
        this.#outbox.setBlocked(true);
        this.emit('blocked', f.reason);
        return;
      case 'unblocked':
        this.#blocked = false;
        this.#outbox.setBlocked(false);
        this.emit('unblocked');
        return;
    }
    throw new ProtocolError(`unexpected ${f.type} frame on channel 0 (${this.#state})`, ErrorCode.UNEXPECTED_FRAME);
  }

  #onHelloOk(f: FrameOf<'helloOk'>): void {
    this.#state = ConnectionState.Open;
    clearTimeout(this.#connectTimer);
    this.heartbeatMs = f.heartbeatMs;
    this.maxFrameBytes = f.maxFrameBytes;
    this.maxMessageBytes = f.maxMessageBytes;
    this.connectionId = f.connectionId;
    this.serverProperties = f.serverProperties;
    this.#heartbeat = new Heartbeat(f.heartbeatMs, this.#outbox, (silentMs) => {
      const err = new ConnectionClosedError(`heartbeat timeout: nothing received from the broker for ${silentMs} ms`);
      this.#finalize(err, true);
      this.#transport.terminate();
    });
    this.#heartbeat.start();
    this.#handshake.resolve(this);
  }

  #onBrokerClose(f: FrameOf<'close'>): void {
    this.#outbox.push({ type: 'closeOk', channel: 0 });
    this.#outbox.flush();
    const graceful = f.code === 200;
    const err = graceful ? new ConnectionClosedError(`connection closed by the broker: ${f.message}`) : new BrokerError(f.code, f.message);
    this.#finalize(err, !graceful);
    this.#transport.close(1000);
  }

  /** A protocol violation by the broker: tell it why (`close`), then drop the connection. */
  #failProtocol(err: BrokerError): void {
    if (this.#state === ConnectionState.Closed) return;
    this.#outbox.push({ type: 'close', channel: 0, code: err.code, message: err.message });
    this.#outbox.flush();
    this.#finalize(err, true);
    this.#transport.close(1000);
  }

  #onTransportClose(code: number, reason: string, error: Error | undefined): void {
    const state = this.#state;
    if (state === ConnectionState.Closed) return;
    if (state === ConnectionState.Closing) {
      this.#finalize(new ConnectionClosedError('connection closed by client'), false);
      return;
    }
    const detail = error?.message ?? `socket closed with code ${code}${reason === '' ? '' : ` (${reason})`}`;
    const what = state === ConnectionState.Connecting ? `could not connect to ${this.url}` : `connection to ${this.url} lost`;
    this.#finalize(new ConnectionClosedError(`${what}: ${detail}`, { cause: error }), true);
  }

  /**
   * Moves to `closed` once: stops timers and sending, fails the handshake or every channel
   * with `err`, then emits (amqplib's order: connection 'error', channels' 'close',
   * connection 'close').
   */
  #finalize(err: Error, emitError: boolean): void {
    const previous = this.#state;
    if (previous === ConnectionState.Closed) return;
    this.#state = ConnectionState.Closed;
    this.#closeReason = err;
    clearTimeout(this.#connectTimer);
    clearTimeout(this.#closeTimer);
    this.#heartbeat?.stop();
    this.#outbox.close();
    this.#blocked = false;
    const links = [...this.#channels.values()];
    this.#channels.clear();
    if (previous === ConnectionState.Connecting) {
      this.#handshake.reject(err);
    } else {
      if (emitError) this.emit('error', err);
      for (const link of links) link.onConnectionClosed(err);
      this.emit('close', emitError ? err : undefined);
    }
    this.#closed.resolve();
  }

  /** Next free channel number after the last one handed out (wrapping), or 0 if none. */
  #allocateChannel(): number {
    // Round-robin rather than lowest-free: a just-closed number is not reused at once, so a
    // late frame for the old channel cannot be mistaken for one of the new channel's.
    for (let i = 0; i < MAX_CHANNEL; i++) {
      const n = ((this.#lastChannel + i) % MAX_CHANNEL) + 1;
      if (!this.#channels.has(n)) {
        this.#lastChannel = n;
        return n;
      }
    }
    return 0;
  }
}
