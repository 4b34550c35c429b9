import { BrokerError, ErrorCode, type FieldTable } from '@switchyard/client/protocol';
import { PARTITION_ORDER_ARG } from '../routing/super-stream.js';
import type { VirtualHost } from '../vhost/virtual-host.js';

/** Most partitions one super stream may have. */
export const MAX_PARTITIONS = 1000;

/** How a super stream is partitioned: `partitions` numbered keys, or the given binding keys. */
export interface SuperStreamSpec {
  partitions?: number;
  bindingKeys?: readonly string[];
  /** Extra stream arguments for every partition (retention: `x-max-age`, `x-max-length-bytes`...). */
  arguments?: FieldTable;
}

/**
 * The binding keys of a super stream's partitions, as RabbitMQ's `add_super_stream`:
 * `partitions: n` gives keys `0`..`n-1`; `bindingKeys` gives those, in that order. 406 when
 * neither or both are given, or a key repeats.
 */
export function partitionKeys(name: string, spec: SuperStreamSpec): string[] {
  const bad = (why: string): BrokerError =>
    new BrokerError(ErrorCode.PRECONDITION_FAILED, `cannot create super stream '${name}': ${why}`);
  if ((spec.partitions === undefined) === (spec.bindingKeys === undefined))
    throw bad('give either a number of partitions or a list of binding keys');
  const keys =
    spec.bindingKeys !== undefined
      ? [...spec.bindingKeys]
      : Array.from({ length: spec.partitions! }, (_, i) => String(i));
  if (spec.partitions !== undefined && (!Number.isSafeInteger(spec.partitions) || spec.partitions < 1))
    throw bad(`partitions must be an integer from 1 to ${MAX_PARTITIONS}`);
  if (keys.length === 0 || keys.length > MAX_PARTITIONS) throw bad(`it needs 1 to ${MAX_PARTITIONS} partitions`);
  if (new Set(keys).size !== keys.length || keys.some((k) => k === ''))
    throw bad('binding keys must be distinct and non-empty');
  return keys;
}

/** The partition queue of a super stream for a binding key (RabbitMQ: `<name>-<key>`). */
export function partitionQueueName(name: string, key: string): string {
  return `${name}-${key}`;
}

/**
 * Creates a super stream with RabbitMQ's layout: a durable direct exchange `name` with
 * argument `x-super-stream: true`, one stream queue `<name>-<key>` per partition (declared
 * with `x-single-active-consumer: true`: one active reader per reader name and partition),
 * bound with routing key `<key>` and binding argument `x-stream-partition-order: <i>`.
 * Idempotent for the same spec (declarations are equivalent). spec/semantics.md §Super streams.
 */
export function declareSuperStream(
  vhost: VirtualHost,
  name: string,
  spec: SuperStreamSpec,
  connectionId: string,
): { exchange: string; partitions: string[] } {
  const keys = partitionKeys(name, spec);
  vhost.declareExchange({
    exchange: name,
    exchangeType: 'direct',
    passive: false,
    durable: true,
    autoDelete: false,
    internal: false,
    arguments: { 'x-super-stream': true },
  });
  const queues = keys.map((key, i) => {
    const queue = partitionQueueName(name, key);
    vhost.declareQueue(
      {
        queue,
        passive: false,
        durable: true,
        exclusive: false,
        autoDelete: false,
        arguments: { ...spec.arguments, 'x-queue-type': 'stream', 'x-single-active-consumer': true },
      },
      connectionId,
    );
    vhost.bind(
      {
        source: name,
        destination: queue,
        destinationKind: 'queue',
        routingKey: key,
        arguments: { [PARTITION_ORDER_ARG]: i },
      },
      undefined,
    );
    return queue;
  });
  return { exchange: name, partitions: queues };
}
