import { randomBytes } from 'node:crypto';
import { BrokerError, ErrorCode, type FieldTable, type MessageProperties } from '@switchyard/client/protocol';
import type { Permissions } from '../auth/permissions.js';
import type { QueueEntry } from '../queues/entry.js';
import type { Queue } from '../queues/queue.js';
import { StreamQueue } from '../streams/stream-queue.js';
import { checkShortString } from '../vhost/names.js';
import { countDirectPublish, publishMessage, type PublishOutcome } from '../vhost/publisher.js';
import type { MessageRecord } from '../store/store.js';
import { ChannelConsumer } from './channel-consumer.js';
import type { ConfirmSource } from './confirm-scheduler.js';
import { isReplyQueueName, REPLY_QUEUE, type ReplySubscription, type ReplyTarget } from './direct-reply-to.js';
import type { ChannelOwner, GetResult } from './session-sink.js';
import { groupByQueue, UnackedTracker, type Delivery } from './unacked-tracker.js';

const State = { open: 'open', closing: 'closing', closed: 'closed' } as const;
type State = (typeof State)[keyof typeof State];

/**
 * One channel of a client connection: its consumers, its unacked deliveries (delivery tags
 * are per channel), its publish sequence for confirms and its prefetch settings.
 * spec/protocol.md §5. Channels.
 *
 * Protocol-independent: a wire adapter (frame-channel.ts for our frames) calls its methods
 * and answers requests in its own protocol; what the channel sends unasked goes to the
 * connection's ChannelSink. Methods throw BrokerError with the AMQP reply code for the
 * adapter to close the channel (or the connection) with.
 */
export class ServerChannel implements ConfirmSource, ReplyTarget {
  state: State = State.open;
  private readonly unacked = new UnackedTracker();
  private readonly consumers = new Map<string, ChannelConsumer>();
  private nextDeliveryTag = 1;
  private publishSeq = 0;
  private confirmRegistered = false;
  /** False after confirmSelect(false): no confirm frames and no ConfirmScheduler bookkeeping. */
  private confirming = true;
  /** basic.qos prefetch for consumers (global=false); 0 = unlimited. */
  private consumerPrefetch = 0;
  /** basic.qos prefetch shared by the channel (global=true); 0 = unlimited. */
  private channelPrefetch = 0;
  private channelUnacked = 0;
  /** The consumer on `amq.rabbitmq.reply-to`, if any (direct-reply-to.ts). */
  private replyConsumer: ReplySubscription | undefined;

  constructor(
    readonly conn: ChannelOwner,
    readonly number: number,
  ) {}

  /** False while the connection's socket is backed up: deliveries wait for it to drain. */
  canDeliver(): boolean {
    return this.state === State.open && !this.conn.backpressured;
  }

  hasGlobalRoom(): boolean {
    return this.channelPrefetch === 0 || this.channelUnacked < this.channelPrefetch;
  }

  get unackedCount(): number {
    return this.unacked.size;
  }

  get consumerCount(): number {
    return this.consumers.size;
  }

  consumerList(): IterableIterator<ChannelConsumer> {
    return this.consumers.values();
  }

  get prefetch(): { consumer: number; channel: number } {
    return { consumer: this.consumerPrefetch, channel: this.channelPrefetch };
  }

