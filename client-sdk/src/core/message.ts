/**
 * The message objects handed to applications, shaped as amqplib shapes them (`content`,
 * `fields`, `properties`), plus helpers: `msg.ack()`, `msg.nack()`, `msg.reject()` beside
 * `ch.ack(msg)`, and `msg.json()`.
 *
 * Messages are instances of small classes so the helpers live on a prototype: a channel
 * creates its own subclasses once, carrying its settle functions, and a message costs no
 * closure and no hidden field.
 */
import type { FrameOf } from '../protocol/frames.js';
import type { FieldTable, MessageProperties } from '../protocol/properties.js';

/**
 * The properties of a received message: `headers` is always an object (`{}` when the
 * publisher sent none), as amqplib users expect (`msg.properties.headers['x-death']`).
 */
export type ReceivedProperties = MessageProperties & { headers: FieldTable };

/**
 * The properties of a received frame, with `headers` defaulted to `{}`. The decoded object
 * belongs to this frame alone, so it is completed in place rather than copied.
 */
function receivedProperties(p: MessageProperties | null): ReceivedProperties {
  if (p === null) return { headers: {} };
  p.headers ??= {};
  return p as ReceivedProperties;
}

/** Delivery metadata of a consumed message. */
export interface MessageFields {
  /**
   * Per-channel tag to pass back in ack/nack; assigned by the broker. Across an automatic
   * recovery the SDK keeps tags growing, so a tag is never reused on a channel.
   */
  deliveryTag: number;
  /** True when the message was delivered before and not acknowledged (AMQP semantics). */
  redelivered: boolean;
  /** How many times the broker delivered this message before this delivery (0 on the first). */
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
  /** The publisher's properties; `headers` is always an object (`{}` when the publisher set none). */
  properties: ReceivedProperties;
  /**
   * The body parsed as UTF-8 JSON (what `publishJson` sends).
   * @throws SyntaxError if the body is not valid JSON
   */
  json<T = unknown>(): T;
  /**
   * The body deserialized with the schema it names (its Confluent wire-format id, else the
   * `x-schema-id` header a validating exchange added): JSON and Avro. Needs the schema
   * helpers at connect time: `connect(url, { schemas: new SchemaHelpers({...}) })`, with
   * `SchemaHelpers` from `@switchyard/client/schemas` (so the main SDK carries no Avro
   * library). spec/schemas.md §SDK helpers.
   * @throws Error (rejects) when the connection was opened without `schemas`, saying how to enable it
   * @throws SchemaRegistryError (rejects) when the id is unknown or names a Protobuf schema
   */
  decode<T = unknown>(): Promise<T>;
}

/**
 * What `msg.decode()` delegates to: a `SchemaHelpers` of `@switchyard/client/schemas` fits.
 * Kept structural so the main SDK does not import the schema helpers (nor avsc).
 */
export interface MessageDecoder {
  decode<T = unknown>(msg: { content: Uint8Array; properties: { headers?: FieldTable } }): Promise<T>;
}

/** Options of `msg.ack()`. */
export interface AckOptions {
  /** Also acknowledge every earlier unacknowledged message of the channel. Default false. */
  allUpTo?: boolean;
}

/** Options of `msg.nack()` / `msg.reject()`. */
export interface NackOptions {
  /** Put the message back in its queue (true), or drop / dead-letter it (false). Default true. */
  requeue?: boolean;
  /** Also reject every earlier unacknowledged message of the channel (nack only). Default false. */
  allUpTo?: boolean;
  /**
   * With `requeue`, hold the message back this many ms before it is ready again (the
   * broker's delayed retry). Default 0: the queue's `x-retry-delays` policy, if any.
   */
  delayMs?: number;
}

/** A message that can be settled: from `consume` or `get`. */
export interface SettleableMessage<C extends Uint8Array, F> extends Message<C, F> {
  /**
   * Acknowledges the message: `ch.ack(msg, allUpTo)`. A no-op for a message received with
   * `noAck`, and for one received before an automatic recovery (the broker has already
   * put it back in its queue).
   */
  ack(options?: AckOptions): void;
  /** Rejects the message, requeued unless `requeue: false`: `ch.nack(msg, allUpTo, requeue)`. Same no-op cases as `ack`. */
  nack(options?: NackOptions): void;
  /** Rejects this message only: `ch.reject(msg, requeue)`. Same no-op cases as `ack`. */
  reject(options?: Pick<NackOptions, 'requeue' | 'delayMs'>): void;
}

/** A message delivered to a consumer. */
export type ConsumeMessage<C extends Uint8Array = Uint8Array> = SettleableMessage<C, MessageFields>;
/** A message fetched with `get`. */
export type GetMessage<C extends Uint8Array = Uint8Array> = SettleableMessage<C, GetMessageFields>;
/** A `mandatory` message the broker could not route, emitted as the channel's 'return'. */
export type ReturnMessage<C extends Uint8Array = Uint8Array> = Message<C, ReturnFields>;

/** How a channel settles its messages; the channel's ack/nack. @internal */
export interface Settler {
  ack(message: { fields: { deliveryTag: number } }, allUpTo: boolean): void;
  nack(message: { fields: { deliveryTag: number } }, allUpTo: boolean, requeue: boolean, delayMs: number): void;
}

const decoder = new TextDecoder();

