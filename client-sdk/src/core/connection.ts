/**
 * A connection to the broker: channel multiplexing, flow control, closing, and automatic
 * recovery. The socket-level work (handshake, heartbeats, batching) belongs to a Session
 * (session.ts); a connection with `reconnect` replaces a lost session with a new one.
 *
 * State machine: connecting → open → closing → closed; with `reconnect`, open →
 * reconnecting → open again after each drop (or → closed when recovery gives up or the
 * application closes). Recovery, in order: reconnect with backoff and jitter → handshake →
 * re-declare the recorded topology (recovery.ts) → re-open every channel with its
 * prefetch and consumers and re-send what was in flight (channel-base.ts) → 'reconnect'.
 */
import { BrokerError, ErrorCode, ProtocolError } from '../protocol/errors.js';
import type { Frame, FrameOf } from '../protocol/frames.js';
import { DEFAULT_MAX_FRAME_BYTES, DEFAULT_MAX_MESSAGE_BYTES, MAX_CHANNEL } from '../protocol/limits.js';
import type { FieldTable } from '../protocol/properties.js';
import { backoffDelay } from './backoff.js';
import type { ChannelHost, ChannelLink, ChannelOptions } from './channel-base.js';
import { SOCKET_HIGH_WATER_BYTES } from './channel-outgoing.js';
import { Channel } from './channel.js';
import { maxUnconfirmedOption, type ResolvedConnectOptions } from './connect-options.js';
import { deferred, type Deferred } from './deferred.js';
import { Emitter } from './emitter.js';
import { ConnectionClosedError, TimeoutError } from './errors.js';
import type { Platform } from './platform.js';
import { replayTopology, RetryRecoveryError } from './recovery.js';
import { Session, SessionEnd } from './session.js';
import { Topology } from './topology.js';

/** Life cycle of a connection. */
export const ConnectionState = {
  Connecting: 'connecting',
  Open: 'open',
  /** The connection dropped and automatic recovery is under way (`reconnect` only). */
  Reconnecting: 'reconnecting',
  Closing: 'closing',
  Closed: 'closed',
} as const;
/** One of the ConnectionState values. */
export type ConnectionState = (typeof ConnectionState)[keyof typeof ConnectionState];

/** Details of a reconnect attempt about to be made ('reconnecting' event). */
export interface ReconnectingInfo {
  /** 1 for the first attempt after a drop. */
  attempt: number;
  /** How long the SDK waits before this attempt (backoff with jitter). */
  delayMs: number;
  /** Why the connection dropped, or why the previous attempt failed. */
  error: Error;
}

/** Events of a Connection. */
export interface ConnectionEvents {
  /** The broker stopped accepting publishes (resource alarm); publishes wait until 'unblocked'. */
  blocked: (reason: string) => void;
  /** Publishing may resume; waiting publishes are sent. */
  unblocked: () => void;
  /** The connection failed (broker close with an error, socket loss without `reconnect`, recovery gave up ...); 'close' follows. */
  error: (err: Error) => void;
  /** The connection is closed for good; `err` is set unless it closed gracefully. */
  close: (err?: Error) => void;
  /** The connection dropped (or a reconnect attempt failed); another attempt follows after `delayMs`. */
  reconnecting: (info: ReconnectingInfo) => void;
  /** Recovery completed: topology re-declared, channels and consumers back, waiting publishes released. */
  reconnect: () => void;
  /** Recovery gave up (`maxAttempts`, or the broker refused the reconnect, e.g. 403); 'error' and 'close' follow. */
  'recovery-failed': (err: Error) => void;
  /** Recovery could not re-declare a recorded exchange, queue or binding; it was forgotten and recovery went on. */
  'recovery-error': (err: Error, what: string) => void;
  /** Recovery re-declared a server-named queue under a new name; the old name keeps working on this connection. */
  'queue-renamed': (info: { from: string; to: string }) => void;
}

/** Broker `close` codes after which recovery is attempted: shutdown / forced close, internal failure, resource limit. */
const RECOVERABLE_CODES: ReadonlySet<number> = new Set([
  ErrorCode.CONNECTION_FORCED,
  ErrorCode.INTERNAL_ERROR,
  ErrorCode.RESOURCE_ERROR,
]);

