import type { BrokerError, MessageProperties } from '@switchyard/client/protocol';
import type { Permissions } from '../auth/permissions.js';
import type { MessageRecord } from '../store/store.js';
import type { VirtualHost } from '../vhost/virtual-host.js';
import type { BrokerServices } from './services.js';
import type { ServerChannel } from './channel.js';

/**
 * What channels send to the client, whatever the wire protocol: each wire adapter encodes
 * these in its own framing (ours in frame-channel.ts; AMQP 0-9-1's basic.deliver,
 * basic.ack/nack, basic.return, basic.cancel later). Replies to requests are not here:
 * the channel's methods return them (or hand them to a callback where they must precede
 * deliveries), and the adapter answers in its own protocol.
 */
export interface ChannelSink {
  /** A message for a consumer (consumerTag) or a direct reply-to subscriber. */
  deliver(
    channel: number,
    consumerTag: string,
    deliveryTag: number,
    redelivered: boolean,
    deliveryCount: number,
    exchange: string,
    routingKey: string,
    properties: MessageProperties | null,
    content: Uint8Array,
  ): void;
  /** Publisher confirms: every publish up to seqNo (multiple) or that one is durable. */
  publishAcked(channel: number, seqNo: number, multiple: boolean): void;
  /** Publisher confirms: refused (a full queue) or not stored (the store failed). */
  publishNacked(channel: number, seqNo: number, multiple: boolean, code: number, message: string): void;
  /** A mandatory message no queue took. */
  returned(
    channel: number,
    replyCode: number,
    replyText: string,
    exchange: string,
    routingKey: string,
    properties: MessageProperties | null,
    content: Uint8Array,
  ): void;
  /** The broker cancelled a consumer (queue deleted, access revoked ...). */
  consumerCancelled(channel: number, consumerTag: string, reason: string): void;
  /** Single active consumer: this consumer became active, or waits. */
  consumerActive(channel: number, consumerTag: string, active: boolean): void;
}

/**
 * Everything a session sends unasked: its channels' events, and the connection-level ones
 * (channel closed by an error, blocked / unblocked by a resource alarm).
 */
export interface SessionSink extends ChannelSink {
  /** The broker closed a channel (a channel error, 4xx); `ref` is the failed request's id, if any. */
  channelClosed(channel: number, code: number, message: string, ref: number): void;
  /** Publishing is blocked by a resource alarm (RabbitMQ's connection.blocked). */
  blocked(reason: string): void;
  unblocked(): void;
}

/**
 * What a channel needs from its connection: the logged-in user's context, backpressure,
 * and the sink its outbound events go to. Protocol-independent.
 */
export interface ChannelOwner {
  readonly id: string;
  readonly user: string;
  readonly services: BrokerServices;
  /** The open connection's vhost. */
  readonly vhost: VirtualHost;
  /** The user's current permissions in the vhost. */
  readonly access: Permissions;
  /** True while the transport holds more unsent bytes than the high-water mark. */
  readonly backpressured: boolean;
  readonly sink: ChannelSink;
  /** Called on every publish (resource alarms block publishing connections). */
  notePublish(): void;
  /**
   * A channel error found after the request's turn (a cluster declare race lost): the
   * channel closes with `err`; `ref` is the request's reference (rid, or AMQP method id).
   */
  failChannel(ch: ServerChannel, err: BrokerError, ref: number): void;
}

/** A message handed out by basic.get, for the adapter's get-ok. */
export interface GetResult {
  deliveryTag: number;
  redelivered: boolean;
  deliveryCount: number;
  /** Messages left in the queue. */
  messageCount: number;
  record: MessageRecord;
}