  /**
   * basic.publish. `content` may be a view into the transport's read buffer: queues copy
   * what they keep beyond the commit. Confirms follow through the sink.
   */
  publish(
    exchange: string,
    routingKey: string,
    mandatory: boolean,
    messageProperties: MessageProperties | null,
    content: Uint8Array,
  ): void {
    this.publishSeq++;
    const broker = this.conn.services;
    if (content.length > broker.options.maxMessageBytes) {
      throw new BrokerError(
        ErrorCode.PRECONDITION_FAILED,
        `message size ${content.length} is larger than configured max size ${broker.options.maxMessageBytes}`,
      );
    }
    this.requireWrite(exchange);
    this.checkUserId(messageProperties?.userId);
    const properties = broker.directReplyTo.rewriteRequest(messageProperties, this.replyConsumer);
    const outcome =
      exchange === '' && isReplyQueueName(routingKey)
        ? this.publishReply(routingKey, properties, content)
        : publishMessage(this.conn.vhost, broker.stats, exchange, routingKey, properties, content);
    if (outcome.kind === 'refused') {
      // A confirm channel learns it by a nack and carries on (as for a reject-publish
      // queue); a channel without confirms could not learn it at all, so it is closed with
      // 406, as RabbitMQ closes a channel for a publish it refuses. spec/schemas.md §Enforcement.
      if (!this.confirming) throw new BrokerError(ErrorCode.PRECONDITION_FAILED, outcome.reason);
      this.conn.sink.publishNacked(
        this.number,
        this.publishSeq,
        false,
        ErrorCode.PRECONDITION_FAILED,
        `PRECONDITION_FAILED - ${outcome.reason}`,
      );
    }
    if (outcome.kind === 'routed') {
      if (outcome.queues === 0 && mandatory) {
        // Before the confirm, which the turn's commit sends later.
        this.conn.sink.returned(this.number, ErrorCode.NO_ROUTE, 'NO_ROUTE', exchange, routingKey, properties, content);
      }
      if (outcome.refusedBy !== undefined && this.confirming) {
        // As RabbitMQ: a publish any queue refused (reject-publish overflow) is nacked.
        const q = outcome.refusedBy;
        this.conn.sink.publishNacked(
          this.number,
          this.publishSeq,
          false,
          ErrorCode.PRECONDITION_FAILED,
          `PRECONDITION_FAILED - queue '${q.name}' is full (x-overflow ${q.policy.overflow})`,
        );
      }
    }
    this.conn.notePublish();
    if (!this.confirming) broker.confirms.noteWrites();
    else if (!this.confirmRegistered) {
      this.confirmRegistered = true;
      broker.confirms.register(this);
    }
  }

  /** Publisher confirms on (the default) or off (confirmSelect). */
  get confirmMode(): boolean {
    return this.confirming;
  }

  /**
   * confirmSelect: publisher confirms on (the default) or off, before the channel's first
   * publish. Without confirms a refused publish (reject-publish overflow) is dropped
   * unannounced, as on RabbitMQ's plain channel. spec/protocol.md §Publisher confirms.
   */
  setConfirms(enabled: boolean): void {
    if (this.publishSeq > 0 && enabled !== this.confirming) {
      throw new BrokerError(
        ErrorCode.PRECONDITION_FAILED,
        'confirm mode cannot change after the channel has published: choose it when opening the channel',
      );
    }
    this.confirming = enabled;
  }

  /**
   * AMQP 0-9-1's confirm.select: confirms on from now, at any point of the channel's life;
   * the publishes before it are not confirmed, so the confirm sequence starts again at 1
   * (the first publish after the select is delivery tag 1, as RabbitMQ numbers them).
   * spec/amqp.md §Supported.
   */
  selectConfirms(): void {
    if (this.confirming) return;
    this.confirming = true;
    this.publishSeq = 0;
    this.confirmedSeq = 0;
  }

  /** A reply to a direct reply-to requester: delivered to its channel, or unroutable. */
  private publishReply(routingKey: string, properties: MessageProperties | null, content: Uint8Array): PublishOutcome {
    const queues = this.conn.services.directReplyTo.deliver(this.conn.vhost.name, routingKey, properties, content);
    return countDirectPublish(this.conn.services.stats, queues);
  }

