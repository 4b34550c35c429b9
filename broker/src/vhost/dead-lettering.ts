import { route } from '../routing/router.js';
import { addDeath, isDeadLetterCycle, type DeathReason } from '../queues/dead-letter.js';
import type { Queue } from '../queues/queue.js';
import type { MessageRecord } from '../store/store.js';
import type { VirtualHost } from './virtual-host.js';

/**
 * Publishes a dead-lettered copy of `record` from `queue` through the queue's
 * `x-dead-letter-exchange`, as RabbitMQ does: routing key `x-dead-letter-routing-key` or the
 * message's own, `x-death` headers added, the copy dropped for any target queue that would
 * close a cycle, and silently dropped altogether when the DLX does not exist. Internal
 * exchanges are valid DLXs. Synchronous, so the copies' writes share the turn's transaction
 * with the removal of the original.
 */
export function deadLetter(vhost: VirtualHost, queue: Queue, record: MessageRecord, reason: DeathReason, now: number): number {
  const dlxName = queue.policy.deadLetterExchange;
  if (dlxName === undefined) return 0;
  const routingKey = queue.policy.deadLetterRoutingKey ?? record.routingKey;
  const properties = addDeath(record.properties, {
    queue: queue.name,
    reason,
    exchange: record.exchange,
    routingKeys: [record.routingKey],
    time: Math.floor(now / 1000),
  });
  let targets: Queue[];
  if (dlxName === '') {
    const q = vhost.queue(routingKey);
    targets = q === undefined ? [] : [q];
  } else {
    const dlx = vhost.exchange(dlxName);
    if (dlx === undefined) return 0;
    targets = route(dlx, routingKey, properties.headers, (n) => vhost.exchange(n))
      .queues.map((n) => vhost.queue(n))
      .filter((q): q is Queue => q !== undefined);
  }
  let count = 0;
  for (const target of targets) {
    if (isDeadLetterCycle(properties, target.name, reason)) continue;
    target.enqueue(dlxName, routingKey, properties, record.content);
    count++;
  }
  return count;
}
