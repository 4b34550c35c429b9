/**
 * The public channel API, named and shaped as amqplib's so its users feel at home. Every
 * channel is in confirm mode: `publish` resolves when the broker confirms the message.
 */
import { BrokerError, ErrorCode } from '../protocol/errors.js';
import type { Frame } from '../protocol/frames.js';
import type { FieldTable } from '../protocol/properties.js';
import { ChannelBase, expectReply } from './channel-base.js';
import type { OnMessage } from './consumer.js';
import { getMessage, type GetMessage } from './message.js';
import {
  copyTable, exchangeArguments, queueArguments, requireString,
  type AssertExchangeOptions, type AssertQueueOptions, type ConsumeOptions, type DeleteExchangeOptions,
  type DeleteQueueOptions, type ExchangeType, type GetOptions, type QueueInfo,
} from './options.js';
import { toContent, toProperties, type PublishOptions } from './publish-options.js';

/** Anything carrying a delivery tag: a message from `consume` or `get`. */
export interface Acknowledgeable {
  fields: { deliveryTag: number };
}

function flag(value: unknown, byDefault: boolean): boolean {
  return value === undefined ? byDefault : Boolean(value);
}

function deliveryTagOf(message: Acknowledgeable): number {
  const tag = (message as Partial<Acknowledgeable> | null | undefined)?.fields?.deliveryTag;
  if (typeof tag !== 'number' || !Number.isSafeInteger(tag) || tag < 1) {
    throw new TypeError('message must be a message received from consume() or get()');
  }
  return tag;
}