  /**
   * Delivers a direct reply to this channel's reply consumer (no-ack: nothing to track).
   * There is no queue to hold a reply, so one for a connection whose socket is backed up
   * is dropped (at most once, as RabbitMQ's direct replies) rather than buffered without bound.
   */
  deliverReply(
    subscription: ReplySubscription,
    routingKey: string,
    properties: MessageProperties | null,
    content: Uint8Array,
  ): boolean {
    if (!this.canDeliver() || this.replyConsumer !== subscription) return false;
    this.conn.sink.deliver(
      this.number,
      subscription.consumerTag,
      this.nextDeliveryTag++,
      false,
      0,
      '',
      routingKey,
      properties,
      content,
    );
    return true;
  }

  /**
   * As RabbitMQ's validated user-id: a message may only claim the publisher's own user name,
   * unless the user is tagged `impersonator`. spec/semantics.md §Validated user id.
   */
  private checkUserId(userId: string | undefined): void {
    if (userId === undefined || userId === null || userId === this.conn.user) return;
    if (this.conn.services.userHasTag(this.conn.user, 'impersonator')) return;
    throw new BrokerError(
      ErrorCode.PRECONDITION_FAILED,
      `user_id property set to '${userId}' but authenticated user was '${this.conn.user}'`,
    );
  }

  /** Publish permission, remembered per exchange: a regex per publish would be on the hot path. */
  private readonly writable = new Map<string, number>();

  private requireWrite(exchange: string): void {
    const generation = this.conn.services.accessGeneration();
    if (this.writable.get(exchange) === generation) return;
    this.conn.access.require('write', 'exchange', exchange);
    this.writable.set(exchange, generation);
  }

  /** Highest publish sequence number confirmed (acked or nacked) so far. */
  private confirmedSeq = 0;

  /** Publishes received on this channel and not yet confirmed. */
  get unconfirmedCount(): number {
    return this.confirming ? this.publishSeq - this.confirmedSeq : 0;
  }

  captureConfirms(): number {
    this.confirmRegistered = false;
    return this.publishSeq;
  }

  sendConfirms(seqNo: number): void {
    this.confirmedSeq = Math.max(this.confirmedSeq, seqNo);
    if (this.state !== State.open) return;
    this.conn.sink.publishAcked(this.number, seqNo, true);
  }

  failConfirms(seqNo: number, error: Error): void {
    this.confirmedSeq = Math.max(this.confirmedSeq, seqNo);
    if (this.state !== State.open) return;
    this.conn.sink.publishNacked(
      this.number,
      seqNo,
      true,
      ErrorCode.INTERNAL_ERROR,
      `message store failed to commit: ${error.message}`,
    );
  }

  /** Sends a message to a consumer (called by the queue's dispatch). */
  deliver(consumer: ChannelConsumer, queue: Queue, entry: QueueEntry, record: MessageRecord): void {
    const deliveryTag = this.nextDeliveryTag++;
    this.conn.sink.deliver(
      this.number,
      consumer.tag,
      deliveryTag,
      entry.deliveries > 0,
      entry.deliveries,
      record.exchange,
      record.routingKey,
      record.properties,
      record.content,
    );
    if (consumer.noAck) {
      queue.settle(entry);
      return;
    }
    consumer.unacked++;
    this.channelUnacked++;
    this.unacked.add({ tag: deliveryTag, queue, entry, consumerTag: consumer.tag, at: Date.now() });
  }

  private released(deliveries: readonly Delivery[]): void {
    for (const d of deliveries) {
      if (d.consumerTag === undefined) continue;
      this.channelUnacked--;
      const c = this.consumers.get(d.consumerTag);
      if (c !== undefined) c.unacked--;
    }
  }

  private unknownTag(tag: number): BrokerError {
    return new BrokerError(ErrorCode.PRECONDITION_FAILED, `unknown delivery tag ${tag}`);
  }

  /** basic.ack; an unknown tag is a channel error (406). */
  ack(tag: number, multiple: boolean): void {
    const deliveries = this.unacked.take(tag, multiple, this.nextDeliveryTag - 1);
    if (deliveries === undefined) throw this.unknownTag(tag);
    this.released(deliveries);
    for (const d of deliveries) d.queue.settle(d.entry);
    this.conn.services.stats.acked += deliveries.length;
    this.wakeQueues(deliveries);
  }

