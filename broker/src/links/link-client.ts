/**
 * What a link needs from one broker, whichever protocol reaches it: the SDK for ws(s)://
 * (ws-client.ts), amqplib for amqp(s):// (amqp-client.ts). The shovel and the federation
 * link are written against this interface only.
 */
import type { LinkUri } from './link-uri.js';

/** Message properties in the SDK's shape (amqplib's `deliveryMode` becomes `persistent`). */
export interface LinkProperties {
  contentType?: string;
  contentEncoding?: string;
  headers?: Record<string, unknown>;
  persistent?: boolean;
  priority?: number;
  correlationId?: string;
  replyTo?: string;
  expiration?: string;
  messageId?: string;
  timestamp?: number;
  type?: string;
  userId?: string;
  appId?: string;
}

/** A message received from the source. */
export interface LinkMessage {
  content: Buffer;
  properties: LinkProperties;
  exchange: string;
  routingKey: string;
  redelivered: boolean;
  /**
   * Acks this delivery on the source (no-op in no-ack mode); with `multiple`, every earlier
   * unacked delivery of this consumer too.
   */
  ack(multiple?: boolean): void;
}

/** A connection to one broker, with the channels a link uses. */
export interface LinkClient {
  /** Resolves with the reason once the connection is lost or closed (never rejects). */
  readonly lost: Promise<Error>;
  /**
   * The broker's `cluster_name` server property (RabbitMQ's), which federation writes in
   * `x-received-from` to stop loops; undefined when the broker sends none.
   */
  readonly serverName: string | undefined;
  /** Messages ready in a queue; rejects (404) when it does not exist. */
  checkQueue(queue: string): Promise<number>;
  /** Rejects (404) when the exchange does not exist. */
  checkExchange(exchange: string): Promise<void>;
  /** Declares a queue, or a server-named exclusive one when `name` is ''; returns its name. */
  declareQueue(
    name: string,
    options: { exclusive: boolean; durable: boolean; arguments?: Record<string, unknown> },
  ): Promise<string>;
  bindQueue(queue: string, exchange: string, key: string, args?: Record<string, unknown>): Promise<void>;
  unbindQueue(queue: string, exchange: string, key: string, args?: Record<string, unknown>): Promise<void>;
  /** Starts consuming with the given prefetch; messages arrive in order. */
  consume(queue: string, prefetch: number, noAck: boolean, onMessage: (m: LinkMessage) => void): Promise<void>;
  /** Publishes; resolves when the broker confirmed it (rejects on nack or loss). */
  publish(exchange: string, routingKey: string, content: Buffer, properties: LinkProperties): Promise<void>;
  close(): Promise<void>;
}

/** Opens a LinkClient for a URI. */
export type LinkConnector = (uri: LinkUri, connectionName: string) => Promise<LinkClient>;
