import { randomBytes } from 'node:crypto';
import { BrokerError, ErrorCode, type MessageProperties } from '@switchyard/client/protocol';

/**
 * Direct reply-to, RabbitMQ's RPC shortcut (spec/semantics.md §Direct reply-to): a requester
 * consumes from the pseudo-queue `amq.rabbitmq.reply-to` (no-ack only), publishes requests
 * with `replyTo: 'amq.rabbitmq.reply-to'`, and the broker rewrites that to
 * `amq.rabbitmq.reply-to.<key>`; a responder publishing to that name on the default exchange
 * reaches the requester's channel directly, without a queue (at most once: a reply for a
 * channel that is gone is dropped, or returned when mandatory).
 *
 * `<key>` is 144 random bits, the only thing that names the channel: RabbitMQ's suffix
 * carries the channel's pid plus such a key, and a reply is delivered only if the key
 * matches. Here knowing a reply name lets one send replies to it (as in RabbitMQ), never
 * receive them: only the channel that consumes from the pseudo-queue gets its replies.
 */

/** The pseudo-queue's name, as a queue to consume from and as a `replyTo` value. */
export const REPLY_QUEUE = 'amq.rabbitmq.reply-to';
const PREFIX = `${REPLY_QUEUE}.`;
const KEY_BYTES = 18;

/** True for a name the pseudo-queue handles: itself, or a generated reply name. */
export function isReplyQueueName(name: string): boolean {
  return name === REPLY_QUEUE || name.startsWith(PREFIX);
}

/** A channel's reply consumer (RabbitMQ allows one per channel). */
export interface ReplySubscription {
  readonly consumerTag: string;
  /** `amq.rabbitmq.reply-to.<key>`: what request `replyTo`s are rewritten to. */
  readonly name: string;
}

/** What a reply is handed to: the requester's channel. */
export interface ReplyTarget {
  /** Delivers a reply (no-ack); false if the channel can no longer take it. */
  deliverReply(
    subscription: ReplySubscription,
    routingKey: string,
    properties: MessageProperties | null,
    content: Uint8Array,
  ): boolean;
}

interface Registration {
  readonly vhost: string;
  readonly target: ReplyTarget;
  readonly subscription: ReplySubscription;
}

/** Every reply consumer of the broker, by generated name. */
export class DirectReplyTo {
  private readonly byName = new Map<string, Registration>();

  /**
   * basic.consume on the pseudo-queue, with RabbitMQ's refusals.
   * @throws BrokerError 406 for a consumer that acknowledges, or a second one on the channel
   */
  subscribe(
    vhost: string,
    target: ReplyTarget,
    current: ReplySubscription | undefined,
    consumerTag: string,
    noAck: boolean,
  ): ReplySubscription {
    if (!noAck) {
      throw new BrokerError(
        ErrorCode.PRECONDITION_FAILED,
        `reply consumer cannot acknowledge: consume from '${REPLY_QUEUE}' with noAck: true`,
      );
    }
    if (current !== undefined) {
      throw new BrokerError(
        ErrorCode.PRECONDITION_FAILED,
        `reply consumer already set: channel has consumer '${current.consumerTag}' on '${REPLY_QUEUE}'`,
      );
    }
    const subscription = { consumerTag, name: PREFIX + randomBytes(KEY_BYTES).toString('base64url') };
    this.byName.set(subscription.name, { vhost, target, subscription });
    return subscription;
  }

  /** The reply consumer was cancelled or its channel closed: its name routes nowhere from now on. */
  unsubscribe(subscription: ReplySubscription | undefined): void {
    if (subscription !== undefined) this.byName.delete(subscription.name);
  }

  /**
   * A request's properties with `replyTo` rewritten to the channel's reply name (unchanged
   * when `replyTo` is not the pseudo-queue).
   * @throws BrokerError 406 when the channel has no reply consumer (RabbitMQ's words)
   */
  rewriteRequest(
    properties: MessageProperties | null,
    subscription: ReplySubscription | undefined,
  ): MessageProperties | null {
    if (properties?.replyTo !== REPLY_QUEUE) return properties;
    if (subscription === undefined) {
      throw new BrokerError(
        ErrorCode.PRECONDITION_FAILED,
        `fast reply consumer does not exist: consume from '${REPLY_QUEUE}' (noAck) on this channel before publishing with replyTo '${REPLY_QUEUE}'`,
      );
    }
    return { ...properties, replyTo: subscription.name };
  }

  /**
   * A publish to a reply name on the default exchange: delivered to the requester's channel
   * if it still consumes and is in the same vhost. Returns how many received it (0 or 1).
   */
  deliver(vhost: string, routingKey: string, properties: MessageProperties | null, content: Uint8Array): number {
    const r = this.byName.get(routingKey);
    if (r === undefined || r.vhost !== vhost) return 0;
    return r.target.deliverReply(r.subscription, routingKey, properties, content) ? 1 : 0;
  }

  /**
   * queue.declare of the pseudo-queue or a reply name (passive or not: it cannot be
   * created): `{messageCount: 0, consumerCount: 1}` while the requester consumes, as
   * RabbitMQ answers, so a responder can check the requester is still there.
   * @throws BrokerError 404 for a reply name nobody consumes from
   */
  declare(vhost: string, name: string): { messageCount: number; consumerCount: number } {
    const r = name === REPLY_QUEUE ? undefined : this.byName.get(name);
    if (name !== REPLY_QUEUE && (r === undefined || r.vhost !== vhost)) {
      throw new BrokerError(ErrorCode.NOT_FOUND, `no queue '${name}' in vhost '${vhost}'`);
    }
    return { messageCount: 0, consumerCount: 1 };
  }
}
