import { BrokerError, ErrorCode, validateProperties, type MessageProperties } from '@switchyard/client/protocol';
import type { BrokerHost as Broker } from '../broker-host.js';
import { parseExpiration } from '../queues/ttl.js';
import type { Queue } from '../queues/queue.js';
import type { Binding, DestinationKind } from '../routing/binding.js';
import { EXCHANGE_TYPES } from '../routing/matcher.js';
import type { Session as ClientConnection } from '../server/session.js';
import type { VirtualHost } from '../vhost/virtual-host.js';
import { publishParsed } from '../vhost/publisher.js';
import { Body } from './body.js';
import { propertiesKey } from './binding-key.js';
import { HttpError, badField, notFound } from './http-util.js';
import { DEFAULT_EXCHANGE_ALIAS } from './views.js';
import { checkQueueLimit } from '../vhost/queue-limit.js';
import { declareSuperStream as declareSuperStream_, MAX_PARTITIONS } from '../streams/super-stream.js';

/**
 * The management API's actions, on top of the vhost's declare/delete/bind logic so that
 * the API and the wire protocol enforce the same rules. The management API acts as an
 * administrator: it may purge, delete and bind exclusive queues of any connection.
 */

/** The connection id the management API declares under (it never owns exclusive queues). */
export const MANAGEMENT_CONNECTION_ID = 'management';

export function requireVhost(broker: Broker, name: string): VirtualHost {
  const vhost = broker.vhost(name);
  if (vhost === undefined) throw notFound(`no vhost '${name}'`);
  return vhost;
}

export function requireQueue(vhost: VirtualHost, name: string): Queue {
  const q = vhost.queue(name);
  if (q === undefined) throw notFound(`no queue '${name}' in vhost '${vhost.name}'`);
  return q;
}

/** `amq.default` in a path names the default exchange (`''`), as in RabbitMQ's API. */
export function exchangeName(segment: string): string {
  return segment === DEFAULT_EXCHANGE_ALIAS ? '' : segment;
}

export function requireExchange(vhost: VirtualHost, segment: string): NonNullable<ReturnType<VirtualHost['exchange']>> {
  const x = vhost.exchange(exchangeName(segment));
  if (x === undefined) throw notFound(`no exchange '${segment}' in vhost '${vhost.name}'`);
  return x;
}

/**
 * A declare that fails 406 on a resource that did not exist was refused for its arguments
 * (a bad `x-max-length`, say): that is a bad request body, not a conflict.
 */
function declareOrExplain<T>(existed: boolean, declare: () => T): T {
  try {
    return declare();
  } catch (err) {
    if (!existed && err instanceof BrokerError && err.code === ErrorCode.PRECONDITION_FAILED) {
      throw new HttpError(400, err.name, err.message, { code: err.code, field: 'arguments' });
    }
    throw err;
  }
}

export function declareQueue(
  vhost: VirtualHost,
  name: string,
  data: Record<string, unknown>,
  maxQueues: number,
): { queue: Queue; created: boolean } {
  const body = new Body(data, ['durable', 'autoDelete', 'arguments']);
  if (name === '') throw badField('name', 'a queue name is required (server-named queues are declared by clients)');
  const d = {
    queue: name,
    passive: false,
    durable: body.bool('durable', true),
    exclusive: false,
    autoDelete: body.bool('autoDelete', false),
    arguments: body.table('arguments'),
  };
  const existed = vhost.queue(name) !== undefined;
  checkQueueLimit(vhost, name, maxQueues);
  const queue = declareOrExplain(existed, () => vhost.declareQueue(d, MANAGEMENT_CONNECTION_ID));
  return { queue, created: !existed };
}

/**
 * Creates a super stream (`{ partitions: n }` or `{ bindingKeys: [...] }`, optional
 * `arguments` for every partition): its exchange and partition streams, RabbitMQ's layout.
 */
export function declareSuperStream(
  vhost: VirtualHost,
  name: string,
  data: Record<string, unknown>,
): { exchange: string; partitions: string[] } {
  const body = new Body(data, ['partitions', 'bindingKeys', 'arguments']);
  if (name === '') throw badField('name', 'a super stream name is required');
  return declareSuperStream_(
    vhost,
    name,
    {
      ...(body.has('partitions') ? { partitions: body.int('partitions', 0, 1, MAX_PARTITIONS) } : {}),
      ...(body.has('bindingKeys') ? { bindingKeys: body.list('bindingKeys') } : {}),
      arguments: body.table('arguments'),
    },
    MANAGEMENT_CONNECTION_ID,
  );
}

export function deleteQueue(vhost: VirtualHost, name: string, ifUnused: boolean, ifEmpty: boolean): number {
  const q = requireQueue(vhost, name);
  return vhost.deleteQueue(name, ifUnused, ifEmpty, q.exclusiveOwner);
}

export function purgeQueue(vhost: VirtualHost, name: string): number {
  return requireQueue(vhost, name).purge();
}