/** A connection to a Switchyard broker. Obtain one with `connect()`. */
export class Connection<C extends Uint8Array = Uint8Array> extends Emitter<ConnectionEvents> {
  /** The URL connected to (with several broker URLs: the one of the current or last session). */
  url: string;
  /** Every broker URL given to `connect()`: reconnect attempts go round them. */
  readonly #urls: readonly string[];
  /** Broker-assigned id of this connection (as the management API shows it); changes on reconnect. */
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
  readonly #platform: Platform<C>;
  #session: Session | undefined;
  readonly #channels = new Map<number, ChannelLink>();
  #lastChannel = 0;
  readonly #handshake: Deferred<Connection<C>>;
  readonly #closed = deferred<void>();
  readonly #host: ChannelHost<C>;
  readonly #topology: Topology | undefined;
  /** Reconnect attempts since the drop. */
  #attempt = 0;
  #retryTimer: ReturnType<typeof setTimeout> | undefined;
  /** Bounds one recovery (helloOk to 'reconnect') by connectTimeoutMs. */
  #recoveryTimer: ReturnType<typeof setTimeout> | undefined;
  /** Recovery reached the channels: new channels may open at once. */
  #channelsPhase = false;
  /** Publishes buffered while the connection is down (count, body bytes). */
  #bufferedCount = 0;
  #bufferedBytes = 0;

  /** @internal Use `connect()`. */
  constructor(
    platform: Platform<C>,
    url: string,
    options: ResolvedConnectOptions,
    handshake: Deferred<Connection<C>>,
    urls: readonly string[] = [url],
  ) {
    super();
    this.url = url;
    this.#urls = urls;
    this.#platform = platform;
    this.#options = options;
    this.#handshake = handshake;
    this.#topology = options.reconnect === undefined ? undefined : new Topology();
    this.#host = {
      transmit: (frame) => this.#transmit(frame),
      wrapContent: platform.wrapContent,
      maxMessageBytes: () => this.maxMessageBytes,
      attach: (n, link) => this.#channels.set(n, link),
      detach: (n) => this.#channels.delete(n),
      canOpen: () => this.#session?.isOpen === true && (this.#state === ConnectionState.Open || this.#channelsPhase),
      blocked: () => this.#blocked,
      congested: () => (this.#session?.bufferedAmount ?? 0) > SOCKET_HIGH_WATER_BYTES,
      reserve: (bytes) => this.#reserve(bytes),
      release: (bytes) => {
        this.#bufferedCount--;
        this.#bufferedBytes -= bytes;
      },
      topology: this.#topology,
      logger: options.logger,
      schemas: options.schemas,
    };
    this.#session = this.#newSession();
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
    return this.#session?.bufferedAmount ?? 0;
  }

  /** Publishes made while the connection was down and still waiting for it. */
  get bufferedPublishes(): number {
    return this.#bufferedCount;
  }

  /**
   * Opens a new channel (every channel is in confirm mode). While the connection is being
   * recovered, the channel opens once it is back.
   * @throws TypeError / RangeError for invalid options
   */
  createChannel(options?: ChannelOptions): Promise<Channel<C>> {
    const maxUnconfirmed = maxUnconfirmedOption(
      options?.maxUnconfirmed,
      'options.maxUnconfirmed',
      this.#options.maxUnconfirmed,
    );
    if (this.#state !== ConnectionState.Open && this.#state !== ConnectionState.Reconnecting) {
      return Promise.reject(new ConnectionClosedError(`connection is ${this.#state}`, { cause: this.#closeReason }));
    }
    if (options?.confirm !== undefined && typeof options.confirm !== 'boolean') {
      throw new TypeError('options.confirm must be a boolean');
    }
    return this.#openChannel(maxUnconfirmed, false, options?.confirm !== false);
  }

  /** amqplib's name for a channel with publisher confirms: `createChannel({ ...options, confirm: true })`. */
  createConfirmChannel(options?: ChannelOptions): Promise<Channel<C>> {
    return this.createChannel({ ...options, confirm: true });
  }

  /**
   * Closes the connection gracefully: sends `close`, waits for the broker's closeOk (or the
   * socket closing; at most 10 s), then closes the socket. Operations still pending then
   * reject with ConnectionClosedError, as do publishes still waiting to be sent. While
   * recovering, stops recovery and closes at once.
   */
  close(): Promise<void> {
    switch (this.#state) {
      case ConnectionState.Open:
        this.#state = ConnectionState.Closing;
        this.#session!.close();
        break;
      case ConnectionState.Connecting:
        this.#session?.close();
        break;
      case ConnectionState.Reconnecting:
        this.#finalize(new ConnectionClosedError('connection closed by client'), false);
        break;
      default:
        break;
    }
    return this.#closed.promise;
  }

  #openChannel(maxUnconfirmed: number, internal: boolean, confirm = true): Promise<Channel<C>> {
    const number = this.#allocateChannel();
    if (number === 0) {
      return Promise.reject(new BrokerError(ErrorCode.RESOURCE_ERROR, `all ${MAX_CHANNEL} channel numbers are in use`));
    }
    const opened = deferred<void>();
    const channel = new Channel<C>(this.#host, number, opened, { maxUnconfirmed, internal, confirm });
    return opened.promise.then(() => channel);
  }

  #newSession(): Session {
    return new Session(this.#platform, this.url, this.#options, {
      onReady: (s, f) => this.#onReady(s, f),
      onFrame: (f) => this.#onFrame(f),
      onBlocked: (reason) => this.#setBlocked(true, reason),
      onUnblocked: () => this.#setBlocked(false, ''),
      onEnd: (s, err, how) => this.#onSessionEnd(s, err, how),
    });
  }

  #transmit(frame: Frame): void {
    const session = this.#session;
    if (session === undefined) return;
    const topology = this.#topology;
    session.send(topology !== undefined && topology.hasAliases ? topology.translate(frame) : frame);
  }

