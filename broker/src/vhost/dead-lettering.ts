import { addDeath, isDeadLetterCycle, type DeathReason } from '../queues/dead-letter.js';
import type { Queue } from '../queues/queue.js';
import type { MessageRecord } from '../store/store.js';
import { parseExpiration } from '../queues/ttl.js';
import { routeAndEnqueue, type PublishHost } from './publisher.js';

/**
 * Publishes a dead-lettered copy of `record` from `queue` through the queue's
 * `x-dead-letter-exchange`, as RabbitMQ does: routing key `x-dead-letter-routing-key` or the
 * message's own, `x-death` headers added, the copy dropped for any target queue that would
 * close a cycle, and silently dropped altogether when the DLX does not exist. Internal
 * exchanges are valid DLXs. Synchronous, so the copies' writes share the turn's transaction
 * with the removal of the original.
 */
export function deadLetter(
  vhost: PublishHost,
  queue: Queue,
  record: MessageRecord,
  reason: DeathReason,
  now: number,
): number {
  const dlxName = queue.policy.deadLetterExchange;
  if (dlxName === undefined) return 0;
  const dlx = dlxName === '' ? undefined : vhost.exchange(dlxName);
  if (dlxName !== '' && dlx === undefined) return 0;
  const routingKey = queue.policy.deadLetterRoutingKey ?? record.routingKey;
  const properties = addDeath(record.properties, {
    queue: queue.name,
    reason,
    exchange: record.exchange,
    routingKeys: [record.routingKey],
    time: Math.floor(now / 1000),
  });
  const skip = (target: Queue): boolean => isDeadLetterCycle(properties, target.name, reason);
  return routeAndEnqueue(
    vhost,
    dlx,
    dlxName,
    routingKey,
    properties,
    record.content,
    parseExpiration(properties?.expiration),
    skip,
  ).queues;
}
