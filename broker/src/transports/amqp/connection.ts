import type { Socket } from 'node:net';
import { BrokerError, ErrorCode, fieldTableError, isChannelError, type FieldTable } from '@switchyard/client/protocol';
import { errorFields } from '../../logging.js';
import type { BrokerServices } from '../../server/services.js';
import { Session } from '../../server/session.js';
import { AmqpChannel } from './channel-adapter.js';
import {
  BASIC_CLASS,
  decodeMethod,
  decodeProperties,
  decodeTable,
  encodeMethod,
  fromAmqpProperties,
  FRAME_BODY,
  FRAME_END,
  FRAME_HEADER,
  FRAME_HEARTBEAT,
  FRAME_METHOD,
  FRAME_MIN_SIZE,
  HEARTBEAT_FRAME,
  M,
  methodName,
  type MethodFields,
} from './codec.js';
import { replyText, UNEXPECTED_FRAME } from './reply-text.js';
import { AmqpSink, shortText, type AmqpOutput } from './sink.js';

/** "AMQP" 0 0 9 1: the only protocol header we speak (AMQP 0-9-1 §4.2.2). */
const PROTOCOL_HEADER = Buffer.from([0x41, 0x4d, 0x51, 0x50, 0, 0, 9, 1]);
/** The frame-max we offer, as RabbitMQ's default (128 KiB). */
export const SERVER_FRAME_MAX = 131_072;
/** How long a peer has to answer our connection.close before the socket is dropped. */
const CLOSE_TIMEOUT_MS = 2_000;

/** The capabilities RabbitMQ advertises and clients check (spec/amqp.md §Negotiation). */
const CAPABILITIES = {
  publisher_confirms: true,
  exchange_exchange_bindings: true,
  'basic.nack': true,
  consumer_cancel_notify: true,
  'connection.blocked': true,
  consumer_priorities: true,
  authentication_failure_close: true,
  per_consumer_qos: true,
  direct_reply_to: true,
};

type State = 'header' | 'start' | 'tune' | 'open-wait' | 'authenticating' | 'open' | 'closing' | 'closed';

/**
 * One AMQP 0-9-1 client connection over a TCP (or TLS) socket: the protocol header,
 * connection.start/tune/open negotiation, heartbeats, frame parsing and content assembly,
 * channel.open/close, and an outbox written once per event-loop turn. Everything else is the
 * protocol-independent Session and ServerChannel. spec/amqp.md.
 */
export class AmqpConnection extends Session implements AmqpOutput {
  state: State = 'header';
  readonly sink: AmqpSink;
  frameMax = SERVER_FRAME_MAX;
  private channelMax: number;
  private heartbeatMs = 0;
  private readonly amqpChannels = new Map<number, AmqpChannel>();
  private capabilities: FieldTable = {};
  private credentials: { user: string; password: string } | undefined;
  private mechanism = '';
  /** Bytes read and not yet parsed (a partial frame, or frames held while blocked). */
  private input: Buffer = Buffer.alloc(0);
  private outbox: Uint8Array[] = [];
  private outboxBytes = 0;
  private flushScheduled = false;
  private lastReceived = Date.now();
  private lastSent = Date.now();
  private timer: NodeJS.Timeout | undefined;
  private closeDetail: { by: 'client' | 'broker'; code: number; reason: string } | undefined;