  /** basic.nack / basic.reject; `delayMs` > 0 requeues after a delay (our extension). */
  nack(tag: number, multiple: boolean, requeue: boolean, delayMs: number): void {
    const deliveries = this.unacked.take(tag, multiple, this.nextDeliveryTag - 1);
    if (deliveries === undefined) throw this.unknownTag(tag);
    this.released(deliveries);
    for (const [queue, entries] of groupByQueue(deliveries)) {
      if (requeue) queue.requeue(entries, { explicit: true, delayMs: delayMs > 0 ? delayMs : undefined });
      else queue.reject(entries);
    }
    this.wakeQueues(deliveries);
  }

  /** Freed prefetch room: let the affected queues (and, with a channel-wide limit, all) dispatch. */
  private wakeQueues(deliveries: readonly Delivery[]): void {
    if (this.channelPrefetch > 0) {
      for (const c of this.consumers.values()) c.queue.dispatch();
      return;
    }
    let last: Queue | undefined;
    for (const d of deliveries) {
      if (d.queue !== last) {
        last = d.queue;
        d.queue.dispatch();
      }
    }
  }

  /**
   * The consumer timeout (RabbitMQ's `consumer_timeout` / `x-consumer-timeout`): an error
   * for the first delivery unacked for too long, for the caller to close the channel with.
   */
  checkConsumerTimeout(now: number, defaultMs: number): BrokerError | undefined {
    const d = this.unacked.findExpired(now, defaultMs);
    if (d === undefined) return undefined;
    const limit = d.queue.policy.consumerTimeoutMs ?? defaultMs;
    return new BrokerError(
      ErrorCode.PRECONDITION_FAILED,
      `delivery acknowledgement on channel ${this.number} timed out. Timeout value used: ${limit} ms (queue '${d.queue.name}'). Ack sooner, or raise x-consumer-timeout / the broker's consumerTimeoutMs`,
    );
  }

  /** The connection's socket drained: resume deliveries. */
  wake(): void {
    for (const c of this.consumers.values()) c.queue.dispatch();
  }

  /** basic.qos; `ok` answers before deliveries the new limit allows. */
  qos(prefetchCount: number, global: boolean, ok: () => void): void {
    if (global) this.channelPrefetch = prefetchCount;
    else {
      this.consumerPrefetch = prefetchCount;
      for (const c of this.consumers.values()) c.prefetch = prefetchCount;
    }
    ok();
    this.wake();
  }

  /**
   * basic.recover (requeue=true): every unacked delivery of the channel goes back to its
   * queue, as on a channel close, and is redelivered. recoverOk leaves first, so the client
   * knows every delivery it got before it is void. spec/protocol.md §5 Channels (Recover).
   */
  recover(ok: () => void): void {
    ok();
    const deliveries = this.unacked.takeAll();
    this.released(deliveries);
    for (const [queue, entries] of groupByQueue(deliveries)) queue.requeue(entries);
    this.wakeQueues(deliveries);
  }

