import type { MessageProperties } from '@switchyard/client/protocol';
import type { Queue } from '../queues/queue.js';
import { parseExpiration } from '../queues/ttl.js';
import { delayOf } from './delayed-messages.js';
import { checkShortString } from './names.js';
import type { VirtualHost } from './virtual-host.js';

/** Counters a publish updates (a subset of the broker's stats). */
export interface PublishCounters {
  published: number;
  unroutable: number;
  duplicates: number;
}

/** What became of a publish. */
export type PublishOutcome =
  | { kind: 'duplicate' }
  | { kind: 'delayed' }
  | { kind: 'routed'; queues: number; refusedBy: Queue | undefined };

/**
 * The one publish path, shared by client channels and the management API: checks the
 * expiration, drops an exchange-level duplicate, holds an `x-delay` message, or routes and
 * enqueues (noting a queue that refused it by its overflow policy). Throws BrokerError for a
 * missing or internal exchange (404/403) or a malformed expiration (406). `content` may be a
 * view into a read buffer: whatever keeps it beyond the current commit copies it.
 */
export function publishMessage(
  vhost: VirtualHost,
  counters: PublishCounters,
  exchange: string,
  routingKey: string,
  properties: MessageProperties | null,
  content: Uint8Array,
): PublishOutcome {
  parseExpiration(properties?.expiration); // 406 before anything is enqueued
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
  const queues = vhost.route(exchange, routingKey, properties?.headers);
  if (queues.length === 0) counters.unroutable++;
  let refusedBy: Queue | undefined;
  for (const q of queues) if (q.enqueue(exchange, routingKey, properties, content) === 'rejected') refusedBy = q;
  return { kind: 'routed', queues: queues.length, refusedBy };
}
