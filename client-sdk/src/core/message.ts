/**
 * The message objects handed to applications, shaped as amqplib shapes them, and their
 * construction from `deliver`, `getOk` and `return` frames.
 */
import type { FrameOf } from '../protocol/frames.js';
import type { MessageProperties } from '../protocol/properties.js';

/** Delivery metadata of a consumed message. */
export interface MessageFields {
  /** Per-channel tag to pass back in ack/nack; assigned by the broker. */
  deliveryTag: number;
  /** True when the message was delivered before and not acknowledged (AMQP semantics). */
  redelivered: boolean;
  /** How many times the broker has delivered this message, this delivery included. */
  deliveryCount: number;
  /** Exchange the message was published to ('' for the default exchange). */
  exchange: string;
  /** Routing key it was published with. */
  routingKey: string;
  /** Consumer the message was delivered to ('' for a message fetched with `get`). */
  consumerTag: string;
}

/** Delivery metadata of a message fetched with `get`. */
export interface GetMessageFields extends MessageFields {
  /** Messages left in the queue after this one. */
  messageCount: number;
}

/** Why and where an unroutable `mandatory` message came back. */
export interface ReturnFields {
  /** AMQP reply code, e.g. 312 NO_ROUTE. */
  replyCode: number;
  /** Human-readable reason, e.g. 'NO_ROUTE'. */
  replyText: string;
  /** Exchange the message was published to. */
  exchange: string;
  /** Routing key it was published with. */
  routingKey: string;
}

/** A message: body, metadata and properties. `C` is Buffer in Node, Uint8Array in browsers. */
export interface Message<C extends Uint8Array = Uint8Array, F = MessageFields> {
  /** The body, a zero-copy view of the received WebSocket message. */
  content: C;
  fields: F;
  /** The publisher's properties; `{}` when it set none. */
  properties: MessageProperties;
}

/** A message delivered to a consumer. */
export type ConsumeMessage<C extends Uint8Array = Uint8Array> = Message<C, MessageFields>;
/** A message fetched with `get`. */
export type GetMessage<C extends Uint8Array = Uint8Array> = Message<C, GetMessageFields>;
/** A `mandatory` message the broker could not route, emitted as the channel's 'return'. */
export type ReturnMessage<C extends Uint8Array = Uint8Array> = Message<C, ReturnFields>;

/** Builds the message for a `deliver` frame. */
export function consumeMessage<C extends Uint8Array>(
  f: FrameOf<'deliver'>,
  wrap: (view: Uint8Array) => C,
): ConsumeMessage<C> {
  return {
    content: wrap(f.content),
    fields: {
      deliveryTag: f.deliveryTag,
      redelivered: f.redelivered,
      deliveryCount: f.deliveryCount,
      exchange: f.exchange,
      routingKey: f.routingKey,
      consumerTag: f.consumerTag,
    },
    properties: f.properties ?? {},
  };
}

/** Builds the message for a `getOk` frame. */
export function getMessage<C extends Uint8Array>(
  f: FrameOf<'getOk'>,
  wrap: (view: Uint8Array) => C,
): GetMessage<C> {
  return {
    content: wrap(f.content),
    fields: {
      deliveryTag: f.deliveryTag,
      redelivered: f.redelivered,
      deliveryCount: f.deliveryCount,
      exchange: f.exchange,
      routingKey: f.routingKey,
      consumerTag: '',
      messageCount: f.messageCount,
    },
    properties: f.properties ?? {},
  };
}

/** Builds the message for a `return` frame. */
export function returnMessage<C extends Uint8Array>(
  f: FrameOf<'return'>,
  wrap: (view: Uint8Array) => C,
): ReturnMessage<C> {
  return {
    content: wrap(f.content),
    fields: {
      replyCode: f.replyCode,
      replyText: f.replyText,
      exchange: f.exchange,
      routingKey: f.routingKey,
    },
    properties: f.properties ?? {},
  };
}