  /**
   * basic.consume; `ok` receives the consumer tag (generated when `consumerTag` is '') and
   * answers before the first delivery.
   */
  consume(f: ConsumeRequest, ok: (consumerTag: string) => void): void {
    if (f.queue === REPLY_QUEUE) return this.consumeReplies(f, ok);
    this.conn.access.require('read', 'queue', f.queue);
    const queue = this.conn.vhost.requireQueue(f.queue, this.conn.id);
    const max = this.conn.services.options.maxConsumersPerChannel;
    if (this.consumers.size >= max) {
      throw new BrokerError(
        ErrorCode.PRECONDITION_FAILED,
        `consumer limit reached: ${max} consumers on channel ${this.number} (maxConsumersPerChannel)`,
      );
    }
    checkShortString('consumer tag', f.consumerTag);
    const tag = f.consumerTag === '' ? `amq.ctag-${randomBytes(12).toString('base64url')}` : f.consumerTag;
    this.checkTagFree(tag);
    // Consumer priority: the frame's field, or RabbitMQ's `x-priority` consumer argument.
    const xPriority = f.arguments['x-priority'];
    const priority =
      f.priority !== 0 ? f.priority : typeof xPriority === 'number' && Number.isSafeInteger(xPriority) ? xPriority : 0;
    const consumer = new ChannelConsumer(
      this,
      queue,
      tag,
      f.noAck,
      f.exclusive,
      priority,
      this.consumerPrefetch,
      f.arguments,
    );
    queue.checkConsumer(consumer, this.conn.vhost.name);
    // consumeOk goes out before the first delivery: both travel through the same outbox.
    ok(tag);
    this.consumers.set(tag, consumer);
    queue.addConsumer(consumer);
  }

  /** A consumer tag may name one consumer of the channel, reply consumer included (else 530, as RabbitMQ). */
  private checkTagFree(tag: string): void {
    if (this.consumers.has(tag) || this.replyConsumer?.consumerTag === tag) {
      throw new BrokerError(ErrorCode.NOT_ALLOWED, `attempt to reuse consumer tag '${tag}' on channel ${this.number}`);
    }
  }

  /**
   * basic.consume on `amq.rabbitmq.reply-to`: no queue, no permission check (there is no
   * resource), as RabbitMQ. spec/semantics.md §Direct reply-to.
   */
  private consumeReplies(f: ConsumeRequest, ok: (consumerTag: string) => void): void {
    const tag = f.consumerTag === '' ? `amq.ctag-${randomBytes(12).toString('base64url')}` : f.consumerTag;
    this.checkTagFree(tag);
    this.replyConsumer = this.conn.services.directReplyTo.subscribe(
      this.conn.vhost.name,
      this,
      this.replyConsumer,
      tag,
      f.noAck,
    );
    ok(tag);
  }

  /** basic.cancel. Cancelling an unknown tag is not an error in AMQP: the reply is simply cancel-ok. */
  cancel(consumerTag: string): void {
    if (this.replyConsumer?.consumerTag === consumerTag) {
      this.conn.services.directReplyTo.unsubscribe(this.replyConsumer);
      this.replyConsumer = undefined;
    }
    const consumer = this.consumers.get(consumerTag);
    if (consumer !== undefined) {
      this.consumers.delete(consumerTag);
      consumer.queue.removeConsumer(consumer);
    }
  }

  /** Single active consumer: tells the client this consumer is now active or waiting. */
  consumerStateChanged(consumer: ChannelConsumer): void {
    if (this.state !== State.open) return;
    this.conn.sink.consumerActive(this.number, consumer.tag, consumer.active);
  }

  consumerCancelledByBroker(consumer: ChannelConsumer, reason: string): void {
    if (this.consumers.get(consumer.tag) !== consumer) return;
    this.consumers.delete(consumer.tag);
    if (this.state === State.open) this.conn.sink.consumerCancelled(this.number, consumer.tag, reason);
  }

  /**
   * Read permission was revoked: consumers on queues the user may no longer read are
   * cancelled with a cancel notification (their unacked deliveries stay on the channel and
   * may still be acked). spec/security.md §Revoking access.
   */
  cancelUnreadableConsumers(access: Permissions): void {
    if (this.state !== State.open) return;
    for (const c of [...this.consumers.values()]) {
      if (access.allows('read', c.queue.name)) continue;
      c.queue.removeConsumer(c);
      this.consumerCancelledByBroker(
        c,
        `read access to queue '${c.queue.name}' in vhost '${access.vhost}' revoked for user '${access.user}'`,
      );
    }
  }

