/**
 * One WebSocket's worth of a connection: the transport, its outbox and heartbeat, the
 * handshake and the connection-level frames. A Connection without automatic recovery has
 * exactly one session; with it, a new session replaces each one that is lost, while the
 * Connection, its channels and their state live on.
 *
 * State machine: connecting → open → closing → closed (any → closed on a socket failure,
 * heartbeat or handshake timeout, protocol violation, or broker `close`). The owner hears
 * about the end exactly once, through `onEnd`.
 */
import { decodeFrames } from '../protocol/codec.js';
import { BrokerError, ErrorCode, ProtocolError } from '../protocol/errors.js';
import type { Frame, FrameOf } from '../protocol/frames.js';
import { PROTOCOL_VERSION } from '../protocol/limits.js';
import type { Transport } from '../transport/transport.js';
import type { ResolvedConnectOptions } from './connect-options.js';
import { ConnectionClosedError, TimeoutError } from './errors.js';
import { Heartbeat } from './heartbeat.js';
import { Outbox } from './outbox.js';
import type { Platform } from './platform.js';

/** How a session ended. */
export const SessionEnd = {
  /** Our `close` completed (closeOk, or the socket closed after we sent it). */
  ClientClose: 'client-close',
  /** The socket failed or closed, or a heartbeat or handshake timeout (or `abort`). */
  Lost: 'lost',
  /** The broker sent `close` (`err` is a BrokerError, or ConnectionClosedError for code 200). */
  BrokerClose: 'broker-close',
  /** The broker violated the protocol and we closed the session. */
  ProtocolError: 'protocol-error',
} as const;
/** One of the SessionEnd values. */
export type SessionEnd = (typeof SessionEnd)[keyof typeof SessionEnd];

/** What a session reports to its connection. */
export interface SessionOwner {
  /** The handshake completed. */
  onReady(session: Session, helloOk: FrameOf<'helloOk'>): void;
  /** A frame for a channel (1..65535); may throw ProtocolError. */
  onFrame(frame: Frame): void;
  onBlocked(reason: string): void;
  onUnblocked(): void;
  /** The session ended; called exactly once. `wasOpen` tells whether the handshake had completed. */
  onEnd(session: Session, err: Error, how: SessionEnd, wasOpen: boolean): void;
}

const State = { Connecting: 'connecting', Open: 'open', Closing: 'closing', Closed: 'closed' } as const;
type State = (typeof State)[keyof typeof State];

/** One transport and its protocol state. */
export class Session {
  #state: State = State.Connecting;
  readonly #transport: Transport;
  readonly #outbox: Outbox;
  #heartbeat: Heartbeat | undefined;
  #connectTimer: ReturnType<typeof setTimeout> | undefined;
  #closeTimer: ReturnType<typeof setTimeout> | undefined;

