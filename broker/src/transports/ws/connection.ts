import {
  BATCH_TARGET_BYTES,
  BrokerError,
  ErrorCode,
  FrameBatch,
  MIN_PROTOCOL_VERSION,
  PROTOCOL_VERSION,
  ProtocolError,
  decodeFrames,
  isChannelError,
  type Frame,
  type FrameOf,
} from '@switchyard/client/protocol';
import { errorFields } from '../../logging.js';
import { FrameSink, handleChannelFrame } from './frame-channel.js';
import type { FrameConnection } from '../../server/frame-connection.js';
import type { BrokerServices } from '../../server/services.js';
import { Session } from '../../server/session.js';

const State = {
  handshake: 'handshake',
  authenticating: 'authenticating',
  open: 'open',
  closing: 'closing',
  closed: 'closed',
} as const;
type State = (typeof State)[keyof typeof State];

/** How long a peer has to answer our `close` before the socket is dropped. */
const CLOSE_TIMEOUT_MS = 2_000;
/**
 * Frames decoded but held (behind a pending hello, or behind a publish that met a resource
 * alarm): at most one WebSocket message's worth, since the socket is paused meanwhile; this
 * bounds a message packed with tiny frames. The SDK's batches hold far fewer.
 */
const MAX_HELD_FRAMES = 10_000;

/**
 * One client connection speaking our frame protocol over any FrameConnection (WebSocket or
 * in-memory): handshake, channels, heartbeats, outgoing batching and backpressure.
 * spec/protocol.md §3. Connection.
 */
export class ClientConnection extends Session {
  state: State = State.handshake;
  /** Frames decoded while holding, in order; then whole messages read while holding. */
  private heldFrames: Frame[] = [];
  private heldMessages: Buffer[] = [];
  private heldBytes = 0;
  private outbox = new FrameBatch();
  private flushScheduled = false;
  private heartbeatMs = 0;
  private lastReceived = Date.now();
  private lastSent = Date.now();
  private timer: NodeJS.Timeout | undefined;
  /** Who closed the connection and why: logged once, on the one `connection closed` line. */
  private closeDetail: { by: 'client' | 'broker'; code: number; reason: string } | undefined;
  /** What the session sends unasked (deliveries, confirms, closes ...), as frames of our protocol. */
  readonly sink = new FrameSink((frame) => this.send(frame));

  constructor(
    private readonly ws: FrameConnection,
    services: BrokerServices,
  ) {
    super(services, ws.remoteAddress);
    ws.onMessage((data, binary) => this.onMessage(data, binary));
    ws.onClose((code, reason) => this.onSocketClose(code, reason));
    ws.onError((err) => this.log.warn('socket error', { error: err.message }));
    this.timer = setTimeout(() => {
      if (this.state === State.handshake)
        this.closeWithError(
          new BrokerError(
            ErrorCode.CONNECTION_FORCED,
            `handshake timeout: no hello within ${services.options.handshakeTimeoutMs} ms`,
          ),
        );
    }, services.options.handshakeTimeoutMs);
  }