  /** basic.get; `ok` receives the message, or undefined when the queue is empty (get-empty). */
  get(queueName: string, noAck: boolean, ok: (result: GetResult | undefined) => void): void {
    this.conn.access.require('read', 'queue', queueName);
    this.getFrom(this.conn.vhost.requireQueue(queueName, this.conn.id), noAck, ok);
  }

  private getFrom(queue: Queue, noAck: boolean, ok: (result: GetResult | undefined) => void): void {
    const taken = queue.take();
    if (taken === undefined) {
      // Expired heads beyond this turn's budget hide what is behind them: ask again in the
      // next turn, after the queue removed the next batch, rather than answer empty for a
      // queue with live messages (RabbitMQ drops expired heads before it answers a get).
      // A queue deleted meanwhile answers get-empty; a channel closed meanwhile, nothing.
      if (queue.expiryDeferred && this.state === State.open)
        return void setImmediate(() => {
          if (this.state !== State.open) return;
          if (queue.isDeleted) return ok(undefined);
          try {
            this.getFrom(queue, noAck, ok);
          } catch {
            // The store was closed meanwhile (broker shutdown): the connection goes with it.
          }
        });
      return ok(undefined);
    }
    const { entry, record } = taken;
    const deliveryTag = this.nextDeliveryTag++;
    ok({
      deliveryTag,
      redelivered: entry.deliveries > 0,
      deliveryCount: entry.deliveries,
      messageCount: queue.messageCount,
      record,
    });
    if (noAck) queue.settle(entry);
    else this.unacked.add({ tag: deliveryTag, queue, entry, consumerTag: undefined, at: Date.now() });
  }

  /**
   * Stores a named reader's offset on a stream (RabbitMQ streams' store_offset); `ok` is
   * called once it is durable, unless the channel closed meanwhile. spec/semantics.md §Streams.
   */
  storeOffset(queueName: string, reader: string, offset: number, ok: () => void): void {
    this.conn.access.require('read', 'queue', queueName);
    const stored = requireStream(this.conn.vhost.requireQueue(queueName, this.conn.id)).storeOffset(reader, offset);
    stored.then(
      () => {
        if (this.state === State.open) ok();
      },
      () => undefined, // the store was closed (broker shutdown): the connection goes with it
    );
  }

  /** A named reader's stored offset on a stream (RabbitMQ's query_offset); -1 when none. */
  queryOffset(queueName: string, reader: string): number {
    this.conn.access.require('read', 'queue', queueName);
    return requireStream(this.conn.vhost.requireQueue(queueName, this.conn.id)).queryOffset(reader) ?? -1;
  }

  /**
   * Releases everything the channel holds: consumers are cancelled and unacked messages go
   * back to their queues in their original order, marked redelivered. Idempotent.
   */
  release(): void {
    if (this.state === State.closed) return;
    this.state = State.closed;
    this.conn.services.directReplyTo.unsubscribe(this.replyConsumer);
    this.replyConsumer = undefined;
    for (const c of this.consumers.values()) c.queue.removeConsumer(c);
    this.consumers.clear();
    const deliveries = this.unacked.takeAll();
    for (const [queue, entries] of groupByQueue(deliveries)) queue.requeue(entries);
  }

  /** Marks the channel as closing after an error was sent: later frames are ignored. */
  markClosing(): void {
    this.release();
    this.state = State.closing;
  }
}

/** basic.consume's arguments. */
export interface ConsumeRequest {
  queue: string;
  /** '' lets the broker generate one. */
  consumerTag: string;
  noAck: boolean;
  exclusive: boolean;
  /** Consumer priority (0 = default; RabbitMQ's `x-priority` argument also works). */
  priority: number;
  arguments: FieldTable;
}

/** The queue as a stream, or 406 naming it. */
function requireStream(queue: Queue): StreamQueue {
  if (!(queue instanceof StreamQueue))
    throw new BrokerError(
      ErrorCode.PRECONDITION_FAILED,
      `queue '${queue.name}' is not a stream: reader offsets exist on stream queues only (x-queue-type stream)`,
    );
  return queue;
}
