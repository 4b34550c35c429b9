import { randomBytes } from 'node:crypto';
import { BrokerError, ErrorCode, type Frame, type FrameOf, type MessageProperties } from '@switchyard/client/protocol';
import type { Permissions } from '../auth/permissions.js';
import type { QueueEntry } from '../queues/entry.js';
import type { Queue } from '../queues/queue.js';
import { checkShortString } from '../vhost/names.js';
import { countDirectPublish, publishMessage, type PublishOutcome } from '../vhost/publisher.js';
import type { MessageRecord } from '../store/store.js';
import { ChannelConsumer } from './channel-consumer.js';
import type { ConfirmSource } from './confirm-scheduler.js';
import { isReplyQueueName, REPLY_QUEUE, type ReplySubscription, type ReplyTarget } from './direct-reply-to.js';
import type { ClientConnection } from './connection.js';
import { handleTopologyFrame } from './topology-handlers.js';
import { groupByQueue, UnackedTracker, type Delivery } from './unacked-tracker.js';

const State = { open: 'open', closing: 'closing', closed: 'closed' } as const;
type State = (typeof State)[keyof typeof State];

/**
 * One channel of a client connection: its consumers, its unacked deliveries (delivery tags
 * are per channel), its publish sequence for confirms and its prefetch settings.
 * spec/protocol.md §Channels.
 */
export class ServerChannel implements ConfirmSource, ReplyTarget {
  state: State = State.open;
  private readonly unacked = new UnackedTracker();
  private readonly consumers = new Map<string, ChannelConsumer>();
  private nextDeliveryTag = 1;
  private publishSeq = 0;
  private confirmRegistered = false;
  /** basic.qos prefetch for consumers (global=false); 0 = unlimited. */
  private consumerPrefetch = 0;
  /** basic.qos prefetch shared by the channel (global=true); 0 = unlimited. */
  private channelPrefetch = 0;
  private channelUnacked = 0;
  /** The consumer on `amq.rabbitmq.reply-to`, if any (direct-reply-to.ts). */
  private replyConsumer: ReplySubscription | undefined;

