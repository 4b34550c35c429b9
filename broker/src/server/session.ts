import { randomUUID } from 'node:crypto';
import { BrokerError, ErrorCode, type FieldTable } from '@switchyard/client/protocol';
import { Permissions } from '../auth/permissions.js';
import type { Logger } from '../logging.js';
import type { VirtualHost } from '../vhost/virtual-host.js';
import { ServerChannel } from './channel.js';
import type { BrokerServices, Login } from './services.js';
import type { ChannelOwner, SessionSink } from './session-sink.js';

/**
 * The protocol-independent half of a client connection: who logged in to which vhost, the
 * channel table and its limit, channel errors, consumer timeouts, backpressure and resource
 * alarm blocking. A wire protocol's connection (transports/ws/connection.ts for our frames; an AMQP
 * 0-9-1 connection later) extends it with its handshake, framing and heartbeats, and
 * provides the sink its events are encoded by. spec/protocol.md §3. Connection.
 */
export abstract class Session implements ChannelOwner {
  readonly id = randomUUID();
  user = '';
  /** What the client said about itself at login (product, version ...). */
  clientProperties: FieldTable = {};
  readonly connectedAt = Date.now();
  /** True while the transport holds more unsent bytes than the high-water mark. */
  backpressured = false;
  /** Has published at least once: resource alarms block such connections. */
  hasPublished = false;
  /** Blocked by a resource alarm: not read from until it clears. */
  blocked = false;
  /** The user's permissions in the connection's vhost (set at login). */
  permissions: Permissions | undefined;
  /** Logged in with a token rather than a password (token revocation closes it). */
  viaToken = false;
  protected vhostRef: VirtualHost | undefined;
  protected readonly channels = new Map<number, ServerChannel>();
  protected readonly log: Logger;
  /** What the session sends unasked (deliveries, confirms, closes ...), in the wire protocol. */
  abstract readonly sink: SessionSink;

  constructor(
    readonly services: BrokerServices,
    readonly remoteAddress: string,
  ) {
    this.log = services.logger.child({ component: 'connection', conn: this.id, peer: remoteAddress });
  }

  /** The connection's state, as the management API shows it (`open`, `closing` ...). */
  abstract readonly state: string;

  /** Closes the connection with a reply code and text (320 CONNECTION_FORCED, ...). */
  abstract close(code: number, message: string): void;

  /** True once logged in and until the close begins: only then may it be blocked. */
  protected abstract get isOpen(): boolean;
  /** True once the connection is gone. */
  protected abstract get isClosed(): boolean;
  /** Stop / start reading from the peer (a blocked connection is not read). */
  protected abstract pauseReading(): void;
  protected abstract resumeReading(): void;
  /** Unblocked: handle what was read and held meanwhile. */
  protected abstract afterUnblock(): void;

  /** The wire protocol: our frames over WebSocket, or AMQP 0-9-1 (metrics label, management API). */
  get protocol(): 'ws' | 'amqp' {
    return 'ws';
  }

  /** Name of the vhost, once open. */
  get vhostName(): string | undefined {
    return this.vhostRef?.name;
  }

  /**
   * The user's current permissions in this vhost (looked up each time, so a change or a
   * revocation applies at once); only valid on an open connection.
   */
  get access(): Permissions {
    if (this.permissions === undefined)
      throw new BrokerError(ErrorCode.COMMAND_INVALID, 'connection is not open: send hello first');
    const current = this.services.permissionsOf(this.user, this.vhostRef!.name);
    if (current !== undefined) this.permissions = current;
    else this.permissions = new Permissions(this.user, this.vhostRef!.name, { configure: '', write: '', read: '' });
    return this.permissions;
  }

  /** The vhost of an open connection. */
  get vhost(): VirtualHost {
    if (this.vhostRef === undefined)
      throw new BrokerError(ErrorCode.COMMAND_INVALID, 'connection is not open: send hello first');
    return this.vhostRef;
  }

  get channelCount(): number {
    return this.channels.size;
  }

  channelList(): IterableIterator<ServerChannel> {
    return this.channels.values();
  }

  /** Opens channel `n`: 504 CHANNEL_ERROR when it is open already, 530 beyond the limit. */
  protected openChannel(n: number): ServerChannel {
    if (this.channels.has(n)) throw new BrokerError(ErrorCode.CHANNEL_ERROR, `channel ${n} is already open`);
    const max = this.services.options.maxChannelsPerConnection;
    if (this.channels.size >= max) {
      throw new BrokerError(
        ErrorCode.NOT_ALLOWED,
        `channel limit reached: ${max} channels are open on this connection (maxChannelsPerConnection)`,
      );
    }
    const ch = new ServerChannel(this, n);
    this.channels.set(n, ch);
    return ch;
  }

  /** The transport drained below half the high-water mark: deliveries resume. */
  protected drained(): void {
    this.backpressured = false;
    for (const ch of this.channels.values()) ch.wake();
  }

