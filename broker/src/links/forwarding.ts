/**
 * What a link adds to a message it forwards (spec/links.md §Deduplication). Pure.
 */
import { createHash } from 'node:crypto';
import type { LinkProperties } from './link-client.js';

/**
 * The header the destination's `x-deduplication-window` deduplicates on, as RabbitMQ's
 * message-deduplication plugin names it.
 */
export const DEDUP_HEADER = 'x-deduplication-header';

/**
 * A stable id of a source message: the source (broker, vhost, queue or exchange) and a
 * SHA-256 of its properties and body. A redelivery of the same message gets the same id, so
 * the destination drops the second copy when the link dropped between "stored downstream"
 * and "acked upstream". Two byte-identical messages with identical properties (no
 * messageId, same timestamp) published within the window also share an id: the second is
 * dropped. Publishers who send identical messages on purpose give each a messageId.
 */
export function stableMessageId(source: string, properties: LinkProperties, content: Uint8Array): string {
  // the link's own header from an earlier hop is part of the message, but not of its identity
  const { headers, ...rest } = properties;
  const own = headers === undefined ? undefined : { ...headers };
  if (own !== undefined) delete own[DEDUP_HEADER];
  // two updates, not five: per message on the link's hot path (the same bytes are hashed)
  const h = createHash('sha256');
  h.update(`${source}\n${JSON.stringify([sorted(rest), own === undefined ? null : sorted(own)])}\n`);
  h.update(content);
  return `${source}#${h.digest('base64url')}`;
}

function sorted(o: Record<string, unknown>): [string, unknown][] {
  return Object.keys(o)
    .sort()
    .map((k) => [k, o[k]]);
}

/** What RabbitMQ's shovel puts in `x-shovelled`, so a consumer can tell where a message came from. */
export interface ShovelOrigin {
  name: string;
  vhost: string;
  srcUri: string;
  srcQueue: string | undefined;
  srcExchange: string | undefined;
  destUri: string;
  destQueue: string | undefined;
  destExchange: string | undefined;
}

/**
 * The properties the link publishes with: the source's, minus `userId` (the destination
 * checks it against the link's own user, as RabbitMQ does), plus the dedup id and the
 * optional forward and timestamp headers.
 */
export function forwardedProperties(
  p: LinkProperties,
  dedupId: string,
  opts: { origin?: ShovelOrigin; timestampSeconds?: number },
): LinkProperties {
  const { userId: _userId, ...rest } = p;
  const headers: Record<string, unknown> = { ...(p.headers ?? {}), [DEDUP_HEADER]: dedupId };
  if (opts.origin !== undefined) {
    const o = opts.origin;
    const entry: Record<string, unknown> = {
      'shovel-type': 'dynamic',
      'shovel-name': o.name,
      'shovel-vhost': o.vhost,
      'src-uri': o.srcUri,
      'dest-uri': o.destUri,
    };
    if (o.srcQueue !== undefined) entry['src-queue'] = o.srcQueue;
    if (o.srcExchange !== undefined) entry['src-exchange'] = o.srcExchange;
    if (o.destQueue !== undefined) entry['dest-queue'] = o.destQueue;
    if (o.destExchange !== undefined) entry['dest-exchange'] = o.destExchange;
    const prior = Array.isArray(headers['x-shovelled']) ? (headers['x-shovelled'] as unknown[]) : [];
    headers['x-shovelled'] = [...prior, entry];
  }
  if (opts.timestampSeconds !== undefined) headers['x-shovelled-timestamp'] = opts.timestampSeconds;
  return { ...rest, headers };
}
