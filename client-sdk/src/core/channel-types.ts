/**
 * The types around a channel: its states and events, its options, and the interfaces
 * between a channel and its connection (ChannelHost, ChannelLink).
 */
import type { Frame } from '../protocol/frames.js';
import type { Logger } from './logger.js';
import type { ConsumeMessage, MessageDecoder, ReturnMessage } from './message.js';
import type { Topology } from './topology.js';

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
  /**
   * A consumer callback threw or its promise rejected; `msg` is the message it was handling
   * (already nacked, unless the callback had settled it or the consumer is noAck).
   */
  'consumer-error': (err: unknown, msg: ConsumeMessage<C> | null) => void;
}

/** Options of `conn.createChannel(options)`. */
export interface ChannelOptions {
  /**
   * Most publishes this channel has sent and not yet had confirmed; further publishes wait
   * (unsent, in order) for confirms. 0 means no limit. Default: the connection's
   * `maxUnconfirmed` (1000).
   */
  maxUnconfirmed?: number;
  /**
   * Publisher confirms (default true). With `false`, as amqplib's `createChannel()` next to
   * `createConfirmChannel()`: the broker sends no confirms, and `publish` resolves once the
   * frame is handed to the socket, waiting while the socket's buffered amount is high or the
   * broker has publishing blocked. A publish the broker cannot take (store failure,
   * reject-publish overflow) is then lost unannounced; mandatory returns and channel errors
   * still arrive. spec/protocol.md §Publisher confirms.
   */
  confirm?: boolean;
}

/** How a channel is set up by its connection. @internal */
export interface ChannelSetup {
  maxUnconfirmed: number;
  /** Publisher confirms on (default) or off (`confirmSelect {enabled: false}` after channelOpen). */
  confirm?: boolean;
  /** A channel the SDK uses itself (recovery): never recovered, never recorded. */
  internal: boolean;
}

/** What a channel needs from its connection. @internal */
export interface ChannelHost<C extends Uint8Array> {
  /** Queues a frame on the current session (translating renamed queues). */
  transmit(frame: Frame): void;
  /** Platform hook: message body view → Buffer (Node) or Uint8Array (browsers). */
  readonly wrapContent: (view: Uint8Array) => C;
  /** Largest body the broker accepts (from helloOk). */
  maxMessageBytes(): number;
  /** Routes frames of `channel` to `link` from now on. */
  attach(channel: number, link: ChannelLink): void;
  /** Frees the channel number. */
  detach(channel: number): void;
  /** True when a new channel may send channelOpen at once (else recovery will open it). */
  canOpen(): boolean;
  /** True while the broker has publishing blocked. */
  blocked(): boolean;
  /** True while the socket's buffered amount is above the SDK's high-water mark. */
  congested(): boolean;
  /** Counts a publish made while the connection is down; false when the buffer is full. */
  reserve(bytes: number): boolean;
  /** Uncounts a publish counted by `reserve`. */
  release(bytes: number): void;
  /** The connection's recorded topology (undefined when `reconnect` is off). */
  readonly topology: Topology | undefined;
  readonly logger: Logger;
  /** What `msg.decode()` uses: the `schemas` option of `connect()`, if given. */
  readonly schemas?: MessageDecoder | undefined;
}

/** How the connection drives a channel. @internal */
export interface ChannelLink {
  readonly internal: boolean;
  /** Handles a frame for this channel; throws ProtocolError for one it cannot accept. */
  onFrame(frame: Frame): void;
  /**
   * The session under the channel ended. Without `recovering`, the channel closes and
   * everything pending fails with `err`; with it, the channel waits for `recover()`.
   */
  onSessionLost(err: Error, recovering: boolean): void;
  /** Re-opens the channel on the new session and restores its state (see file comment). */
  recover(): Promise<void>;
  /** Broker `blocked` / `unblocked`. */
  setBlocked(blocked: boolean): void;
}

/** Frames that carry a request id. */
export type RpcFrame = Extract<Frame, { rid: number }>;