/** A channel: the unit of work on a connection. Created with `conn.createChannel()`. */
export class Channel<C extends Uint8Array = Uint8Array> extends ChannelBase<C> {
  // One closure per channel (not per publish) hands each publish's resolvers to the tracker.
  readonly #track = (resolve: () => void, reject: (err: Error) => void): void => {
    this.confirms.add(resolve, reject);
  };

  /** Declares an exchange, or checks an existing one has the same type and flags (else 406). */
  assertExchange(exchange: string, type: ExchangeType | string, options?: AssertExchangeOptions): Promise<{ exchange: string }> {
    requireString(exchange, 'exchange');
    requireString(type, 'type');
    const o = options ?? {};
    return this.rpc(
      {
        type: 'exchangeDeclare', channel: this.number, rid: this.nextRid(), exchange, exchangeType: type, passive: false,
        durable: flag(o.durable, true), autoDelete: flag(o.autoDelete, false), internal: flag(o.internal, false),
        arguments: exchangeArguments(o),
      },
      (r) => (expectReply(r, 'exchangeDeclareOk'), { exchange }),
    );
  }

  /** Checks that an exchange exists; rejects with 404 NOT_FOUND (closing the channel) if not. */
  checkExchange(exchange: string): Promise<{ exchange: string }> {
    requireString(exchange, 'exchange');
    return this.rpc(
      {
        type: 'exchangeDeclare', channel: this.number, rid: this.nextRid(), exchange, exchangeType: '', passive: true,
        durable: false, autoDelete: false, internal: false, arguments: {},
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
    return this.rpc(
      {
        type: 'queueDeclare', channel: this.number, rid: this.nextRid(), queue: name, passive: false,
        durable: flag(o.durable, true), exclusive: flag(o.exclusive, false), autoDelete: flag(o.autoDelete, false),
        arguments: queueArguments(o),
      },
      queueInfo,
    );
  }

  /** Checks that a queue exists (404 NOT_FOUND, closing the channel, if not); resolves with its counts. */
  checkQueue(queue: string): Promise<QueueInfo> {
    requireString(queue, 'queue');
    return this.rpc(
      {
        type: 'queueDeclare', channel: this.number, rid: this.nextRid(), queue, passive: true,
        durable: false, exclusive: false, autoDelete: false, arguments: {},
      },
      queueInfo,
    );
  }

  /** Deletes a queue; resolves with the number of messages deleted with it. */
  deleteQueue(queue: string, options?: DeleteQueueOptions): Promise<{ messageCount: number }> {
    requireString(queue, 'queue');
    const ifUnused = flag(options?.ifUnused, false);
    const ifEmpty = flag(options?.ifEmpty, false);
    return this.rpc({ type: 'queueDelete', channel: this.number, rid: this.nextRid(), queue, ifUnused, ifEmpty }, (r) => ({
      messageCount: expectReply(r, 'queueDeleteOk').messageCount,
    }));
  }

  /** Removes every ready message of a queue; resolves with how many there were. */
  purgeQueue(queue: string): Promise<{ messageCount: number }> {
    requireString(queue, 'queue');
    return this.rpc({ type: 'queuePurge', channel: this.number, rid: this.nextRid(), queue }, (r) => ({
      messageCount: expectReply(r, 'queuePurgeOk').messageCount,
    }));
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
    return this.rpc({ type: 'qos', channel: this.number, rid: this.nextRid(), prefetchCount: count, global: Boolean(global) }, (r) => {
      expectReply(r, 'qosOk');
    });
  }

  /**
   * Publishes a message. Resolves when the broker confirms it (after storing it durably if
   * persistent and routed to durable queues); rejects with BrokerError if the broker nacks
   * it, or ChannelClosedError / the channel's error if the channel closes first.
   *
   * `content` is not copied: it is read when the frame is written out, at the end of the
   * current event-loop turn (or while the connection is blocked, at unblock), so do not
   * modify a reused buffer until then.
   * @throws TypeError / RangeError for invalid arguments or options
   */
  publish(exchange: string, routingKey: string, content: Uint8Array | string, options?: PublishOptions): Promise<void> {
    if (typeof exchange !== 'string') throw new TypeError('exchange must be a string');
    if (typeof routingKey !== 'string') throw new TypeError('routingKey must be a string');
    const body = toContent(content);
    const properties = toProperties(options);
    if (!this.isOpen()) return Promise.reject(this.closedError());
    const max = this.host.maxMessageBytes();
    if (body.byteLength > max) {
      const text = `message body of ${body.byteLength} bytes exceeds the broker's limit of ${max} bytes`;
      return Promise.reject(new BrokerError(ErrorCode.CONTENT_TOO_LARGE, text));
    }
    const mandatory = options?.mandatory === true;
    this.host.send({ type: 'publish', channel: this.number, exchange, routingKey, mandatory, properties, content: body });
    // Registered after send(), which may throw on an unencodable header: then no seqNo is used.
    return new Promise<void>(this.#track);
  }

  /** Publishes to `queue` through the default exchange: `publish('', queue, ...)`. */
  sendToQueue(queue: string, content: Uint8Array | string, options?: PublishOptions): Promise<void> {
    return this.publish('', queue, content, options);
  }

  /**
   * Starts a consumer. `onMessage` receives each message (and `null` if the broker cancels
   * the consumer); a throw or rejection in it is emitted as 'consumer-error'.
   */
  consume(queue: string, onMessage: OnMessage<C>, options?: ConsumeOptions): Promise<{ consumerTag: string }> {
    requireString(queue, 'queue');
    if (typeof onMessage !== 'function') throw new TypeError('onMessage must be a function');
    const o = options ?? {};
    const noAck = flag(o.noAck, false);
    const priority = o.priority ?? 0;
    if (!Number.isSafeInteger(priority)) throw new RangeError('options.priority must be an integer');
    return this.rpc(
      {
        type: 'consume', channel: this.number, rid: this.nextRid(), queue, consumerTag: requireString(o.consumerTag ?? '', 'options.consumerTag'),
        noAck, exclusive: flag(o.exclusive, false), priority, arguments: copyTable(o.arguments, 'options.arguments'),
      },
      (r) => {
        const { consumerTag } = expectReply(r, 'consumeOk');
        this.consumers.add({ tag: consumerTag, noAck, onMessage });
        return { consumerTag };
      },
    );
  }

  /** Stops a consumer; messages already delivered to it stay unacked until acked or the channel closes. */
  cancel(consumerTag: string): Promise<{ consumerTag: string }> {
    requireString(consumerTag, 'consumerTag');
    return this.rpc({ type: 'cancel', channel: this.number, rid: this.nextRid(), consumerTag }, (r) => {
      expectReply(r, 'cancelOk');
      this.consumers.remove(consumerTag);
      return { consumerTag };
    });
  }

  /** Fetches one message from a queue, or `false` if it is empty. */
  get(queue: string, options?: GetOptions): Promise<GetMessage<C> | false> {
    requireString(queue, 'queue');
    const noAck = flag(options?.noAck, false);
    return this.rpc({ type: 'get', channel: this.number, rid: this.nextRid(), queue, noAck }, (r) => {
      if (r.type === 'getEmpty') return false;
      const f = expectReply(r, 'getOk');
      if (!noAck && f.deliveryTag > this.lastDeliveryTag) this.lastDeliveryTag = f.deliveryTag;
      return getMessage(f, this.host.wrapContent);
    });
  }

  /** Acknowledges a message (and, with `allUpTo`, every earlier unacked one on this channel). */
  ack(message: Acknowledgeable, allUpTo = false): void {
    this.#settleDelivery('ack', deliveryTagOf(message), Boolean(allUpTo), false);
  }

  /** Rejects a message (and, with `allUpTo`, every earlier unacked one); requeued unless `requeue` is false. */
  nack(message: Acknowledgeable, allUpTo = false, requeue = true): void {
    this.#settleDelivery('nack', deliveryTagOf(message), Boolean(allUpTo), Boolean(requeue));
  }

  /** Rejects one message: `nack(message, false, requeue)`. */
  reject(message: Acknowledgeable, requeue = true): void {
    this.#settleDelivery('nack', deliveryTagOf(message), false, Boolean(requeue));
  }

  /** Acknowledges every outstanding message of this channel. */
  ackAll(): void {
    this.requireOpen();
    if (this.lastDeliveryTag > this.settledUpTo) this.#settleDelivery('ack', this.lastDeliveryTag, true, false);
  }

  /** Rejects every outstanding message of this channel; requeued unless `requeue` is false. */
  nackAll(requeue = true): void {
    this.requireOpen();
    if (this.lastDeliveryTag > this.settledUpTo) this.#settleDelivery('nack', this.lastDeliveryTag, true, Boolean(requeue));
  }

  #settleDelivery(type: 'ack' | 'nack', deliveryTag: number, multiple: boolean, requeue: boolean): void {
    this.requireOpen();
    if (type === 'ack') this.host.send({ type, channel: this.number, deliveryTag, multiple });
    else this.host.send({ type, channel: this.number, deliveryTag, multiple, requeue });
    if (multiple && deliveryTag > this.settledUpTo) this.settledUpTo = deliveryTag;
  }

  #exchangeBinding(
    type: 'exchangeBind' | 'exchangeUnbind', destination: string, source: string, routingKey: string, args: FieldTable | undefined,
  ): Promise<void> {
    requireString(destination, 'destination');
    requireString(source, 'source');
    requireString(routingKey, 'routingKey');
    const rid = this.nextRid();
    const argumentsTable = copyTable(args, 'args');
    return this.rpc({ type, channel: this.number, rid, destination, source, routingKey, arguments: argumentsTable }, (r) => {
      expectReply(r, type === 'exchangeBind' ? 'exchangeBindOk' : 'exchangeUnbindOk');
    });
  }

  #queueBinding(
    type: 'queueBind' | 'queueUnbind', queue: string, exchange: string, routingKey: string, args: FieldTable | undefined,
  ): Promise<void> {
    requireString(queue, 'queue');
    requireString(exchange, 'exchange');
    requireString(routingKey, 'routingKey');
    const rid = this.nextRid();
    const argumentsTable = copyTable(args, 'args');
    return this.rpc({ type, channel: this.number, rid, queue, exchange, routingKey, arguments: argumentsTable }, (r) => {
      expectReply(r, type === 'queueBind' ? 'queueBindOk' : 'queueUnbindOk');
    });
  }
}

function queueInfo(r: Frame): QueueInfo {
  const f = expectReply(r, 'queueDeclareOk');
  return { queue: f.queue, messageCount: f.messageCount, consumerCount: f.consumerCount };
}
