import type { QueuePolicy } from './queue-arguments.js';

/**
 * Why a durable queue with these arguments cannot be a cluster queue, or undefined when it can.
 * Each refused feature is kept by one node's memory today (counts, the active consumer, the
 * idle timer, seen message ids), so across nodes it would silently differ from RabbitMQ;
 * refusing at declare says so instead (spec/cluster.md §What differs from RabbitMQ).
 */
export function clusterRefusal(policy: QueuePolicy, autoDelete: boolean): string | undefined {
  const refused: [boolean, string][] = [
    [policy.maxPriority > 0, 'x-max-priority'],
    [policy.maxLength !== undefined, 'x-max-length'],
    [policy.maxLengthBytes !== undefined, 'x-max-length-bytes'],
    [policy.singleActiveConsumer, 'x-single-active-consumer'],
    [policy.expiresMs !== undefined, 'x-expires'],
    [policy.dedupWindowMs !== undefined, 'x-deduplication-window'],
  ];
  const hit = refused.find(([on]) => on);
  if (hit !== undefined)
    return `argument '${hit[1]}' is not supported on durable queues of a cluster yet; declare the queue without it, or non-durable (node-local)`;
  if (autoDelete)
    return 'durable auto-delete queues are not supported in a cluster; declare it non-durable (node-local) or without auto-delete';
  return undefined;
}