function delayOf(value: unknown): number {
  if (value === undefined) return 0;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 0xffffffff) {
    throw new RangeError('options.delayMs must be an integer from 0 to 4294967295');
  }
  return value;
}

const NO_DECODER =
  "msg.decode() needs the schema helpers: import { SchemaHelpers } from '@switchyard/client/schemas' " +
  'and connect(url, { schemas: new SchemaHelpers({ url: managementUrl, username, password }) }); ' +
  'or call helpers.decode(msg) yourself';

/** Base class of every message the SDK hands out. */
class BaseMessage<C extends Uint8Array, F> implements Message<C, F> {
  /** Set on each factory's subclass prototype: the connection's `schemas` option. */
  declare readonly schemaDecoder: MessageDecoder | undefined;

  constructor(
    public content: C,
    public fields: F,
    public properties: ReceivedProperties,
  ) {}

  json<T = unknown>(): T {
    return JSON.parse(decoder.decode(this.content)) as T;
  }

  decode<T = unknown>(): Promise<T> {
    const d = this.schemaDecoder;
    if (d === undefined) return Promise.reject(new Error(NO_DECODER));
    return d.decode<T>(this);
  }
}

/** A settleable message; subclassed per channel with the channel's settler on the prototype. */
class ReceivedMessage<C extends Uint8Array, F extends { deliveryTag: number }> extends BaseMessage<C, F> {
  /** Set on each channel's subclass prototype; undefined for noAck messages. */
  declare readonly settler: Settler | undefined;

  ack(options?: AckOptions): void {
    this.settler?.ack(this, options?.allUpTo === true);
  }

  nack(options?: NackOptions): void {
    this.settler?.nack(this, options?.allUpTo === true, options?.requeue !== false, delayOf(options?.delayMs));
  }

  reject(options?: Pick<NackOptions, 'requeue' | 'delayMs'>): void {
    this.settler?.nack(this, false, options?.requeue !== false, delayOf(options?.delayMs));
  }
}

type ReturnedCtor<C extends Uint8Array> = new (
  content: C,
  fields: ReturnFields,
  properties: ReceivedProperties,
) => BaseMessage<C, ReturnFields>;

type ReceivedCtor<C extends Uint8Array> = new <F extends { deliveryTag: number }>(
  content: C,
  fields: F,
  properties: ReceivedProperties,
) => ReceivedMessage<C, F>;

/** Builds the messages of one channel. @internal */
export class MessageFactory<C extends Uint8Array> {
  private readonly settleable: ReceivedCtor<C>;
  private readonly unsettleable: ReceivedCtor<C>;
  private readonly returnedMessage: ReturnedCtor<C>;

  /** `schemas`: what `msg.decode()` uses (the connection's `schemas` option), if any. */
  constructor(
    private readonly wrap: (view: Uint8Array) => C,
    settler: Settler,
    schemas?: MessageDecoder,
  ) {
    this.settleable = MessageFactory.subclass<C>(settler, schemas);
    this.unsettleable = MessageFactory.subclass<C>(undefined, schemas);
    class ChannelReturn extends BaseMessage<C, ReturnFields> {}
    Object.defineProperty(ChannelReturn.prototype, 'schemaDecoder', { value: schemas, enumerable: false });
    this.returnedMessage = ChannelReturn;
  }

  private static subclass<C extends Uint8Array>(
    settler: Settler | undefined,
    schemas: MessageDecoder | undefined,
  ): ReceivedCtor<C> {
    // A class per channel (not per message): V8 keeps one hidden class for its instances.
    class ChannelMessage<F extends { deliveryTag: number }> extends ReceivedMessage<C, F> {}
    Object.defineProperty(ChannelMessage.prototype, 'settler', { value: settler, enumerable: false });
    Object.defineProperty(ChannelMessage.prototype, 'schemaDecoder', { value: schemas, enumerable: false });
    return ChannelMessage;
  }

  /** The message for a `deliver` frame; `deliveryTag` is the channel-level (offset) tag. */
  deliver(f: FrameOf<'deliver'>, deliveryTag: number, noAck: boolean): ConsumeMessage<C> {
    const Ctor = noAck ? this.unsettleable : this.settleable;
    const fields: MessageFields = {
      deliveryTag,
      redelivered: f.redelivered,
      deliveryCount: f.deliveryCount,
      exchange: f.exchange,
      routingKey: f.routingKey,
      consumerTag: f.consumerTag,
    };
    return new Ctor(this.wrap(f.content), fields, receivedProperties(f.properties));
  }

  /** The message for a `getOk` frame. */
  get(f: FrameOf<'getOk'>, deliveryTag: number, noAck: boolean): GetMessage<C> {
    const Ctor = noAck ? this.unsettleable : this.settleable;
    const fields: GetMessageFields = {
      deliveryTag,
      redelivered: f.redelivered,
      deliveryCount: f.deliveryCount,
      exchange: f.exchange,
      routingKey: f.routingKey,
      consumerTag: '',
      messageCount: f.messageCount,
    };
    return new Ctor(this.wrap(f.content), fields, receivedProperties(f.properties));
  }

  /** The message for a `return` frame. */
  returned(f: FrameOf<'return'>): ReturnMessage<C> {
    const fields: ReturnFields = {
      replyCode: f.replyCode,
      replyText: f.replyText,
      exchange: f.exchange,
      routingKey: f.routingKey,
    };
    return new this.returnedMessage(this.wrap(f.content), fields, receivedProperties(f.properties));
  }
}