  /** Queues a frame; frames of one event-loop turn leave in as few WebSocket messages as possible. */
  send(frame: Frame): void {
    if (this.state === State.closed) return;
    this.outbox.add(frame);
    if (this.outbox.byteLength >= BATCH_TARGET_BYTES) this.flush();
    else if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => this.guard('flush', this.flush));
    }
  }

  private readonly sendReply = (frame: Frame): void => this.send(frame);

  private readonly flush = (): void => {
    this.flushScheduled = false;
    if (this.outbox.frameCount === 0 || this.state === State.closed) return;
    const bytes = this.outbox.finish();
    this.lastSent = Date.now();
    this.ws.send(bytes, this.written);
    if (!this.backpressured && this.ws.bufferedAmount > this.services.options.socketHighWaterBytes) {
      this.backpressured = true;
    }
  };

  /**
   * Runs a timer or socket callback: an unexpected error there (nothing catches it above)
   * is logged and ends this connection, never the process.
   */
  private guard(what: string, fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.log.error(`unexpected error in ${what}: closing this connection`, errorFields(err));
      this.ws.terminate();
    }
  }

  private readonly written = (): void => this.guard('write callback', this.onWritten);

  private readonly onWritten = (): void => {
    // Resume once half the high-water mark has drained, so we do not flap at the boundary.
    if (this.backpressured && this.ws.bufferedAmount <= this.services.options.socketHighWaterBytes / 2) this.drained();
  };

  protected get isOpen(): boolean {
    return this.state === State.open;
  }

  protected get isClosed(): boolean {
    return this.state === State.closed;
  }

  protected pauseReading(): void {
    this.ws.pause();
  }

  protected resumeReading(): void {
    this.ws.resume();
  }

  protected afterUnblock(): void {
    this.drainHeld();
  }

  /**
   * Frames wait, in order, while the login is being decided and while a resource alarm
   * blocks the connection; the socket is not read meanwhile (RabbitMQ stops reading a
   * blocked connection), so what waits is bounded by what was already read.
   */
  private get holding(): boolean {
    return this.state === State.authenticating || (this.blocked && this.state === State.open);
  }

  private hold(frame: Frame): void {
    if (this.heldFrames.length >= MAX_HELD_FRAMES) {
      throw new BrokerError(
        ErrorCode.RESOURCE_ERROR,
        `more than ${MAX_HELD_FRAMES} frames sent ahead of helloOk or while blocked: wait for helloOk and for unblocked`,
      );
    }
    this.heldFrames.push(frame);
  }

  /** Handles what was held, until it is all done or the connection holds again. */
  private drainHeld(): void {
    try {
      while (!this.holding && this.state === State.open) {
        if (this.heldFrames.length > 0) {
          const frames = this.heldFrames;
          this.heldFrames = [];
          // If one of these blocks the connection again, the rest are held again, in order.
          for (const frame of frames) this.onFrame(frame);
          continue;
        }
        const data = this.heldMessages.shift();
        if (data === undefined) break;
        this.heldBytes -= data.length;
        decodeFrames(data, this.onFrame, this.services.options.maxFrameBytes);
      }
    } catch (err) {
      this.closeWithError(err);
    }
  }

  private onMessage(data: Buffer, isBinary: boolean): void {
    this.lastReceived = Date.now();
    if (this.state === State.closed) return;
    try {
      if (!isBinary)
        throw new ProtocolError(
          'text WebSocket messages are not part of the protocol: send binary frames',
          ErrorCode.FRAME_ERROR,
        );
      if (this.holding || this.heldMessages.length > 0) {
        // Kept whole, decoded when the hold ends: a paused socket may still deliver what
        // ws had buffered, and that must not become an unbounded heap of frames.
        this.heldBytes += data.length;
        const limit = 2 * this.services.options.maxFrameBytes;
        if (this.heldBytes > limit) {
          throw new BrokerError(
            ErrorCode.RESOURCE_ERROR,
            `more than ${limit} bytes sent ahead of helloOk or while blocked: wait for helloOk and for unblocked`,
          );
        }
        this.heldMessages.push(data);
        return;
      }
      decodeFrames(data, this.onFrame, this.services.options.maxFrameBytes);
    } catch (err) {
      this.closeWithError(err);
    }
  }

  private readonly onFrame = (frame: Frame): void => {
    if (this.state === State.closed) return;
    if (this.holding) return this.hold(frame);
    // Every publish meets the alarms, the first of a connection's first message too.
    if (frame.type === 'publish' && this.state === State.open && !this.admitPublish()) return this.hold(frame);
    if (frame.channel === 0) {
      this.handleConnectionFrame(frame);
      return;
    }
    if (this.state !== State.open) {
      if (this.state === State.closing) return; // after close, only closeOk matters
      throw new BrokerError(
        ErrorCode.COMMAND_INVALID,
        `frame '${frame.type}' before hello: the connection is not open yet`,
      );
    }
    this.handleChannelFrame(frame);
  };

  private handleConnectionFrame(frame: Frame): void {
    switch (frame.type) {
      case 'hello':
        return this.hello(frame);
      case 'heartbeat':
        return;
      case 'close':
        this.send({ type: 'closeOk', channel: 0 });
        this.closeDetail = { by: 'client', code: frame.code, reason: frame.message };
        return this.finish(1000, 'closed');
      case 'closeOk':
        return this.finish(1000, 'closed');
      default:
        if (this.state === State.closing) return;
        throw new BrokerError(ErrorCode.COMMAND_INVALID, `frame '${frame.type}' is not valid on channel 0`);
    }
  }

  private hello(f: FrameOf<'hello'>): void {
    if (this.state !== State.handshake) throw new BrokerError(ErrorCode.COMMAND_INVALID, 'hello sent twice');
    if (f.version < MIN_PROTOCOL_VERSION || f.version > PROTOCOL_VERSION) {
      throw new BrokerError(
        ErrorCode.NOT_IMPLEMENTED,
        `protocol version ${f.version} is not supported: this broker speaks versions ${MIN_PROTOCOL_VERSION} to ${PROTOCOL_VERSION}`,
      );
    }
    // Password hashing runs off the event loop; frames the client pipelines behind its
    // hello are held until the login is decided, and the socket is not read meanwhile.
    this.state = State.authenticating;
    this.ws.pause();
    this.services.authenticate(f.username, f.password, this.remoteAddress, f.vhost).then(
      (login) => {
        if (this.state !== State.authenticating) return;
        this.loggedIn(login);
        this.open(f);
      },
      (err: unknown) => {
        if (this.state !== State.authenticating) return;
        this.log.info('login refused', { user: f.username, error: err instanceof Error ? err.message : String(err) });
        this.state = State.handshake;
        this.closeWithError(err);
      },
    );
  }

  private open(f: FrameOf<'hello'>): void {
    const refusal = this.enter(f.vhost, f.clientProperties);
    if (refusal !== undefined) return this.closeWithError(refusal);
    const ours = this.services.options.heartbeatMs;
    this.heartbeatMs =
      ours === 0 || f.heartbeatMs === 0 ? Math.max(ours, f.heartbeatMs) : Math.min(ours, f.heartbeatMs);
    this.state = State.open;
    clearTimeout(this.timer);
    this.timer = undefined;
    // The peer heartbeats only once it has helloOk: silence is counted from here, not from
    // its hello, or a slow login (password hashing on a loaded host) would read as a dead peer.
    this.lastReceived = Date.now();
    // Ticks at a quarter interval: a silent peer is found dead within 2.25 intervals.
    if (this.heartbeatMs > 0)
      this.timer = setInterval(
        () => this.guard('heartbeat', this.tick),
        Math.max(25, Math.floor(this.heartbeatMs / 4)),
      );
    this.send({
      type: 'helloOk',
      channel: 0,
      heartbeatMs: this.heartbeatMs,
      maxFrameBytes: this.services.options.maxFrameBytes,
      maxMessageBytes: this.services.options.maxMessageBytes,
      connectionId: this.id,
      serverProperties: {
        product: 'switchyard',
        version: this.services.version,
        protocolVersion: PROTOCOL_VERSION,
        cluster_name: this.services.clusterName,
      },
    });
    this.opened();
    this.ws.authenticated();
    this.log.info('connection opened', { user: this.user, vhost: f.vhost, client: f.clientProperties['product'] });
    this.ws.resume();
    this.drainHeld();
  }

  private readonly tick = (): void => {
    const now = Date.now();
    // While blocked we do not read the socket, so silence from the peer proves nothing.
    if (this.blocked) this.lastReceived = now;
    if (now - this.lastReceived > 2 * this.heartbeatMs) {
      this.log.warn('missed heartbeats: closing', { heartbeatMs: this.heartbeatMs });
      this.ws.terminate();
      return;
    }
    if (now - this.lastSent >= this.heartbeatMs / 2) this.send({ type: 'heartbeat', channel: 0 });
  };

  private handleChannelFrame(frame: Frame): void {
    const n = frame.channel;
    const ch = this.channels.get(n);
    if (frame.type === 'channelOpen') {
      this.openChannel(n);
      this.send({ type: 'channelOpenOk', channel: n });
      return;
    }
    if (ch === undefined)
      throw new BrokerError(ErrorCode.CHANNEL_ERROR, `channel ${n} is not open: send channelOpen first`);
    if (frame.type === 'channelCloseOk') {
      if (ch.state === 'closing') this.channels.delete(n);
      return;
    }
    if (frame.type === 'channelClose') {
      ch.release();
      this.channels.delete(n);
      this.send({ type: 'channelCloseOk', channel: n });
      return;
    }
    if (ch.state !== 'open') return; // frames in flight when we closed the channel
    try {
      handleChannelFrame(ch, frame, this.sendReply);
    } catch (err) {
      if (err instanceof BrokerError && isChannelError(err.code))
        return this.failChannel(ch, err, 'rid' in frame ? frame.rid : 0);
      throw err;
    }
  }

  /** Closes the connection with an error frame (connection errors and protocol errors). */
  closeWithError(err: unknown): void {
    if (this.state === State.closed || this.state === State.closing) return;
    const be =
      err instanceof BrokerError
        ? err
        : new BrokerError(
            ErrorCode.INTERNAL_ERROR,
            `internal error: ${err instanceof Error ? err.message : String(err)}`,
          );
    if (!(err instanceof BrokerError))
      this.log.error('internal error', { error: err instanceof Error ? err.stack : String(err) });
    this.close(be.code, `${be.name} - ${be.message}`);
  }

  /** Starts a close handshake: sends `close`, releases channels, drops the socket if the peer does not answer. */
  close(code: number, message: string): void {
    if (this.state === State.closed || this.state === State.closing) return;
    this.closeDetail ??= { by: 'broker', code, reason: message };
    this.releaseChannels();
    this.state = State.closing;
    // Read again (paused while authenticating or blocked) so the peer's closeOk arrives.
    this.ws.resume();
    this.send({ type: 'close', channel: 0, code, message });
    this.flush();
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.finish(1000, 'close timeout'), CLOSE_TIMEOUT_MS);
  }

  private finish(wsCode: number, reason: string): void {
    if (this.state === State.closed) return;
    this.flush();
    this.cleanup(reason);
    this.ws.close(wsCode, reason);
  }

  private onSocketClose(code: number, reason: string): void {
    if (this.state !== State.closed) this.cleanup(reason === '' ? `socket closed (${code})` : reason);
  }

  private cleanup(reason: string): void {
    // Channels are released before the state turns closed (ended() finds none left).
    this.releaseChannels();
    this.state = State.closed;
    clearTimeout(this.timer);
    clearInterval(this.timer);
    this.ended(this.closeDetail ?? { reason });
  }
}