export function declareExchange(vhost: VirtualHost, name: string, data: Record<string, unknown>): { created: boolean } {
  const body = new Body(data, ['type', 'durable', 'autoDelete', 'internal', 'arguments']);
  if (name === '' || name === DEFAULT_EXCHANGE_ALIAS)
    throw new BrokerError(ErrorCode.ACCESS_REFUSED, 'the default exchange cannot be declared');
  const exchangeType = body.choice('type', EXCHANGE_TYPES, 'direct');
  const existed = vhost.exchange(name) !== undefined;
  declareOrExplain(existed, () =>
    vhost.declareExchange({
      exchange: name,
      exchangeType,
      passive: false,
      durable: body.bool('durable', true),
      autoDelete: body.bool('autoDelete', false),
      internal: body.bool('internal', false),
      arguments: body.table('arguments'),
    }),
  );
  return { created: !existed };
}

export function deleteExchange(vhost: VirtualHost, segment: string, ifUnused: boolean): void {
  requireExchange(vhost, segment);
  vhost.deleteExchange(exchangeName(segment), ifUnused);
}

/** Owner of an exclusive destination queue, so the administrator may bind it. */
function ownerOf(vhost: VirtualHost, b: Binding): string | undefined {
  return b.destinationKind === 'queue' ? vhost.queue(b.destination)?.exclusiveOwner : undefined;
}

export function bind(
  vhost: VirtualHost,
  source: string,
  kind: DestinationKind,
  destination: string,
  data: Record<string, unknown>,
): Binding {
  const body = new Body(data, ['routingKey', 'arguments']);
  requireExchange(vhost, source);
  if (kind === 'queue') requireQueue(vhost, destination);
  else requireExchange(vhost, destination);
  const b: Binding = {
    source: exchangeName(source),
    destination: kind === 'exchange' ? exchangeName(destination) : destination,
    destinationKind: kind,
    routingKey: body.string('routingKey', ''),
    arguments: body.table('arguments'),
  };
  vhost.bind(b, ownerOf(vhost, b));
  return b;
}

export function bindingsBetween(
  vhost: VirtualHost,
  source: string,
  kind: DestinationKind,
  destination: string,
): Binding[] {
  requireExchange(vhost, source);
  if (kind === 'queue') requireQueue(vhost, destination);
  else requireExchange(vhost, destination);
  const src = exchangeName(source);
  const dest = kind === 'exchange' ? exchangeName(destination) : destination;
  return [...vhost.allBindings()].filter(
    (b) => b.source === src && b.destinationKind === kind && b.destination === dest,
  );
}

export function unbind(
  vhost: VirtualHost,
  source: string,
  kind: DestinationKind,
  destination: string,
  key: string,
): void {
  const b = bindingsBetween(vhost, source, kind, destination).find(
    (x) => propertiesKey(x.routingKey, x.arguments) === key,
  );
  if (b === undefined)
    throw notFound(
      `no binding '${key}' from exchange '${source}' to ${kind} '${destination}' in vhost '${vhost.name}'`,
    );
  vhost.unbind(b, ownerOf(vhost, b));
}

/** What `POST .../publish` answers. */
export interface PublishResult {
  /** True when at least one queue took the message (or it is delayed, or a duplicate). */
  routed: boolean;
  /** Queues the message went to now (0 when delayed or a duplicate). */
  queues: number;
  /** Held back by an `x-delay` header; routed when due. */
  delayed?: true;
  /** Dropped as a duplicate by the exchange's deduplication window. */
  duplicate?: true;
}

/**
 * Publishes one message as a client's publish would (spec/semantics.md): expiration checked,
 * exchange deduplication, `x-delay`, routing with alternate exchanges, per-queue
 * persistence and overflow. Answers once the message is durable where persistent.
 * A queue refusing it (`x-overflow: reject-publish`) is a 409, as a client gets a nack.
 */
