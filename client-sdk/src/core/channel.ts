/**
 * The public channel API, named and shaped as amqplib's so its users feel at home. Every
 * channel is in confirm mode: `publish` resolves when the broker confirms the message.
 */
import { BrokerError, ErrorCode } from '../protocol/errors.js';
import type { Frame, FrameOf } from '../protocol/frames.js';
import type { FieldTable } from '../protocol/properties.js';
import { ChannelBase, expectReply } from './channel-base.js';
import { Consumer, type ConsumerSpec, type OnMessage } from './consumer.js';
import type { GetMessage } from './message.js';
import {
  copyTable,
  exchangeArguments,
  queueArguments,
  requireString,
  type AssertExchangeOptions,
  type AssertQueueOptions,
  type ConsumeOptions,
  type DeleteExchangeOptions,
  type DeleteQueueOptions,
  type ExchangeType,
  type GetOptions,
  type QueueInfo,
} from './options.js';
import {
  callbackOf,
  notifyCallback,
  toContent,
  toJsonContent,
  toProperties,
  type PublishCallback,
  type PublishOptions,
} from './publish-options.js';

/** Anything carrying a delivery tag: a message from `consume` or `get`. */
export interface Acknowledgeable {
  fields: { deliveryTag: number };
}

function flag(value: unknown, byDefault: boolean): boolean {
  return value === undefined ? byDefault : Boolean(value);
}

/** Options of `nack` / `reject`. */
export interface DelayOptions {
  /**
   * With `requeue`, the broker holds the message back this many ms before it is ready
   * again, at its original position (delayed retry). Default 0: the queue's
   * `x-retry-delays` policy, if any.
   */
  delayMs?: number;
}

function delayOf(options: DelayOptions | undefined): number {
  const v = options?.delayMs;
  if (v === undefined) return 0;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 0xffffffff) {
    throw new RangeError('options.delayMs must be an integer from 0 to 4294967295');
  }
  return v;
}

function deliveryTagOf(message: Acknowledgeable): number {
  const tag = (message as Partial<Acknowledgeable> | null | undefined)?.fields?.deliveryTag;
  if (typeof tag !== 'number' || !Number.isSafeInteger(tag) || tag < 1) {
    throw new TypeError('message must be a message received from consume() or get()');
  }
  return tag;
}

function integerOption(value: unknown, name: string, byDefault: number, min: number, max: number): number {
  if (value === undefined) return byDefault;
  if (typeof value !== 'number') throw new TypeError(`${name} must be a number`);
  if (!Number.isInteger(value) || value < min || value > max)
    throw new RangeError(`${name} must be an integer from ${min} to ${max}`);
  return value;
}

/**
 * A channel: the unit of work on a connection. Created with `conn.createChannel()`.
 *
 * Every channel is in confirm mode; `publish` resolves on the broker's confirm. With
 * `reconnect`, a channel survives a dropped connection: it stays `open`, its operations
 * wait for the connection to be back, and it is restored as it was (client-sdk/README.md).
 */
export class Channel<C extends Uint8Array = Uint8Array> extends ChannelBase<C> {
  /** Declares an exchange, or checks an existing one has the same type and flags (else 406). */
  assertExchange(
    exchange: string,
    // eslint-disable-next-line @typescript-eslint/no-redundant-type-constituents -- names the built-in types for readers
    type: ExchangeType | string,
    options?: AssertExchangeOptions,
  ): Promise<{ exchange: string }> {
    requireString(exchange, 'exchange');
    requireString(type, 'type');
    const o = options ?? {};
    const durable = flag(o.durable, true);
    const autoDelete = flag(o.autoDelete, false);
    const internal = flag(o.internal, false);
    const args = exchangeArguments(o);
    return this.rpc(
      {
        type: 'exchangeDeclare',
        channel: this.number,
        rid: this.nextRid(),
        exchange,
        exchangeType: type,
        passive: false,
        durable,
        autoDelete,
        internal,
        arguments: args,
      },
      (r) => {
        expectReply(r, 'exchangeDeclareOk');
        this.host.topology?.recordExchange({ name: exchange, type, durable, autoDelete, internal, arguments: args });
        return { exchange };
      },
    );
  }

  /** Checks that an exchange exists; rejects with 404 NOT_FOUND (closing the channel) if not. */
  checkExchange(exchange: string): Promise<{ exchange: string }> {
    requireString(exchange, 'exchange');
    return this.rpc(
      {
        type: 'exchangeDeclare',
        channel: this.number,
        rid: this.nextRid(),
        exchange,
        exchangeType: '',
        passive: true,
        durable: false,
        autoDelete: false,
        internal: false,
        arguments: {},
      },
      (r) => (expectReply(r, 'exchangeDeclareOk'), { exchange }),
    );
  }