  /** Opens the transport. Throws synchronously for a malformed URL. */
  constructor(
    platform: Platform<Uint8Array>,
    private readonly url: string,
    private readonly options: ResolvedConnectOptions,
    private readonly owner: SessionOwner,
  ) {
    this.#outbox = new Outbox((bytes) => this.#transport.send(bytes), platform.schedule);
    this.#connectTimer = setTimeout(() => {
      const err = new TimeoutError(`connecting to ${url} timed out after ${options.connectTimeoutMs} ms`);
      this.#end(err, SessionEnd.Lost);
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

  /** True once the handshake completed and until the session ends or starts closing. */
  get isOpen(): boolean {
    return this.#state === State.Open;
  }

  /** True once the session has ended. */
  get isClosed(): boolean {
    return this.#state === State.Closed;
  }

  /** Bytes written to the socket but not yet sent. */
  get bufferedAmount(): number {
    return this.#transport.bufferedAmount;
  }

  /** Queues a frame (batched until the end of the turn). Dropped once the session ended. */
  send(frame: Frame): void {
    this.#outbox.push(frame);
  }

  /**
   * Closes gracefully: sends `close`, waits for closeOk (or the socket closing; at most
   * `closeTimeoutMs`), then closes the socket. Before the handshake completed, drops it.
   */
  close(): void {
    if (this.#state === State.Connecting) {
      this.abort(new ConnectionClosedError('connection closed by client'), SessionEnd.ClientClose);
      return;
    }
    if (this.#state !== State.Open) return;
    this.#state = State.Closing;
    this.#outbox.push({ type: 'close', channel: 0, code: 200, message: 'closed by client' });
    this.#outbox.flush();
    this.#closeTimer = setTimeout(() => {
      this.#end(
        new ConnectionClosedError('connection closed by client (no closeOk from the broker)'),
        SessionEnd.ClientClose,
      );
      this.#transport.terminate();
    }, this.options.closeTimeoutMs);
  }

  /** Drops the socket at once and ends the session with `err`. */
  abort(err: Error, how: SessionEnd = SessionEnd.Lost): void {
    if (this.#state === State.Closed) return;
    this.#end(err, how);
    this.#transport.terminate();
  }

  #onOpen(): void {
    if (this.#state !== State.Connecting) return;
    const o = this.options;
    this.#outbox.push({
      type: 'hello',
      channel: 0,
      version: PROTOCOL_VERSION,
      username: o.username,
      password: o.password,
      vhost: o.vhost,
      heartbeatMs: o.heartbeatMs,
      clientProperties: o.clientProperties,
    });
  }

  #onMessage(data: Uint8Array | string): void {
    if (this.#state === State.Closed) return;
    this.#heartbeat?.received();
    if (typeof data === 'string') {
      this.#failProtocol(
        new ProtocolError('received a text WebSocket message; the protocol is binary', ErrorCode.FRAME_ERROR),
      );
      return;
    }
    try {
      decodeFrames(data, this.#onFrame);
    } catch (err) {
      this.#failProtocol(
        err instanceof BrokerError
          ? err
          : new BrokerError(ErrorCode.INTERNAL_ERROR, `client failed processing a frame: ${String(err)}`, {
              cause: err,
            }),
      );
    }
  }

  readonly #onFrame = (f: Frame): void => {
    if (this.#state === State.Closed) return;
    if (f.channel === 0) return this.#onConnectionFrame(f);
    if (this.#state === State.Connecting) {
      throw new ProtocolError(`${f.type} frame before helloOk`, ErrorCode.UNEXPECTED_FRAME);
    }
    this.owner.onFrame(f);
  };

  #onConnectionFrame(f: Frame): void {
    switch (f.type) {
      case 'helloOk':
        if (this.#state !== State.Connecting) break;
        return this.#onHelloOk(f);
      case 'heartbeat':
        return;
      case 'close':
        return this.#onBrokerClose(f);
      case 'closeOk':
        if (this.#state !== State.Closing) break;
        this.#end(new ConnectionClosedError('connection closed by client'), SessionEnd.ClientClose);
        return this.#transport.close(1000);
      case 'blocked':
        return this.owner.onBlocked(f.reason);
      case 'unblocked':
        return this.owner.onUnblocked();
    }
    throw new ProtocolError(`unexpected ${f.type} frame on channel 0 (${this.#state})`, ErrorCode.UNEXPECTED_FRAME);
  }

  #onHelloOk(f: FrameOf<'helloOk'>): void {
    this.#state = State.Open;
    clearTimeout(this.#connectTimer);
    this.#heartbeat = new Heartbeat(f.heartbeatMs, this.#outbox, (silentMs) => {
      const err = new ConnectionClosedError(`heartbeat timeout: nothing received from the broker for ${silentMs} ms`);
      this.abort(err);
    });
    this.#heartbeat.start();
    this.owner.onReady(this, f);
  }

  #onBrokerClose(f: FrameOf<'close'>): void {
    this.#outbox.push({ type: 'closeOk', channel: 0 });
    this.#outbox.flush();
    const err =
      f.code === 200
        ? new ConnectionClosedError(`connection closed by the broker: ${f.message}`)
        : new BrokerError(f.code, f.message);
    this.#end(err, SessionEnd.BrokerClose);
    this.#transport.close(1000);
  }

  /** A protocol violation by the broker: tell it why (`close`), then drop the connection. */
  #failProtocol(err: BrokerError): void {
    if (this.#state === State.Closed) return;
    this.#outbox.push({ type: 'close', channel: 0, code: err.code, message: err.message });
    this.#outbox.flush();
    this.#end(err, SessionEnd.ProtocolError);
    this.#transport.close(1000);
  }

  #onTransportClose(code: number, reason: string, error: Error | undefined): void {
    const state = this.#state;
    if (state === State.Closed) return;
    if (state === State.Closing) {
      this.#end(new ConnectionClosedError('connection closed by client'), SessionEnd.ClientClose);
      return;
    }
    const detail = error?.message ?? `socket closed with code ${code}${reason === '' ? '' : ` (${reason})`}`;
    const what = state === State.Connecting ? `could not connect to ${this.url}` : `connection to ${this.url} lost`;
    this.#end(new ConnectionClosedError(`${what}: ${detail}`, { cause: error }), SessionEnd.Lost);
  }

  /** Moves to `closed` once: stops timers and sending, then tells the owner. */
  #end(err: Error, how: SessionEnd): void {
    const previous = this.#state;
    if (previous === State.Closed) return;
    this.#state = State.Closed;
    clearTimeout(this.#connectTimer);
    clearTimeout(this.#closeTimer);
    this.#heartbeat?.stop();
    this.#outbox.close();
    this.owner.onEnd(this, err, how, previous !== State.Connecting);
  }
}