  constructor(
    readonly conn: ClientConnection,
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

  /** Handles one frame addressed to this channel. Throws BrokerError for the caller to close with. */
  handle(frame: Frame): void {
    switch (frame.type) {
      case 'publish':
        return this.publish(frame);
      case 'ack':
        return this.ack(frame.deliveryTag, frame.multiple);
      case 'nack':
        return this.nack(frame.deliveryTag, frame.multiple, frame.requeue, frame.delayMs);
      case 'consume':
        return this.consume(frame);
      case 'cancel':
        return this.cancel(frame);
      case 'get':
        return this.get(frame);
      case 'qos':
        return this.qos(frame);
      case 'recover':
        return this.recover(frame);
      default:
        handleTopologyFrame(this, frame);
    }
  }

  private publish(f: FrameOf<'publish'>): void {
    this.publishSeq++;
    const broker = this.conn.services;
    if (f.content.length > broker.options.maxMessageBytes) {
      throw new BrokerError(
        ErrorCode.PRECONDITION_FAILED,
        `message size ${f.content.length} is larger than configured max size ${broker.options.maxMessageBytes}`,
      );
    }
    this.requireWrite(f.exchange);
    this.checkUserId(f.properties?.userId);
    // A view into the socket's read buffer: queues copy what they keep beyond the commit.
    const content = f.content;
    const properties = broker.directReplyTo.rewriteRequest(f.properties, this.replyConsumer);
    const outcome = f.exchange === '' && isReplyQueueName(f.routingKey)
      ? this.publishReply(f.routingKey, properties, content)
      : publishMessage(this.conn.vhost, broker.stats, f.exchange, f.routingKey, properties, content);
    if (outcome.kind === 'routed') {
      if (outcome.queues === 0 && f.mandatory) {
        // Before the confirm, which the turn's commit sends later.
        this.conn.send({ type: 'return', channel: this.number, replyCode: ErrorCode.NO_ROUTE, replyText: 'NO_ROUTE', exchange: f.exchange, routingKey: f.routingKey, properties, content });
      }
      if (outcome.refusedBy !== undefined) {
        // As RabbitMQ: a publish any queue refused (reject-publish overflow) is nacked.
        const q = outcome.refusedBy;
        this.conn.send({ type: 'publishNack', channel: this.number, seqNo: this.publishSeq, multiple: false, code: ErrorCode.PRECONDITION_FAILED, message: `PRECONDITION_FAILED - queue '${q.name}' is full (x-overflow ${q.policy.overflow})` });
      }
    }
    this.conn.notePublish();
    if (!this.confirmRegistered) {
      this.confirmRegistered = true;
      broker.confirms.register(this);
    }
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
  deliverReply(subscription: ReplySubscription, routingKey: string, properties: MessageProperties | null, content: Uint8Array): boolean {
    if (!this.canDeliver() || this.replyConsumer !== subscription) return false;
    this.conn.send({
      type: 'deliver', channel: this.number, consumerTag: subscription.consumerTag, deliveryTag: this.nextDeliveryTag++,
      redelivered: false, deliveryCount: 0, exchange: '', routingKey, properties, content,
    });
    return true;
  }

  /**
   * As RabbitMQ's validated user-id: a message may only claim the publisher's own user name,
   * unless the user is tagged `impersonator`. spec/semantics.md §Validated user id.
   */
  private checkUserId(userId: string | undefined): void {
    if (userId === undefined || userId === null || userId === this.conn.user) return;
    if (this.conn.services.userHasTag(this.conn.user, 'impersonator')) return;
    throw new BrokerError(ErrorCode.PRECONDITION_FAILED, `user_id property set to '${userId}' but authenticated user was '${this.conn.user}'`);
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
    return this.publishSeq - this.confirmedSeq;
  }

  captureConfirms(): number {
    this.confirmRegistered = false;
    return this.publishSeq;
  }

  sendConfirms(seqNo: number): void {
    this.confirmedSeq = Math.max(this.confirmedSeq, seqNo);
    if (this.state !== State.open) return;
    this.conn.send({ type: 'publishAck', channel: this.number, seqNo, multiple: true });
  }

  failConfirms(seqNo: number, error: Error): void {
    this.confirmedSeq = Math.max(this.confirmedSeq, seqNo);
    if (this.state !== State.open) return;
    this.conn.send({
      type: 'publishNack',
      channel: this.number,
      seqNo,
      multiple: true,
      code: ErrorCode.INTERNAL_ERROR,
      message: `message store failed to commit: ${error.message}`,
    });
  }

  /** Sends a message to a consumer (called by the queue's dispatch). */
  deliver(consumer: ChannelConsumer, queue: Queue, entry: QueueEntry, record: MessageRecord): void {
    const deliveryTag = this.nextDeliveryTag++;
    this.conn.send({
      type: 'deliver',
      channel: this.number,
      consumerTag: consumer.tag,
      deliveryTag,
      redelivered: entry.deliveries > 0,
      deliveryCount: entry.deliveries,
      exchange: record.exchange,
      routingKey: record.routingKey,
      properties: record.properties,
      content: record.content,
    });
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

  private ack(tag: number, multiple: boolean): void {
    const deliveries = this.unacked.take(tag, multiple, this.nextDeliveryTag - 1);
    if (deliveries === undefined) throw this.unknownTag(tag);
    this.released(deliveries);
    for (const d of deliveries) d.queue.settle(d.entry);
    this.conn.services.stats.acked += deliveries.length;
    this.wakeQueues(deliveries);
  }

  private nack(tag: number, multiple: boolean, requeue: boolean, delayMs: number): void {
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

  private qos(f: FrameOf<'qos'>): void {
    if (f.global) this.channelPrefetch = f.prefetchCount;
    else {
      this.consumerPrefetch = f.prefetchCount;
      for (const c of this.consumers.values()) c.prefetch = f.prefetchCount;
    }
    this.conn.send({ type: 'qosOk', channel: this.number, rid: f.rid });
    this.wake();
  }

  /**
   * basic.recover (requeue=true): every unacked delivery of the channel goes back to its
   * queue, as on a channel close, and is redelivered. recoverOk leaves first, so the client
   * knows every delivery it got before it is void. spec/protocol.md §5 Channels (Recover).
   */
  private recover(f: FrameOf<'recover'>): void {
    this.conn.send({ type: 'recoverOk', channel: this.number, rid: f.rid });
    const deliveries = this.unacked.takeAll();
    this.released(deliveries);
    for (const [queue, entries] of groupByQueue(deliveries)) queue.requeue(entries);
    this.wakeQueues(deliveries);
  }

  private consume(f: FrameOf<'consume'>): void {
    if (f.queue === REPLY_QUEUE) return this.consumeReplies(f);
    this.conn.access.require('read', 'queue', f.queue);
    const queue = this.conn.vhost.requireQueue(f.queue, this.conn.id);
    const max = this.conn.services.options.maxConsumersPerChannel;
    if (this.consumers.size >= max) {
      throw new BrokerError(ErrorCode.PRECONDITION_FAILED, `consumer limit reached: ${max} consumers on channel ${this.number} (maxConsumersPerChannel)`);
    }
    checkShortString('consumer tag', f.consumerTag);
    const tag = f.consumerTag === '' ? `amq.ctag-${randomBytes(12).toString('base64url')}` : f.consumerTag;
    this.checkTagFree(tag);
    // Consumer priority: the frame's field, or RabbitMQ's `x-priority` consumer argument.
    const xPriority = f.arguments['x-priority'];
    const priority = f.priority !== 0 ? f.priority : typeof xPriority === 'number' && Number.isSafeInteger(xPriority) ? xPriority : 0;
    const consumer = new ChannelConsumer(this, queue, tag, f.noAck, f.exclusive, priority, this.consumerPrefetch, f.arguments);
    queue.checkConsumer(consumer, this.conn.vhost.name);
    // consumeOk goes out before the first delivery: both travel through the same outbox.
    this.conn.send({ type: 'consumeOk', channel: this.number, rid: f.rid, consumerTag: tag });
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
  private consumeReplies(f: FrameOf<'consume'>): void {
    const tag = f.consumerTag === '' ? `amq.ctag-${randomBytes(12).toString('base64url')}` : f.consumerTag;
    this.checkTagFree(tag);
    this.replyConsumer = this.conn.services.directReplyTo.subscribe(this.conn.vhost.name, this, this.replyConsumer, tag, f.noAck);
    this.conn.send({ type: 'consumeOk', channel: this.number, rid: f.rid, consumerTag: tag });
  }

  private cancel(f: FrameOf<'cancel'>): void {
    if (this.replyConsumer?.consumerTag === f.consumerTag) {
      this.conn.services.directReplyTo.unsubscribe(this.replyConsumer);
      this.replyConsumer = undefined;
    }
    const consumer = this.consumers.get(f.consumerTag);
    if (consumer !== undefined) {
      this.consumers.delete(f.consumerTag);
      consumer.queue.removeConsumer(consumer);
    }
    // Cancelling an unknown tag is not an error in AMQP: the reply is simply cancel-ok.
    this.conn.send({ type: 'cancelOk', channel: this.number, rid: f.rid, consumerTag: f.consumerTag });
  }

  /** Single active consumer: tells the client this consumer is now active or waiting. */
  consumerStateChanged(consumer: ChannelConsumer): void {
    if (this.state !== State.open) return;
    this.conn.send({ type: 'consumerActive', channel: this.number, consumerTag: consumer.tag, active: consumer.active });
  }

  consumerCancelledByBroker(consumer: ChannelConsumer, reason: string): void {
    if (this.consumers.get(consumer.tag) !== consumer) return;
    this.consumers.delete(consumer.tag);
    if (this.state === State.open) {
      this.conn.send({ type: 'cancelNotify', channel: this.number, consumerTag: consumer.tag, reason });
    }
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
      this.consumerCancelledByBroker(c, `read access to queue '${c.queue.name}' in vhost '${access.vhost}' revoked for user '${access.user}'`);
    }
  }

  private get(f: FrameOf<'get'>): void {
    this.conn.access.require('read', 'queue', f.queue);
    const queue = this.conn.vhost.requireQueue(f.queue, this.conn.id);
    const taken = queue.take();
    if (taken === undefined) {
      this.conn.send({ type: 'getEmpty', channel: this.number, rid: f.rid });
      return;
    }
    const { entry, record } = taken;
    const deliveryTag = this.nextDeliveryTag++;
    this.conn.send({
      type: 'getOk',
      channel: this.number,
      rid: f.rid,
      deliveryTag,
      redelivered: entry.deliveries > 0,
      deliveryCount: entry.deliveries,
      exchange: record.exchange,
      routingKey: record.routingKey,
      messageCount: queue.messageCount,
      properties: record.properties,
      content: record.content,
    });
    if (f.noAck) queue.settle(entry);
    else this.unacked.add({ tag: deliveryTag, queue, entry, consumerTag: undefined, at: Date.now() });
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