  #reserve(bytes: number): boolean {
    const r = this.#options.reconnect;
    if (
      r !== undefined &&
      (this.#bufferedCount >= r.maxBufferedPublishes || this.#bufferedBytes + bytes > r.maxBufferedBytes)
    ) {
      return false;
    }
    this.#bufferedCount++;
    this.#bufferedBytes += bytes;
    return true;
  }

  #onFrame(f: Frame): void {
    const link = this.#channels.get(f.channel);
    if (link !== undefined) return link.onFrame(f);
    // A closeOk can trail a channel whose close crossed the broker's: not an error.
    if (f.type === 'channelCloseOk') return;
    throw new ProtocolError(`${f.type} frame on channel ${f.channel}, which is not open`, ErrorCode.CHANNEL_ERROR);
  }

  #setBlocked(blocked: boolean, reason: string): void {
    if (this.#blocked === blocked) return;
    this.#blocked = blocked;
    for (const link of this.#channels.values()) link.setBlocked(blocked);
    if (blocked) this.emit('blocked', reason);
    else this.emit('unblocked');
  }

  #onReady(session: Session, f: FrameOf<'helloOk'>): void {
    if (session !== this.#session) return;
    this.heartbeatMs = f.heartbeatMs;
    this.maxFrameBytes = f.maxFrameBytes;
    this.maxMessageBytes = f.maxMessageBytes;
    this.connectionId = f.connectionId;
    this.serverProperties = f.serverProperties;
    if (this.#state === ConnectionState.Connecting) {
      this.#state = ConnectionState.Open;
      this.#handshake.resolve(this);
      return;
    }
    if (this.#state === ConnectionState.Reconnecting) {
      // A broker that accepts the connection but then does not answer (one shutting down,
      // or overloaded) must not stall recovery: retry on a new session after a while.
      const ms = this.#options.connectTimeoutMs;
      const timer = setTimeout(() => {
        session.abort(new TimeoutError(`restoring the connection to ${this.url} timed out after ${ms} ms`));
      }, ms);
      this.#recoveryTimer = timer;
      this.#recover(session).then(
        () => clearTimeout(timer),
        (err: unknown) => this.#recoveryStepFailed(session, err),
      );
    }
  }

  async #recover(session: Session): Promise<void> {
    const o = this.#options;
    o.logger.info('switchyard: reconnected; restoring topology, channels and consumers', {
      url: this.url,
      attempt: this.#attempt,
    });
    await replayTopology(this.#topology!, {
      openChannel: () => this.#openChannel(0, true),
      isCurrent: () => this.#session === session && session.isOpen,
      onRefused: (err, what) => {
        o.logger.warn(`switchyard: could not re-declare ${what}; forgotten`, { error: err.message });
        this.emit('recovery-error', err, what);
      },
      onRenamed: (from, to) => this.emit('queue-renamed', { from, to }),
    });
    if (this.#session !== session || !session.isOpen) return;
    this.#channelsPhase = true;
    const links = [...this.#channels.values()].filter((l) => !l.internal);
    // A channel the broker refuses to restore (e.g. its consumer's queue is gone) closes
    // with an error event; the others go on.
    await Promise.allSettled(links.map((l) => l.recover()));
    if (this.#session !== session || !session.isOpen || this.#state !== ConnectionState.Reconnecting) return;
    this.#state = ConnectionState.Open;
    this.#channelsPhase = false;
    const attempts = this.#attempt;
    this.#attempt = 0;
    o.logger.info('switchyard: connection recovered', { url: this.url, attempts });
    this.emit('reconnect');
  }

  #recoveryStepFailed(session: Session, err: unknown): void {
    if (this.#session !== session) return;
    const e = err instanceof Error ? err : new Error(String(err));
    // Start over on a new session after a backoff (the session's end triggers it).
    session.abort(e);
  }

  #onSessionEnd(session: Session, err: Error, how: SessionEnd): void {
    if (session !== this.#session) return;
    this.#session = undefined;
    clearTimeout(this.#recoveryTimer);
    switch (this.#state) {
      case ConnectionState.Connecting:
      case ConnectionState.Closing:
        return this.#finalize(err, how !== SessionEnd.ClientClose);
      case ConnectionState.Open:
        if (this.#recoverable(err, how)) return this.#beginRecovery(err);
        return this.#finalize(
          err,
          how !== SessionEnd.ClientClose && !(how === SessionEnd.BrokerClose && !(err instanceof BrokerError)),
        );
      case ConnectionState.Reconnecting:
        if (!this.#recoverable(err, how) && !(err instanceof RetryRecoveryError)) return this.#giveUp(err);
        this.#channelsPhase = false;
        for (const link of [...this.#channels.values()]) link.onSessionLost(err, true);
        return this.#scheduleAttempt(err);
      default:
        return;
    }
  }

  #recoverable(err: Error, how: SessionEnd): boolean {
    if (this.#options.reconnect === undefined) return false;
    if (how === SessionEnd.Lost) return true;
    return how === SessionEnd.BrokerClose && err instanceof BrokerError && RECOVERABLE_CODES.has(err.code);
  }

  #beginRecovery(err: Error): void {
    this.#state = ConnectionState.Reconnecting;
    this.#attempt = 0;
    this.#channelsPhase = false;
    this.#options.logger.warn('switchyard: connection lost; recovering', { url: this.url, error: err.message });
    for (const link of [...this.#channels.values()]) link.onSessionLost(err, true);
    // A new session starts unblocked (after the channels stopped sending, so nothing leaks).
    this.#setBlocked(false, '');
    this.#scheduleAttempt(err);
  }

  #scheduleAttempt(err: Error): void {
    const r = this.#options.reconnect!;
    if (this.#attempt >= r.maxAttempts) return this.#giveUp(err);
    const attempt = ++this.#attempt;
    const delayMs = backoffDelay(attempt, r);
    this.#options.logger.info('switchyard: reconnecting', { url: this.url, attempt, delayMs, error: err.message });
    this.emit('reconnecting', { attempt, delayMs, error: err });
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined;
      if (this.#state !== ConnectionState.Reconnecting) return;
      // With several brokers (cluster nodes), each attempt tries the next one.
      if (this.#urls.length > 1) this.url = this.#urls[(this.#urls.indexOf(this.url) + 1) % this.#urls.length]!;
      try {
        this.#session = this.#newSession();
      } catch (e) {
        this.#giveUp(e instanceof Error ? e : new Error(String(e)));
      }
    }, delayMs);
  }

  #giveUp(cause: Error): void {
    const attempts = this.#attempt;
    const err = new ConnectionClosedError(
      `could not recover the connection to ${this.url} (${attempts} attempts): ${cause.message}`,
      { cause },
    );
    this.#options.logger.error('switchyard: recovery failed', { url: this.url, attempts, error: cause.message });
    this.emit('recovery-failed', err);
    this.#finalize(err, true);
  }

  /**
   * Moves to `closed` once: stops recovery, fails the handshake or every channel with
   * `err`, then emits (amqplib's order: connection 'error', channels' 'close', connection
   * 'close').
   */
  #finalize(err: Error, emitError: boolean): void {
    const previous = this.#state;
    if (previous === ConnectionState.Closed) return;
    this.#state = ConnectionState.Closed;
    this.#closeReason = err;
    clearTimeout(this.#retryTimer);
    clearTimeout(this.#recoveryTimer);
    this.#retryTimer = undefined;
    const session = this.#session;
    this.#session = undefined;
    session?.abort(err, SessionEnd.ClientClose);
    this.#blocked = false;
    const links = [...this.#channels.values()];
    this.#channels.clear();
    if (previous === ConnectionState.Connecting) {
      this.#handshake.reject(err);
    } else {
      if (emitError) this.emit('error', err);
      for (const link of links) link.onSessionLost(err, false);
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