  constructor(
    private readonly socket: Socket,
    services: BrokerServices,
    private readonly authenticated: () => void,
  ) {
    super(services, socket.remoteAddress ?? 'unknown');
    this.sink = new AmqpSink(this);
    this.channelMax = Math.min(65535, services.options.maxChannelsPerConnection);
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.guard('read', () => this.onData(chunk)));
    socket.on('drain', () => this.guard('drain', () => this.onDrain()));
    socket.on('close', () => this.cleanup('socket closed'));
    socket.on('error', (err) => this.log.debug('socket error', { error: err.message }));
    // The whole negotiation (header to open-ok) within the handshake timeout, as on the WebSocket port.
    const handshakeMs = services.options.handshakeTimeoutMs;
    if (handshakeMs > 0)
      this.timer = setTimeout(() => {
        if (this.state !== 'open' && this.state !== 'closed') {
          this.log.info('handshake timeout: closing', { timeoutMs: handshakeMs });
          this.socket.destroy();
        }
      }, handshakeMs);
  }

  override get protocol(): 'amqp' {
    return 'amqp';
  }

  // --- Session ----------------------------------------------------------------------------

  protected get isOpen(): boolean {
    return this.state === 'open';
  }

  protected get isClosed(): boolean {
    return this.state === 'closed';
  }

  protected pauseReading(): void {
    this.socket.pause();
  }

  protected resumeReading(): void {
    this.socket.resume();
  }

  protected afterUnblock(): void {
    this.parse();
  }

  // --- AmqpOutput -------------------------------------------------------------------------

  write(frame: Uint8Array): void {
    if (this.state === 'closed') return;
    this.outbox.push(frame);
    this.outboxBytes += frame.length;
    if (this.outboxBytes >= 256 * 1024) this.flush();
    else if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(this.scheduledFlush);
    }
  }

  hasCapability(name: string): boolean {
    return this.capabilities[name] === true;
  }

  channelOpen(channel: number): boolean {
    return this.channels.get(channel)?.state === 'open';
  }

  fail(err: BrokerError): void {
    this.log.warn('cannot send a delivery: closing the connection', { error: err.message });
    setImmediate(() => this.guard('fail', () => this.closeWithError(err, 0)));
  }

  private readonly scheduledFlush = (): void => this.guard('flush', () => this.flush());

  /** The turn's frames leave in one write (one syscall, one TCP segment train). */
  private flush(): void {
    this.flushScheduled = false;
    if (this.outbox.length === 0 || this.state === 'closed') return;
    const bytes = this.outbox.length === 1 ? this.outbox[0]! : Buffer.concat(this.outbox, this.outboxBytes);
    this.outbox = [];
    this.outboxBytes = 0;
    this.lastSent = Date.now();
    this.socket.write(bytes);
    if (!this.backpressured && this.socket.writableLength > this.services.options.socketHighWaterBytes) {
      this.backpressured = true;
    }
  }

  private onDrain(): void {
    if (this.backpressured) this.drained();
  }

  /** A callback's unexpected error ends this connection, never the process. */
  private guard(what: string, fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.log.error(`unexpected error in ${what}: closing this connection`, errorFields(err));
      this.socket.destroy();
    }
  }

  // --- reading ----------------------------------------------------------------------------

  private onData(chunk: Buffer): void {
    this.lastReceived = Date.now();
    if (this.state === 'closed') return;
    this.input = this.input.length === 0 ? chunk : Buffer.concat([this.input, chunk]);
    this.parse();
  }

  /** Parses whole frames off `input`; stops at a publish while blocked by a resource alarm. */
  private parse(): void {
    let buf = this.input;
    let off = 0;
    try {
      if (this.state === 'header') {
        if (buf.length < 8) {
          if (!PROTOCOL_HEADER.subarray(0, buf.length).equals(buf)) this.badHeader();
          return;
        }
        if (!buf.subarray(0, 8).equals(PROTOCOL_HEADER)) return this.badHeader();
        off = 8;
        this.start();
      }
      while (this.state !== 'closed' && this.state !== 'authenticating') {
        if (buf.length - off < 7) break;
        const type = buf[off]!;
        const channel = buf.readUInt16BE(off + 1);
        const size = buf.readUInt32BE(off + 3);
        if (size > this.frameMax - 8) {
          throw new BrokerError(
            ErrorCode.FRAME_ERROR,
            `frame size ${size + 8} exceeds the negotiated frame_max ${this.frameMax}`,
          );
        }
        if (buf.length - off < size + 8) break;
        if (buf[off + 7 + size] !== FRAME_END) {
          throw new BrokerError(ErrorCode.FRAME_ERROR, `bad frame end octet ${buf[off + 7 + size]}: expected 0xce`);
        }
        // A publish held by a resource alarm stays unparsed, with what follows it, until unblocked.
        if (type === FRAME_METHOD && size >= 4 && this.isOpen && buf.readUInt32BE(off + 7) === M.BasicPublish) {
          if (!this.admitPublish()) break;
        }
        const payload = buf.subarray(off + 7, off + 7 + size);
        off += size + 8;
        this.onFrame(type, channel, payload);
      }
    } catch (err) {
      buf = Buffer.alloc(0);
      off = 0;
      this.closeWithError(err, 0);
    }
    this.input = buf.subarray(off);
  }

  /** Wrong protocol header: answer with ours and close (AMQP 0-9-1 §4.2.2). */
  private badHeader(): void {
    this.log.info('bad protocol header: closing', { header: this.input.subarray(0, 8).toString('hex') });
    this.input = Buffer.alloc(0);
    this.state = 'closed';
    clearTimeout(this.timer);
    this.socket.end(PROTOCOL_HEADER);
  }

  private onFrame(type: number, channel: number, payload: Buffer): void {
    if (type === FRAME_HEARTBEAT) return;
    if (type === FRAME_METHOD) {
      if (payload.length < 4) throw new BrokerError(ErrorCode.FRAME_ERROR, 'method frame shorter than its 4-byte id');
      const id = payload.readUInt32BE(0);
      if (methodName(id) === undefined) {
        throw new BrokerError(ErrorCode.NOT_IMPLEMENTED, `unknown method: class ${id >>> 16}, method ${id & 0xffff}`);
      }
      let fields: MethodFields;
      try {
        fields = decodeMethod(id, payload.subarray(4));
      } catch (err) {
        throw new BrokerError(
          ErrorCode.SYNTAX_ERROR,
          `cannot decode ${methodName(id)}: ${err instanceof Error ? err.message : String(err)}`,
        );
      }
      if (channel === 0) return this.connectionMethod(id, fields);
      return this.channelMethod(channel, id, fields);
    }
    if (type === FRAME_HEADER || type === FRAME_BODY) return this.contentFrame(type, channel, payload);
    throw new BrokerError(ErrorCode.FRAME_ERROR, `unknown frame type ${type}`);
  }

  // --- negotiation ------------------------------------------------------------------------

  private start(): void {
    this.state = 'start';
    this.write(
      encodeMethod(M.ConnectionStart, 0, {
        versionMajor: 0,
        versionMinor: 9,
        serverProperties: {
          product: 'Switchyard',
          version: this.services.version,
          platform: `Node.js ${process.version}`,
          copyright: 'Switchyard contributors',
          information: 'Licensed under the MIT license',
          cluster_name: this.services.clusterName,
          capabilities: CAPABILITIES,
        },
        mechanisms: Buffer.from('PLAIN AMQPLAIN'),
        locales: Buffer.from('en_US'),
      }),
    );
  }

  private connectionMethod(id: number, f: MethodFields): void {
    if (this.state === 'closing') {
      if (id === M.ConnectionCloseOk) return this.finish();
      if (id === M.ConnectionClose) {
        this.write(encodeMethod(M.ConnectionCloseOk, 0, {}));
        return this.finish();
      }
      return;
    }
    switch (id) {
      case M.ConnectionStartOk:
        if (this.state !== 'start') break;
        return this.startOk(f);
      case M.ConnectionTuneOk:
        if (this.state !== 'tune') break;
        return this.tuneOk(f);
      case M.ConnectionOpen:
        if (this.state !== 'open-wait') break;
        return this.openVhost(f['virtualHost'] as string);
      case M.ConnectionClose:
        this.closeDetail = { by: 'client', code: f['replyCode'] as number, reason: f['replyText'] as string };
        this.releaseChannels();
        this.write(encodeMethod(M.ConnectionCloseOk, 0, {}));
        return this.finish();
      case M.ConnectionUpdateSecret:
        if (this.state !== 'open') break;
        return this.updateSecret((f['newSecret'] as Buffer).toString('utf8'));
      case M.ConnectionBlocked:
      case M.ConnectionUnblocked:
        return; // a client's own flow notices mean nothing to a broker
      default:
        break;
    }
    // RabbitMQ's rabbit_reader: 504 with the state's name ('running' once open).
    throw new BrokerError(
      ErrorCode.CHANNEL_ERROR,
      `unexpected method in connection state ${this.state === 'open' ? 'running' : this.state}`,
    );
  }

  private startOk(f: MethodFields): void {
    const props = (f['clientProperties'] as FieldTable | undefined) ?? {};
    this.clientProperties = props;
    const caps = props['capabilities'];
    if (typeof caps === 'object' && caps !== null) this.capabilities = caps as FieldTable;
    this.mechanism = f['mechanism'] as string;
    const response = f['response'] as Buffer;
    if (this.mechanism === 'PLAIN') {
      // authzid NUL authcid NUL password (RFC 4616).
      const parts = response.toString('utf8').split('\0');
      if (parts.length === 3) this.credentials = { user: parts[1]!, password: parts[2]! };
    } else if (this.mechanism === 'AMQPLAIN') {
      let t: FieldTable = {};
      try {
        t = decodeTable(response);
      } catch {
        // malformed: refused below like any response without a user and a password
      }
      const login = t['LOGIN'];
      const password = t['PASSWORD'];
      if (typeof login === 'string' && typeof password === 'string') this.credentials = { user: login, password };
    } else {
      throw new BrokerError(
        ErrorCode.ACCESS_REFUSED,
        `unsupported authentication mechanism '${shortText(this.mechanism)}': use PLAIN or AMQPLAIN`,
      );
    }
    const creds = this.credentials;
    if (creds === undefined) {
      throw new BrokerError(
        ErrorCode.ACCESS_REFUSED,
        `malformed ${this.mechanism} response: send a user name and a password`,
      );
    }
    // The login is checked here, as RabbitMQ does (clients tell an authentication failure by
    // a close right after start-ok); the vhost, named later by connection.open, is checked there.
    this.state = 'authenticating';
    this.socket.pause();
    this.services.authenticate(creds.user, creds.password, this.remoteAddress, undefined).then(
      (login) =>
        this.guard('login', () => {
          if (this.state !== 'authenticating') return;
          this.loggedIn(login);
          this.credentials = undefined; // not kept past the login
          this.state = 'tune';
          this.write(
            encodeMethod(M.ConnectionTune, 0, {
              channelMax: this.channelMax,
              frameMax: SERVER_FRAME_MAX,
              heartbeat: Math.round(this.services.options.heartbeatMs / 1000),
            }),
          );
          this.socket.resume();
          this.parse();
        }),
      (err: unknown) =>
        this.guard('login', () => {
          if (this.state !== 'authenticating') return;
          this.log.info('login refused', { user: creds.user, error: err instanceof Error ? err.message : String(err) });
          this.state = 'start';
          if (!this.hasCapability('authentication_failure_close')) {
            // An old client: RabbitMQ just closes the socket.
            this.state = 'closed';
            this.socket.destroy();
            return;
          }
          // RabbitMQ's words, which clients show; the reason itself stays in our log.
          this.closeWithError(
            new BrokerError(
              ErrorCode.ACCESS_REFUSED,
              `Login was refused using authentication mechanism ${this.mechanism}. For details see the broker logfile.`,
            ),
            0,
          );
        }),
    );
  }

  /** As RabbitMQ: the client's frame-max and channel-max may lower ours; its heartbeat is taken (0 = off). */
  private tuneOk(f: MethodFields): void {
    const frameMax = f['frameMax'] as number;
    const channelMax = f['channelMax'] as number;
    if (frameMax !== 0 && (frameMax < FRAME_MIN_SIZE || frameMax > SERVER_FRAME_MAX)) {
      throw new BrokerError(
        ErrorCode.NOT_ALLOWED,
        `frame_max=${frameMax} is outside the allowed range ${FRAME_MIN_SIZE}..${SERVER_FRAME_MAX}`,
      );
    }
    if (channelMax > this.channelMax) {
      throw new BrokerError(ErrorCode.NOT_ALLOWED, `channel_max=${channelMax} > ${this.channelMax} max channels`);
    }
    this.frameMax = frameMax === 0 ? SERVER_FRAME_MAX : frameMax;
    if (channelMax !== 0) this.channelMax = channelMax;
    this.heartbeatMs = (f['heartbeat'] as number) * 1000;
    this.state = 'open-wait';
  }

  /** connection.open: the vhost and the user's access to it (530 NOT_ALLOWED, as RabbitMQ). */
  private openVhost(vhostName: string): void {
    const refusal = this.enter(vhostName, this.clientProperties);
    if (refusal !== undefined) throw refusal;
    this.state = 'open';
    clearTimeout(this.timer);
    this.timer = undefined;
    this.lastReceived = Date.now();
    if (this.heartbeatMs > 0)
      this.timer = setInterval(
        () => this.guard('heartbeat', this.tick),
        Math.max(25, Math.floor(this.heartbeatMs / 2)),
      );
    this.write(encodeMethod(M.ConnectionOpenOk, 0, { knownHosts: '' }));
    this.opened();
    this.authenticated();
    this.log.info('connection opened', {
      protocol: 'amqp',
      user: this.user,
      vhost: vhostName,
      client: this.clientProperties['product'],
    });
  }

  /**
   * connection.update-secret (RabbitMQ's way to refresh an expiring token on an open
   * connection): the new secret must log the same user in (a password or a login token);
   * then update-secret-ok, else 530 NOT_ALLOWED as RabbitMQ refuses it.
   */
  private updateSecret(secret: string): void {
    const vhost = this.vhostName;
    this.services.authenticate(this.user, secret, this.remoteAddress, vhost).then(
      (login) =>
        this.guard('update-secret', () => {
          if (this.state !== 'open') return;
          this.viaToken = login.viaToken;
          this.write(encodeMethod(M.ConnectionUpdateSecretOk, 0, {}));
        }),
      (err: unknown) =>
        this.guard('update-secret', () => {
          this.log.info('update-secret refused', { error: err instanceof Error ? err.message : String(err) });
          this.closeWithError(
            new BrokerError(ErrorCode.NOT_ALLOWED, `Update secret was refused for user '${this.user}'`),
            M.ConnectionUpdateSecret,
          );
        }),
    );
  }

  /** Heartbeats every half interval when idle; a peer silent for two intervals is dead (as RabbitMQ). */
  private readonly tick = (): void => {
    const now = Date.now();
    if (this.blocked) this.lastReceived = now;
    if (now - this.lastReceived > 2 * this.heartbeatMs) {
      this.log.warn('missed heartbeats from client: closing', { heartbeatMs: this.heartbeatMs });
      this.socket.destroy();
      return;
    }
    if (now - this.lastSent >= this.heartbeatMs / 2) this.write(HEARTBEAT_FRAME);
  };

  // --- channels ---------------------------------------------------------------------------

  private channelMethod(n: number, id: number, f: MethodFields): void {
    if (this.state !== 'open') {
      if (this.state === 'closing') return; // after our close, only close-ok matters
      throw new BrokerError(ErrorCode.CHANNEL_ERROR, `channel ${n} used before the connection is open`);
    }
    if (id === M.ChannelOpen) {
      if (n > this.channelMax) {
        throw new BrokerError(
          ErrorCode.CHANNEL_ERROR,
          `channel number ${n} exceeds the negotiated channel_max ${this.channelMax}`,
        );
      }
      if (this.channels.has(n))
        throw new BrokerError(ErrorCode.CHANNEL_ERROR, `second 'channel.open' seen on channel ${n}`);
      const ch = this.openChannel(n);
      this.amqpChannels.set(n, new AmqpChannel(ch, this));
      this.write(encodeMethod(M.ChannelOpenOk, n, { channelId: Buffer.alloc(0) }));
      return;
    }
    const ach = this.amqpChannels.get(n);
    const ch = this.channels.get(n);
    if (ach === undefined || ch === undefined) {
      // Both sides closed the channel at once: the peer's close-ok for our close comes after
      // our close-ok for its close. Nothing left to do.
      if (id === M.ChannelCloseOk) return;
      throw new BrokerError(ErrorCode.CHANNEL_ERROR, `expected 'channel.open' on channel ${n}`);
    }
    if (id === M.ChannelCloseOk) {
      if (ch.state === 'closing') this.dropChannel(n);
      return;
    }
    if (id === M.ChannelClose) {
      ch.release();
      this.dropChannel(n);
      this.write(encodeMethod(M.ChannelCloseOk, n, {}));
      return;
    }
    if (ch.state !== 'open') return; // in flight when we closed the channel
    if (ach.content !== undefined) {
      throw new BrokerError(
        UNEXPECTED_FRAME,
        `expected content header for class 60, got non content header frame instead`,
      );
    }
    try {
      ach.handle(id, f);
    } catch (err) {
      if (err instanceof BrokerError && isChannelError(err.code)) {
        ach.content = undefined;
        return this.failChannel(ch, err, id);
      }
      (err as { amqpMethod?: number }).amqpMethod = id;
      throw err;
    }
  }

  private dropChannel(n: number): void {
    this.channels.delete(n);
    this.amqpChannels.delete(n);
  }

  /** A content header or body frame: part of the publish its channel is assembling. */
  private contentFrame(type: number, n: number, payload: Buffer): void {
    if (this.state !== 'open') {
      if (this.state === 'closing') return;
      throw new BrokerError(UNEXPECTED_FRAME, 'content frame before the connection is open');
    }
    const ach = this.amqpChannels.get(n);
    const ch = this.channels.get(n);
    if (ach === undefined || ch === undefined)
      throw new BrokerError(ErrorCode.CHANNEL_ERROR, `expected 'channel.open' on channel ${n}`);
    if (ch.state !== 'open') return; // the rest of a publish that closed the channel
    const c = ach.content;
    if (c === undefined) {
      throw new BrokerError(
        UNEXPECTED_FRAME,
        `expected method frame, got non method frame instead (${type === FRAME_HEADER ? 'content header' : 'content body'} on channel ${n})`,
      );
    }
    if (type === FRAME_HEADER) {
      if (c.size >= 0) throw new BrokerError(UNEXPECTED_FRAME, `expected content body, got content header instead`);
      if (payload.length < 14 || payload.readUInt16BE(0) !== BASIC_CLASS) {
        throw new BrokerError(ErrorCode.FRAME_ERROR, 'content header for a class other than basic (60)');
      }
      const size = Number(payload.readBigUInt64BE(4));
      let props: MethodFields;
      try {
        props = decodeProperties(payload.subarray(12));
      } catch (err) {
        throw new BrokerError(ErrorCode.SYNTAX_ERROR, `cannot decode content header: ${(err as Error).message}`);
      }
      c.properties = fromAmqpProperties(props);
      if (c.properties?.headers !== undefined) {
        const error = fieldTableError(c.properties.headers, 'headers');
        if (error !== undefined) {
          ach.content = undefined;
          return this.failChannel(
            ch,
            new BrokerError(ErrorCode.PRECONDITION_FAILED, `invalid message headers: ${error}`),
            M.BasicPublish,
          );
        }
      }
      c.size = size;
      const max = this.services.options.maxMessageBytes;
      if (size > max) {
        ach.content = undefined;
        return this.failChannel(
          ch,
          new BrokerError(
            ErrorCode.PRECONDITION_FAILED,
            `message size ${size} is larger than configured max size ${max}`,
          ),
          M.BasicPublish,
        );
      }
    } else {
      if (c.size < 0) throw new BrokerError(UNEXPECTED_FRAME, 'expected content header, got content body instead');
      c.chunks.push(payload);
      c.received += payload.length;
      if (c.received > c.size) {
        throw new BrokerError(
          ErrorCode.FRAME_ERROR,
          `content body longer than the ${c.size} bytes its header announced`,
        );
      }
    }
    if (c.received === c.size) {
      ach.content = undefined;
      try {
        ach.published(c);
      } catch (err) {
        if (err instanceof BrokerError && isChannelError(err.code)) return this.failChannel(ch, err, M.BasicPublish);
        throw err;
      }
    }
  }

  // --- closing ----------------------------------------------------------------------------

  /** Closes the connection with connection.close (connection errors, 5xx and 3xx). */
  closeWithError(err: unknown, methodId: number): void {
    if (this.state === 'closed' || this.state === 'closing') return;
    const be =
      err instanceof BrokerError
        ? err
        : new BrokerError(
            ErrorCode.INTERNAL_ERROR,
            `internal error: ${err instanceof Error ? err.message : String(err)}`,
          );
    if (!(err instanceof BrokerError)) this.log.error('internal error', errorFields(err));
    const ref = (err as { amqpMethod?: number }).amqpMethod ?? methodId;
    this.sendClose(be.code, replyText(be), ref);
  }

  /** Closes the connection with a reply code and text (320 CONNECTION_FORCED, ...). */
  close(code: number, message: string): void {
    this.sendClose(code, message, 0);
  }

  private sendClose(code: number, text: string, ref: number): void {
    if (this.state === 'closed' || this.state === 'closing') return;
    this.closeDetail ??= { by: 'broker', code, reason: text };
    this.releaseChannels();
    const before = this.state;
    this.state = 'closing';
    this.socket.resume();
    this.write(
      encodeMethod(M.ConnectionClose, 0, {
        replyCode: code,
        replyText: shortText(text),
        classId: ref >>> 16,
        methodId: ref & 0xffff,
      }),
    );
    this.flush();
    clearTimeout(this.timer);
    clearInterval(this.timer);
    // Before the handshake finished a client may not answer: RabbitMQ closes the socket too.
    this.timer = setTimeout(() => this.finish(), before === 'open' ? CLOSE_TIMEOUT_MS : 200);
  }

  private finish(): void {
    if (this.state === 'closed') return;
    this.flush();
    this.cleanup('closed');
    this.socket.end();
  }

  private cleanup(reason: string): void {
    if (this.state === 'closed') return;
    this.releaseChannels();
    this.amqpChannels.clear();
    this.state = 'closed';
    clearTimeout(this.timer);
    clearInterval(this.timer);
    this.ended(this.closeDetail ?? { reason });
    if (!this.socket.destroyed) setTimeout(() => this.socket.destroy(), CLOSE_TIMEOUT_MS).unref();
  }
}