  /** Deletes an exchange (and its bindings). */
  deleteExchange(exchange: string, options?: DeleteExchangeOptions): Promise<void> {
    requireString(exchange, 'exchange');
    const ifUnused = flag(options?.ifUnused, false);
    return this.rpc({ type: 'exchangeDelete', channel: this.number, rid: this.nextRid(), exchange, ifUnused }, (r) => {
      expectReply(r, 'exchangeDeleteOk');
      this.host.topology?.deleteExchange(exchange);
    });
  }

  /** Routes messages from `source` to `destination` exchange. */
  bindExchange(destination: string, source: string, routingKey: string, args?: FieldTable): Promise<void> {
    return this.#exchangeBinding('exchangeBind', destination, source, routingKey, args);
  }

  /** Removes an exchange-to-exchange binding. */
  unbindExchange(destination: string, source: string, routingKey: string, args?: FieldTable): Promise<void> {
    return this.#exchangeBinding('exchangeUnbind', destination, source, routingKey, args);
  }

  /**
   * Declares a queue ('' or no name: the broker generates one), or checks an existing one
   * is equivalent (else 406). Resolves with its name and counts.
   */
  assertQueue(queue?: string | null, options?: AssertQueueOptions): Promise<QueueInfo> {
    const name = requireString(queue ?? '', 'queue');
    const o = options ?? {};
    const durable = flag(o.durable, true);
    const exclusive = flag(o.exclusive, false);
    const autoDelete = flag(o.autoDelete, false);
    const args = queueArguments(o);
    return this.rpc(
      {
        type: 'queueDeclare',
        channel: this.number,
        rid: this.nextRid(),
        queue: name,
        passive: false,
        durable,
        exclusive,
        autoDelete,
        arguments: args,
      },
      (r) => {
        const info = queueInfo(r);
        const topology = this.host.topology;
        if (topology !== undefined) {
          // Re-asserting a server-named queue by its name keeps it server-named.
          const serverNamed = name === '' || topology.queues.get(info.queue)?.serverNamed === true;
          topology.recordQueue({ name: info.queue, serverNamed, durable, exclusive, autoDelete, arguments: args });
        }
        return info;
      },
    );
  }

  /** Checks that a queue exists (404 NOT_FOUND, closing the channel, if not); resolves with its counts. */
  checkQueue(queue: string): Promise<QueueInfo> {
    requireString(queue, 'queue');
    return this.rpc(
      {
        type: 'queueDeclare',
        channel: this.number,
        rid: this.nextRid(),
        queue,
        passive: true,
        durable: false,
        exclusive: false,
        autoDelete: false,
        arguments: {},
      },
      queueInfo,
    );
  }

  /** Deletes a queue; resolves with the number of messages deleted with it. */
  deleteQueue(queue: string, options?: DeleteQueueOptions): Promise<{ messageCount: number }> {
    requireString(queue, 'queue');
    const ifUnused = flag(options?.ifUnused, false);
    const ifEmpty = flag(options?.ifEmpty, false);
    return this.rpc(
      { type: 'queueDelete', channel: this.number, rid: this.nextRid(), queue, ifUnused, ifEmpty },
      (r) => {
        const { messageCount } = expectReply(r, 'queueDeleteOk');
        this.host.topology?.deleteQueue(queue);
        return { messageCount };
      },
    );
  }

  /** Removes every ready message of a queue; resolves with how many there were. */
  purgeQueue(queue: string): Promise<{ messageCount: number }> {
    requireString(queue, 'queue');
    return this.rpc({ type: 'queuePurge', channel: this.number, rid: this.nextRid(), queue }, (r) => ({
      messageCount: expectReply(r, 'queuePurgeOk').messageCount,
    }));
  }

  /**
   * Stores a named reader's offset on a stream queue (server-side offset tracking, as
   * RabbitMQ streams' `storeOffset`); resolves once the broker has it on disk. A consumer
   * with `x-stream-reader: reader` and no `x-stream-offset` resumes after it. Needs a
   * broker speaking protocol 3.
   */
  storeOffset(queue: string, reader: string, offset: number): Promise<void> {
    requireString(queue, 'queue');
    requireString(reader, 'reader');
    if (!Number.isSafeInteger(offset) || offset < 0)
      throw new TypeError(`offset must be an integer >= 0, got ${String(offset)}`);
    return this.rpc(
      { type: 'streamOffsetStore', channel: this.number, rid: this.nextRid(), queue, reader, offset },
      (r) => {
        expectReply(r, 'streamOffsetStoreOk');
      },
    );
  }

