import type { FieldTable, MessageProperties } from '@switchyard/client/protocol';
import type { Queue } from '../queues/queue.js';
import type { MessageRecord } from '../store/store.js';
import type { SchemaGate } from '../schemas/exchange-gate.js';
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
  readonly name: string;
  readonly exchangeDedup: ExchangeDedup;
  /** Validates messages on exchanges that declare `x-schema-subject` (spec/schemas.md); unset = none. */
  readonly schemaGate?: SchemaGate | undefined;
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
  /**
   * Cluster nodes: hands a message for `queue`, which another node holds, to that node
   * (spec/cluster.md §Node-local queues); false when no node holds it.
   */
  forward?(queue: string, record: MessageRecord): boolean;
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

/** A message the exchange's schema refused (spec/schemas.md §Enforcement): nacked, never routed. */
export interface RefusedOutcome {
  kind: 'refused';
  /** Names the subject, version and first violations. */
  reason: string;
}

/** What became of a publish. */
export type PublishOutcome = { kind: 'duplicate' } | { kind: 'delayed' } | RoutedOutcome | RefusedOutcome;

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
  const gate = vhost.schemaGate;
  if (gate !== undefined && exchange !== '') {
    // Before dedup and delay: a refused message is neither remembered nor held.
    const x = vhost.exchange(exchange);
    if (x?.schema !== undefined) {
      const verdict = gate.check(vhost.name, exchange, x.schema, properties, content);
      if (verdict.kind === 'accepted') properties = verdict.properties;
      else if (x.schema.invalidExchange === undefined) return { kind: 'refused', reason: verdict.reason };
      else
        return divertInvalid(vhost, x.schema.invalidExchange, routingKey, properties, verdict, content, expirationMs);
    }
  }
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
 * Routes a message its exchange's schema refused to the exchange's `x-schema-invalid-exchange`,
 * with the reasons in headers; refused outright when that exchange does not exist.
 */
function divertInvalid(
  vhost: PublishHost,
  invalidExchange: string,
  routingKey: string,
  properties: MessageProperties | null,
  verdict: { reason: string; headers: FieldTable },
  content: Uint8Array,
  expirationMs: number | undefined,
): PublishOutcome {
  const target = vhost.exchange(invalidExchange);
  if (target === undefined)
    return {
      kind: 'refused',
      reason: `${verdict.reason} (x-schema-invalid-exchange '${invalidExchange}' does not exist)`,
    };
  const headers = { ...properties?.headers, ...verdict.headers, 'x-schema-reason': verdict.reason };
  return routeAndEnqueue(vhost, target, invalidExchange, routingKey, { ...properties, headers }, content, expirationMs);
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
  // The default exchange names a queue this node does not have: another node may hold it.
  if (x === undefined && queues === 0 && vhost.forward?.(routingKey, { exchange, routingKey, properties, content }))
    queues = 1;
  return { kind: 'routed', queues, refusedBy };
}