export async function publish(
  broker: Broker,
  vhost: VirtualHost,
  segment: string,
  data: Record<string, unknown>,
): Promise<PublishResult> {
  const body = new Body(data, ['routingKey', 'payload', 'payloadEncoding', 'properties']);
  const routingKey = body.string('routingKey', '');
  const payload = body.string('payload', '');
  const encoding = body.choice('payloadEncoding', ['string', 'base64'], 'string');
  let properties: MessageProperties | null;
  let expirationMs: number | undefined;
  try {
    properties = validateProperties(body.table('properties'), 'properties');
    expirationMs = parseExpiration(properties?.expiration); // here, not in publishMessage: a bad one is a 400 naming the field
  } catch (err) {
    throw badField('properties', (err as Error).message.replace(/^properties: /, ''));
  }
  if (encoding === 'base64' && !/^[A-Za-z0-9+/_-]*={0,2}$/.test(payload)) throw badField('payload', 'not valid base64');
  const content = encoding === 'base64' ? Buffer.from(payload, 'base64') : Buffer.from(payload, 'utf8');
  const max = broker.options.maxMessageBytes;
  if (content.length > max) {
    throw new BrokerError(
      ErrorCode.CONTENT_TOO_LARGE,
      `message size ${content.length} is larger than configured max size ${max}`,
    );
  }
  const exchange = exchangeName(segment);
  if (exchange !== '') requireExchange(vhost, segment);
  const outcome = publishParsed(vhost, broker.stats, exchange, routingKey, properties, content, expirationMs);
  await broker.store.durable();
  if (outcome.kind === 'duplicate') return { routed: true, queues: 0, duplicate: true };
  if (outcome.kind === 'delayed') return { routed: true, queues: 0, delayed: true };
  if (outcome.kind === 'refused') throw new BrokerError(ErrorCode.PRECONDITION_FAILED, outcome.reason);
  if (outcome.refusedBy !== undefined) {
    const q = outcome.refusedBy;
    throw new BrokerError(
      ErrorCode.PRECONDITION_FAILED,
      `queue '${q.name}' is full (x-overflow ${q.policy.overflow}); the message was refused`,
    );
  }
  return { routed: outcome.queues > 0, queues: outcome.queues };
}

/** One message as `POST .../get` returns it. */
export interface GotMessage {
  exchange: string;
  routingKey: string;
  redelivered: boolean;
  deliveryCount: number;
  messageCount: number;
  properties: MessageProperties | null;
  payload: string;
  payloadEncoding: 'string' | 'base64';
  payloadBytes: number;
}

const UTF8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Takes up to `count` messages and then acks them (`ackMode: "ack"`, they are gone) or
 * puts them back where they were (`"requeue"`, the default; they come back redelivered,
 * as with RabbitMQ's get-and-requeue, one delivery closer to `x-delivery-limit`), or only
 * reads them (`"peek"`: nothing about the queue or the messages changes).
 * spec/management.md §Queue (Get).
 */
export async function getMessages(
  vhost: VirtualHost,
  name: string,
  data: Record<string, unknown>,
): Promise<GotMessage[]> {
  const body = new Body(data, ['count', 'ackMode', 'encoding']);
  const count = body.int('count', 1, 1, 10_000);
  const ackMode = body.choice('ackMode', ['requeue', 'ack', 'peek'], 'requeue');
  const encoding = body.choice('encoding', ['auto', 'base64'], 'auto');
  const q = requireQueue(vhost, name);
  // Expired heads beyond a turn's budget (EXPIRE_PER_TURN) hide the live messages behind
  // them: wait for the queue's next expiry turns (the event loop serves everyone else
  // meanwhile) instead of answering with nothing, as basic.get does. spec/semantics.md
  // §Deep backlogs.
  if (ackMode === 'peek') while (q.expiryDeferred && !q.isDeleted) await nextTurn();
  const taken: NonNullable<ReturnType<Queue['take']>>[] = ackMode === 'peek' ? q.peek(count) : [];
  while (ackMode !== 'peek' && taken.length < count && !q.isDeleted) {
    const t = q.take();
    if (t !== undefined) taken.push(t);
    else if (q.expiryDeferred) await nextTurn();
    else break;
  }
  // Ready messages left behind the last one returned (peeked ones are still among them).
  const remaining = q.messageCount - (ackMode === 'peek' ? taken.length : 0);
  const out = taken.map(({ entry, record }, i): GotMessage => {
    const text = encoding === 'auto' ? decodeUtf8(record.content) : undefined;
    return {
      exchange: record.exchange,
      routingKey: record.routingKey,
      redelivered: entry.deliveries > 0,
      deliveryCount: entry.deliveries,
      messageCount: remaining + taken.length - i - 1,
      properties: record.properties,
      payload: text ?? Buffer.from(record.content).toString('base64'),
      payloadEncoding: text === undefined ? 'base64' : 'string',
      payloadBytes: record.content.length,
    };
  });
  if (ackMode === 'ack') for (const t of taken) q.settle(t.entry);
  else if (ackMode === 'requeue' && taken.length > 0) q.requeue(taken.map((t) => t.entry));
  return out;
}

/** Resolves in the next event-loop turn, after its I/O and the queues' expiry turns. */
function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

function decodeUtf8(bytes: Uint8Array): string | undefined {
  try {
    return UTF8.decode(bytes);
  } catch {
    return undefined;
  }
}

export function requireConnection(broker: Broker, id: string): ClientConnection {
  for (const c of broker.allConnections()) if (c.id === id) return c;
  throw notFound(`no connection '${id}'`);
}

/** Closes a client connection with 320 CONNECTION_FORCED, as `rabbitmqctl close_connection`. */
export function closeConnection(broker: Broker, id: string, reason: string): void {
  const conn = requireConnection(broker, id);
  // Logged once: the `management action` line, then the connection's own `connection closed`.
  conn.close(ErrorCode.CONNECTION_FORCED, `CONNECTION_FORCED - ${reason}`);
}