  /**
   * A named reader's stored offset on a stream queue (RabbitMQ streams' `queryOffset`);
   * undefined when it has stored none.
   */
  queryOffset(queue: string, reader: string): Promise<number | undefined> {
    requireString(queue, 'queue');
    requireString(reader, 'reader');
    return this.rpc({ type: 'streamOffsetQuery', channel: this.number, rid: this.nextRid(), queue, reader }, (r) => {
      const { offset } = expectReply(r, 'streamOffsetQueryOk');
      return offset < 0 ? undefined : offset;
    });
  }

  /** Routes messages from `exchange` matching `routingKey` (or `args`, for headers exchanges) to `queue`. */
  bindQueue(queue: string, exchange: string, routingKey: string, args?: FieldTable): Promise<void> {
    return this.#queueBinding('queueBind', queue, exchange, routingKey, args);
  }

  /** Removes a queue binding. */
  unbindQueue(queue: string, exchange: string, routingKey: string, args?: FieldTable): Promise<void> {
    return this.#queueBinding('queueUnbind', queue, exchange, routingKey, args);
  }

  /**
   * Limits unacknowledged deliveries: per consumer, or (global) shared by the channel's
   * consumers. 0 means no limit.
   * @throws TypeError / RangeError for a count that is not an integer from 0 to 4294967295
   */
  prefetch(count: number, global = false): Promise<void> {
    if (typeof count !== 'number') throw new TypeError('prefetch count must be a number');
    if (!Number.isInteger(count) || count < 0 || count > 0xffffffff) {
      throw new RangeError('prefetch count must be an integer from 0 to 4294967295');
    }
    const isGlobal = Boolean(global);
    return this.rpc(
      { type: 'qos', channel: this.number, rid: this.nextRid(), prefetchCount: count, global: isGlobal },
      (r) => {
        expectReply(r, 'qosOk');
        this.prefetchCounts.set(isGlobal, count);
      },
    );
  }

