import { createHash } from 'node:crypto';
import { canonicalValue } from '../routing/binding.js';
import type { FieldTable } from '@switchyard/client/protocol';

/**
 * The last path segment naming one binding between a source and a destination (RabbitMQ's
 * "properties key"): the routing key itself when the binding has no arguments and the key
 * is non-empty and free of `~`; otherwise `routingKey~hash`, the hash covering the routing
 * key and the canonical form of the arguments. The CLI computes it the same way.
 */
export function propertiesKey(routingKey: string, args: FieldTable | undefined): string {
  const hasArgs = args !== undefined && Object.keys(args).length > 0;
  if (!hasArgs && routingKey !== '' && !routingKey.includes('~')) return routingKey;
  const hash = createHash('sha256')
    .update(routingKey)
    .update('\u0000')
    .update(canonicalValue(args ?? {}))
    .digest('base64url')
    .slice(0, 10);
  return `${routingKey}~${hash}`;
}