  /**
   * Every publish meets the resource alarms before it is handled, whatever the protocol:
   * false when it must wait (the connection is then blocked, and the publish waits with
   * everything read after it until the alarms clear). spec/security.md §Resource alarms and flow control.
   */
  protected admitPublish(): boolean {
    if (this.blocked) return false;
    const reason = this.services.alarmReason();
    if (reason === undefined) return true;
    this.hasPublished = true;
    this.block(reason);
    return false;
  }

  /** Called on every publish (the alarm itself is checked before a publish is handled). */
  notePublish(): void {
    this.hasPublished = true;
    if (!this.blocked) {
      const reason = this.services.alarmReason();
      if (reason !== undefined) this.block(reason);
    }
  }

  /**
   * Resource alarm: tell the client and stop reading it (RabbitMQ's connection.blocked);
   * what was already read is still processed, deliveries continue.
   * spec/security.md §Resource alarms and flow control.
   */
  block(reason: string): void {
    if (this.blocked || !this.isOpen) return;
    this.blocked = true;
    this.sink.blocked(reason);
    this.pauseReading();
    this.log.info('connection blocked', { reason });
  }

  unblock(): void {
    if (!this.blocked) return;
    this.blocked = false;
    if (this.isClosed) return;
    this.resumeReading();
    this.sink.unblocked();
    this.log.info('connection unblocked');
    this.afterUnblock();
  }

  /**
   * A channel error: the channel is released at once (consumers cancelled, unacked messages
   * requeued) and told why; its later requests are ignored until it acknowledges the close.
   */
  failChannel(ch: ServerChannel, err: BrokerError, ref: number): void {
    this.log.info('channel error', { channel: ch.number, code: err.code, error: err.message });
    ch.markClosing();
    this.sink.channelClosed(ch.number, err.code, `${err.name} - ${err.message}`, ref);
  }

  /** Closes channels holding a delivery past its consumer timeout (called periodically). */
  checkConsumerTimeouts(now: number, defaultMs: number): void {
    for (const ch of this.channels.values()) {
      if (ch.state !== 'open') continue;
      const err = ch.checkConsumerTimeout(now, defaultMs);
      if (err !== undefined) {
        this.log.warn('consumer timeout: closing channel', { channel: ch.number, error: err.message });
        this.failChannel(ch, err, 0);
      }
    }
  }

  /** The vhost a login token is limited to, if any. */
  private tokenVhost: string | undefined;

  /** The broker accepted the credentials (services.authenticate): who is logging in. */
  protected loggedIn(login: Login): void {
    this.user = login.user;
    this.viaToken = login.viaToken;
    this.tokenVhost = login.tokenVhost;
    if (login.permissions !== undefined) this.permissions = login.permissions;
  }

  /**
   * Opens the session in the named vhost for the logged-in user, whatever the protocol: a
   * BrokerError (530 NOT_ALLOWED) to close with when the vhost is unknown, the user has no
   * access to it, a token is for another vhost, or the connection limit is reached. The wire
   * protocol then answers the login and calls `opened`. spec/security.md §Virtual hosts.
   */
  protected enter(vhostName: string, clientProperties: FieldTable): BrokerError | undefined {
    const vhost = this.services.vhost(vhostName);
    if (vhost === undefined) return new BrokerError(ErrorCode.NOT_ALLOWED, `vhost '${vhostName}' not found`);
    if (this.tokenVhost !== undefined && this.tokenVhost !== vhostName)
      return new BrokerError(ErrorCode.NOT_ALLOWED, `login refused: token is for vhost '${this.tokenVhost}'`);
    if (this.permissions === undefined) {
      const permissions = this.services.permissionsOf(this.user, vhostName);
      if (permissions === undefined)
        return new BrokerError(ErrorCode.NOT_ALLOWED, `access to vhost '${vhostName}' refused for user '${this.user}'`);
      this.permissions = permissions;
    }
    return this.admit(vhost, clientProperties);
  }

  /**
   * Opens the session in `vhost` once the broker accepted the login (user, permissions and
   * viaToken set): a BrokerError to close with when it is refused (the connection limit).
   */
  private admit(vhost: VirtualHost, clientProperties: FieldTable): BrokerError | undefined {
    const refusal = this.services.admitConnection(this);
    if (refusal !== undefined) return refusal;
    this.vhostRef = vhost;
    this.clientProperties = clientProperties;
    return undefined;
  }

  /** The login was answered: the connection counts as open (limits, metrics, events). */
  protected opened(): void {
    this.services.connectionOpened(this);
  }

  /**
   * The connection is gone: channels released (unacked messages requeued), exclusive queues
   * of this connection dropped, and the broker told, with the reason logged once.
   */
  protected ended(detail: object): void {
    const wasOpen = this.vhostRef !== undefined;
    this.releaseChannels();
    this.vhostRef?.releaseOwner(this.id);
    if (wasOpen) {
      this.services.connectionClosed(this);
      this.log.info('connection closed', detail);
    }
  }

  /** Releases every channel (consumers cancelled, unacked messages requeued). */
  protected releaseChannels(): void {
    for (const ch of this.channels.values()) ch.release();
    this.channels.clear();
  }
}
