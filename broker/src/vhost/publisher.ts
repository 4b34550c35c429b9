import type { FieldTable, MessageProperties } from '@switchyard/client/protocol';
import type { Queue } from '../queues/queue.js';
import { parseExpiration } from '../queues/ttl.js';
import { delayOf } from './delayed-messages.js';
import type { Exchange } from './exchange.js';
import { checkShortString } from './names.js';
import type { ExchangeDedup } from './publish-gate.js';

/**
 * What the publish path needs of a vhost (VirtualHost provides it): declared here, so the
 * path depends on these few operations rather than on the whole vhost.
 */
export interface PublishHost {
  readonly exchangeDedup: ExchangeDedup;
  /** The exchange a client may publish to (404 missing, 403 internal); undefined = default. */
  publishTarget(exchangeName: string): Exchange | undefined;
  /** Holds an `x-delay` message until it is due. */
  publishDelayed(
    exchangeName: string,
    routingKey: string,
    properties: MessageProperties | null,
    content: Uint8Array,
    delayMs: number,
  ): void;
  /** The queues a message reaches through `x` (undefined = the default exchange). */
  queuesFor(x: Exchange | undefined, routingKey: string, headers: FieldTable | undefined): readonly Queue[];
  exchange(name: string): Exchange | undefined;
}

/** Counters a publish updates (a subset of the broker's stats). */
export interface PublishCounters {
  published: number;
  unroutable: number;
  duplicates: number;
}

/** A message routed now: how many queues took it, and one that refused it, if any. */
export interface RoutedOutcome {
  kind: 'routed';
  queues: number;
  refusedBy: Queue | undefined;
}

/** What became of a publish. */
export type PublishOutcome = { kind: 'duplicate' } | { kind: 'delayed' } | RoutedOutcome;

/**
 * The one publish path, shared by client channels and the management API: checks the
 * expiration, drops an exchange-level duplicate, holds an `x-delay` message, or routes and
 * enqueues (noting a queue that refused it by its overflow policy). Throws BrokerError for a
 * missing or internal exchange (404/403) or a malformed expiration (406). `content` may be a
 * view into a read buffer: whatever keeps it beyond the current commit copies it.
 */
export function publishMessage(
  vhost: PublishHost,
  counters: PublishCounters,
  exchange: string,
  routingKey: string,
  properties: MessageProperties | null,
  content: Uint8Array,
): PublishOutcome {
  const expirationMs = parseExpiration(properties?.expiration); // 406 before anything is enqueued
  return publishParsed(vhost, counters, exchange, routingKey, properties, content, expirationMs);
}

/**
 * {@link publishMessage} for a caller that has already parsed the expiration with
 * `parseExpiration` (the management API, which answers a bad one with 400 naming the field);
 * `expirationMs` is that parsed value, handed to every queue so none parses it again.
 */
export function publishParsed(
  vhost: PublishHost,
  counters: PublishCounters,
  exchange: string,
  routingKey: string,
  properties: MessageProperties | null,
  content: Uint8Array,
  expirationMs: number | undefined,
): PublishOutcome {
  checkShortString('routing key', routingKey);
  counters.published++;
  if (vhost.exchangeDedup.isDuplicate(exchange, properties, properties?.persistent === true)) {
    counters.duplicates++; // confirmed, not routed: the publisher's retry is harmless
    return { kind: 'duplicate' };
  }
  const delayMs = delayOf(properties);
  if (delayMs !== undefined) {
    vhost.publishDelayed(exchange, routingKey, properties, content, delayMs);
    return { kind: 'delayed' };
  }
  const outcome = routeAndEnqueue(
    vhost,
    vhost.publishTarget(exchange),
    exchange,
    routingKey,
    properties,
    content,
    expirationMs,
  );
  if (outcome.queues === 0) counters.unroutable++;
  return outcome;
}

/**
 * Counts a publish that reached its receiver around the queues (a direct reply-to reply,
 * spec/semantics.md §Direct reply-to) as {@link publishParsed} counts a routed one.
 */
export function countDirectPublish(counters: PublishCounters, delivered: number): RoutedOutcome {
  counters.published++;
  if (delivered === 0) counters.unroutable++;
  return { kind: 'routed', queues: delivered, refusedBy: undefined };
}

/**
 * Route-and-enqueue, the one place a message enters queues: a client or management publish,
 * a delayed message that is due, a dead-lettered copy. `x` is the exchange already looked up
 * and checked by the caller (undefined = the default exchange); `exchange` is the name the
 * message records; `expirationMs` its parsed `expiration` property (parsed once per message,
 * not per queue). `skip` leaves out queues the caller must not reach (a dead-letter cycle).
 */
export function routeAndEnqueue(
  vhost: PublishHost,
  x: Exchange | undefined,
  exchange: string,
  routingKey: string,
  properties: MessageProperties | null,
  content: Uint8Array,
  expirationMs: number | undefined,
  skip?: (queue: Queue) => boolean,
): RoutedOutcome {
  let queues = 0;
  let refusedBy: Queue | undefined;
  for (const q of vhost.queuesFor(x, routingKey, properties?.headers)) {
    if (skip !== undefined && skip(q)) continue;
    queues++;
    if (q.enqueue(exchange, routingKey, properties, content, expirationMs) === 'rejected') refusedBy = q;
  }
  return { kind: 'routed', queues, refusedBy };
}