  /**
   * Publishes a message. Resolves when the broker confirms it (after storing it durably if
   * persistent and routed to durable queues); rejects with BrokerError if the broker nacks
   * it, or ChannelClosedError / the channel's error if the channel closes first.
   *
   * Backpressure: while `maxUnconfirmed` publishes of this channel await their confirm, or
   * the broker has publishing blocked, or the connection is being recovered, the message
   * waits (unsent, in order) and the promise simply resolves later. While the connection
   * is down the wait is bounded (`reconnect.maxBufferedPublishes`); beyond it the promise
   * rejects with PublishBufferFullError. With `reconnect`, a publish sent but unconfirmed
   * when the connection drops is sent again after recovery (at-least-once).
   *
   * `content` is not copied: it is read when the frame is written out, and kept until the
   * publish is confirmed (to be sent again after a reconnect), so do not modify a reused
   * buffer before the promise settles.
   *
   * `callback` (amqplib's ConfirmChannel signature) is called with `(null)` on the confirm
   * or `(err)` when the promise would reject; with a callback, the promise's rejection
   * counts as handled. Unlike amqplib, the return value is this promise, not a boolean:
   * there is no 'drain' event to wait for (the promise waits instead).
   * @throws TypeError / RangeError for invalid arguments or options
   */
  publish(
    exchange: string,
    routingKey: string,
    content: Uint8Array | string,
    options?: PublishOptions,
    callback?: PublishCallback,
  ): Promise<void> {
    if (typeof exchange !== 'string') throw new TypeError('exchange must be a string');
    if (typeof routingKey !== 'string') throw new TypeError('routingKey must be a string');
    const cb = callbackOf(callback);
    const confirmed = this.#publish(
      exchange,
      routingKey,
      toContent(content),
      toProperties(options),
      options?.mandatory === true,
    );
    if (cb !== undefined) notifyCallback(confirmed, cb);
    return confirmed;
  }

  /** Publishes to `queue` through the default exchange: `publish('', queue, ...)`. */
  sendToQueue(
    queue: string,
    content: Uint8Array | string,
    options?: PublishOptions,
    callback?: PublishCallback,
  ): Promise<void> {
    return this.publish('', queue, content, options, callback);
  }

  /**
   * Publishes `value` as JSON: the body is `JSON.stringify(value)` in UTF-8 and
   * `contentType` is `application/json` unless `options.contentType` says otherwise.
   * Consumers read it back with `msg.json()`.
   * @throws TypeError if `value` cannot be serialized (undefined, a function, a BigInt, a cycle)
   */
  publishJson(exchange: string, routingKey: string, value: unknown, options?: PublishOptions): Promise<void> {
    if (typeof exchange !== 'string') throw new TypeError('exchange must be a string');
    if (typeof routingKey !== 'string') throw new TypeError('routingKey must be a string');
    const body = toJsonContent(value);
    const properties = toProperties({ ...options, contentType: options?.contentType ?? 'application/json' });
    return this.#publish(exchange, routingKey, body, properties, options?.mandatory === true);
  }

  /** `publishJson('', queue, value, options)`. */
  sendToQueueJson(queue: string, value: unknown, options?: PublishOptions): Promise<void> {
    return this.publishJson('', queue, value, options);
  }

  #publish(
    exchange: string,
    routingKey: string,
    body: Uint8Array,
    properties: FrameOf<'publish'>['properties'],
    mandatory: boolean,
  ): Promise<void> {
    if (!this.isOpen()) return Promise.reject(this.closedError());
    const max = this.host.maxMessageBytes();
    if (body.byteLength > max) {
      const text = `message body of ${body.byteLength} bytes exceeds the broker's limit of ${max} bytes`;
      return Promise.reject(new BrokerError(ErrorCode.CONTENT_TOO_LARGE, text));
    }
    return this.outgoing.publish({
      type: 'publish',
      channel: this.number,
      exchange,
      routingKey,
      mandatory,
      properties,
      content: body,
    });
  }

  /**
   * Starts a consumer. `onMessage` receives each message (and `null` if the broker cancels
   * the consumer) and may be async. With `options.concurrency` N, at most N calls run at
   * once and further deliveries wait their turn, in order. If the callback throws or its
   * promise rejects, the message is nacked - requeued unless `options.requeueOnError` is
   * false - unless the callback had already settled it, and the error is emitted as the
   * channel's 'consumer-error' (never thrown: the process does not crash).
   * @throws TypeError / RangeError for invalid arguments or options
   */
  consume(queue: string, onMessage: OnMessage<C>, options?: ConsumeOptions): Promise<{ consumerTag: string }> {
    requireString(queue, 'queue');
    if (typeof onMessage !== 'function') throw new TypeError('onMessage must be a function');
    const o = options ?? {};
    const priority = o.priority ?? 0;
    if (!Number.isSafeInteger(priority)) throw new RangeError('options.priority must be an integer');
    if (o.requeueOnError !== undefined && typeof o.requeueOnError !== 'boolean') {
      throw new TypeError('options.requeueOnError must be a boolean');
    }
    const spec: ConsumerSpec<C> = {
      queue,
      noAck: flag(o.noAck, false),
      exclusive: flag(o.exclusive, false),
      priority,
      arguments: copyTable(o.arguments, 'options.arguments'),
      onMessage,
      concurrency: integerOption(o.concurrency, 'options.concurrency', 0, 0, 0xffffffff),
      requeueOnError: o.requeueOnError ?? true,
    };
    return this.rpc(
      {
        type: 'consume',
        channel: this.number,
        rid: this.nextRid(),
        queue,
        consumerTag: requireString(o.consumerTag ?? '', 'options.consumerTag'),
        noAck: spec.noAck,
        exclusive: spec.exclusive,
        priority,
        arguments: spec.arguments,
      },
      (r) => {
        const { consumerTag } = expectReply(r, 'consumeOk');
        this.consumers.add(new Consumer(consumerTag, spec));
        this.host.topology?.consumerAdded(queue);
        return { consumerTag };
      },
    );
  }

  /** Stops a consumer; messages already delivered to it stay unacked until acked or the channel closes. */
  cancel(consumerTag: string): Promise<{ consumerTag: string }> {
    requireString(consumerTag, 'consumerTag');
    return this.rpc({ type: 'cancel', channel: this.number, rid: this.nextRid(), consumerTag }, (r) => {
      expectReply(r, 'cancelOk');
      const consumer = this.consumers.remove(consumerTag);
      if (consumer !== undefined) this.host.topology?.consumerCancelled(consumer.spec.queue);
      return { consumerTag };
    });
  }

  /**
   * Asks the broker to redeliver every message of this channel not yet acknowledged (AMQP
   * `basic.recover` with requeue, as amqplib's `recover()`): they go back to their queues
   * (marked redelivered) and are delivered again, possibly to the same consumer. Once this
   * resolves, settling a message received before it is a no-op (its redelivery carries a
   * new tag), where RabbitMQ would close the channel with 406 for the unknown tag.
   */
  recover(): Promise<void> {
    return this.rpc({ type: 'recover', channel: this.number, rid: this.nextRid() }, (r) => {
      expectReply(r, 'recoverOk');
      this.voidDeliveries();
    });
  }

  /** Fetches one message from a queue, or `false` if it is empty. */
  get(queue: string, options?: GetOptions): Promise<GetMessage<C> | false> {
    requireString(queue, 'queue');
    const noAck = flag(options?.noAck, false);
    return this.rpc({ type: 'get', channel: this.number, rid: this.nextRid(), queue, noAck }, (r) => {
      if (r.type === 'getEmpty') return false;
      const f = expectReply(r, 'getOk');
      return this.messages.get(f, this.tags.register(f.deliveryTag, noAck), noAck);
    });
  }

  /**
   * Acknowledges a message (and, with `allUpTo`, every earlier unacked one on this channel).
   * A message received before an automatic recovery is ignored: the broker already put it
   * back in its queue and will deliver it again.
   */
  ack(message: Acknowledgeable, allUpTo = false): void {
    this.settleDelivery('ack', deliveryTagOf(message), Boolean(allUpTo), false);
  }

  /**
   * Rejects a message (and, with `allUpTo`, every earlier unacked one); requeued unless
   * `requeue` is false, after `options.delayMs` if given (delayed retry). Same rule as
   * `ack` for messages from before a recovery.
   */
  nack(message: Acknowledgeable, allUpTo = false, requeue = true, options?: DelayOptions): void {
    this.settleDelivery('nack', deliveryTagOf(message), Boolean(allUpTo), Boolean(requeue), delayOf(options));
  }

  /** Rejects one message: `nack(message, false, requeue, options)`. */
  reject(message: Acknowledgeable, requeue = true, options?: DelayOptions): void {
    this.settleDelivery('nack', deliveryTagOf(message), false, Boolean(requeue), delayOf(options));
  }

  /** Acknowledges every outstanding message of this channel. */
  ackAll(): void {
    this.requireOpen();
    if (this.tags.last > this.tags.settledUpTo) this.settleDelivery('ack', this.tags.last, true, false);
  }

  /** Rejects every outstanding message of this channel; requeued unless `requeue` is false. */
  nackAll(requeue = true): void {
    this.requireOpen();
    if (this.tags.last > this.tags.settledUpTo) this.settleDelivery('nack', this.tags.last, true, Boolean(requeue));
  }

  #exchangeBinding(
    type: 'exchangeBind' | 'exchangeUnbind',
    destination: string,
    source: string,
    routingKey: string,
    args: FieldTable | undefined,
  ): Promise<void> {
    requireString(destination, 'destination');
    requireString(source, 'source');
    requireString(routingKey, 'routingKey');
    const rid = this.nextRid();
    const argumentsTable = copyTable(args, 'args');
    return this.rpc(
      { type, channel: this.number, rid, destination, source, routingKey, arguments: argumentsTable },
      (r) => {
        expectReply(r, type === 'exchangeBind' ? 'exchangeBindOk' : 'exchangeUnbindOk');
        const b = { kind: 'exchange', destination, source, routingKey, arguments: argumentsTable } as const;
        if (type === 'exchangeBind') this.host.topology?.recordBinding(b);
        else this.host.topology?.deleteBinding(b);
      },
    );
  }

  #queueBinding(
    type: 'queueBind' | 'queueUnbind',
    queue: string,
    exchange: string,
    routingKey: string,
    args: FieldTable | undefined,
  ): Promise<void> {
    requireString(queue, 'queue');
    requireString(exchange, 'exchange');
    requireString(routingKey, 'routingKey');
    const rid = this.nextRid();
    const argumentsTable = copyTable(args, 'args');
    return this.rpc(
      { type, channel: this.number, rid, queue, exchange, routingKey, arguments: argumentsTable },
      (r) => {
        expectReply(r, type === 'queueBind' ? 'queueBindOk' : 'queueUnbindOk');
        const topology = this.host.topology;
        if (topology === undefined) return;
        const b = {
          kind: 'queue',
          destination: topology.resolve(queue),
          source: exchange,
          routingKey,
          arguments: argumentsTable,
        } as const;
        if (type === 'queueBind') topology.recordBinding(b);
        else topology.deleteBinding(b);
      },
    );
  }
}

function queueInfo(r: Frame): QueueInfo {
  const f = expectReply(r, 'queueDeclareOk');
  return { queue: f.queue, messageCount: f.messageCount, consumerCount: f.consumerCount };
}
