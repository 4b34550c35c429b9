/**
 * RabbitMQ's dynamic-shovel parameters (`PUT /api/parameters/shovel/{vhost}/{name}` with
 * `{"value": {...}}`), checked and turned into a ShovelDefinition. Pure: no I/O. Every value
 * comes from a client, so each is checked for type and bounds (spec/links.md §Shovel parameters).
 */
import { parseLinkUri, type LinkUri } from './link-uri.js';

/** When the source message is acked (spec/links.md §Ack modes). */
export type AckMode = 'on-confirm' | 'on-publish' | 'no-ack';

/** A checked shovel definition. */
export interface ShovelDefinition {
  src: LinkUri;
  /** Exactly one of srcQueue / srcExchange. */
  srcQueue: string | undefined;
  srcExchange: string | undefined;
  srcExchangeKey: string;
  srcPrefetchCount: number;
  /** 'never', 'queue-length' (the length when the link starts), or a message count. */
  srcDeleteAfter: 'never' | 'queue-length' | number;
  dest: LinkUri;
  /** Exactly one of destQueue / destExchange. */
  destQueue: string | undefined;
  destExchange: string | undefined;
  /** undefined: keep the source message's routing key. */
  destExchangeKey: string | undefined;
  ackMode: AckMode;
  /** Base delay before reconnecting, ms (RabbitMQ gives seconds). */
  reconnectDelayMs: number;
  addForwardHeaders: boolean;
  addTimestampHeader: boolean;
}

/** A parameter value that cannot be used; `field` names it. HTTP 400 at the API. */
export class LinkParameterError extends Error {
  override readonly name = 'LinkParameterError';
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
  }
}

/** RabbitMQ's defaults: prefetch 1000, reconnect-delay 5 s, on-confirm. */
export const SHOVEL_DEFAULTS = {
  srcPrefetchCount: 1000,
  reconnectDelaySeconds: 5,
  ackMode: 'on-confirm' as AckMode,
} as const;

const MAX_NAME = 255;
const KNOWN = new Set([
  'src-protocol',
  'dest-protocol',
  'src-uri',
  'src-queue',
  'src-exchange',
  'src-exchange-key',
  'src-prefetch-count',
  'src-delete-after',
  'dest-uri',
  'dest-queue',
  'dest-exchange',
  'dest-exchange-key',
  'ack-mode',
  'reconnect-delay',
  'dest-add-forward-headers',
  'dest-add-timestamp-header',
]);

/** Checks a shovel's `value` object; throws LinkParameterError naming the first bad field. */
export function parseShovelValue(value: unknown): ShovelDefinition {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new LinkParameterError('value', 'the body must be {"value": {...shovel parameters...}}');
  const v = value as Record<string, unknown>;
  for (const key of Object.keys(v)) {
    if (!KNOWN.has(key))
      throw new LinkParameterError(
        key,
        `unknown shovel parameter '${clip(key)}'; see spec/links.md for the supported ones`,
      );
  }
  for (const p of ['src-protocol', 'dest-protocol']) {
    if (v[p] !== undefined && v[p] !== 'amqp091')
      throw new LinkParameterError(p, `${p} must be 'amqp091' (the only protocol supported)`);
  }
  const srcQueue = optName(v, 'src-queue');
  const srcExchange = optName(v, 'src-exchange');
  if ((srcQueue === undefined) === (srcExchange === undefined))
    throw new LinkParameterError('src-queue', 'give exactly one of src-queue and src-exchange');
  const destQueue = optName(v, 'dest-queue');
  const destExchange = optName(v, 'dest-exchange');
  if (destQueue !== undefined && destExchange !== undefined)
    throw new LinkParameterError('dest-queue', 'give at most one of dest-queue and dest-exchange');
  if (destQueue !== undefined && v['dest-exchange-key'] !== undefined)
    throw new LinkParameterError('dest-exchange-key', 'dest-exchange-key goes with dest-exchange, not dest-queue');
  const ackMode = v['ack-mode'] ?? SHOVEL_DEFAULTS.ackMode;
  if (ackMode !== 'on-confirm' && ackMode !== 'on-publish' && ackMode !== 'no-ack')
    throw new LinkParameterError('ack-mode', "ack-mode must be 'on-confirm', 'on-publish' or 'no-ack'");
  return {
    src: uriOf(v, 'src-uri'),
    srcQueue,
    srcExchange,
    srcExchangeKey: optName(v, 'src-exchange-key') ?? '#',
    srcPrefetchCount: int(v, 'src-prefetch-count', SHOVEL_DEFAULTS.srcPrefetchCount, 1, 65535),
    srcDeleteAfter: deleteAfter(v['src-delete-after']),
    dest: uriOf(v, 'dest-uri'),
    destQueue,
    destExchange,
    destExchangeKey: optName(v, 'dest-exchange-key'),
    ackMode,
    reconnectDelayMs: Math.round(num(v, 'reconnect-delay', SHOVEL_DEFAULTS.reconnectDelaySeconds, 0, 3600) * 1000),
    addForwardHeaders: bool(v, 'dest-add-forward-headers'),
    addTimestampHeader: bool(v, 'dest-add-timestamp-header'),
  };
}

function uriOf(v: Record<string, unknown>, field: string): LinkUri {
  let raw = v[field];
  // RabbitMQ accepts a list of URIs (tried in turn); we take the first and say so in spec.
  if (Array.isArray(raw) && raw.length > 0) raw = raw[0];
  if (typeof raw !== 'string') throw new LinkParameterError(field, `${field} must be a URI string`);
  try {
    return parseLinkUri(raw);
  } catch (err) {
    throw new LinkParameterError(field, `${field}: ${(err as Error).message}`);
  }
}

function optName(v: Record<string, unknown>, field: string): string | undefined {
  const x = v[field];
  if (x === undefined) return undefined;
  if (typeof x !== 'string' || x.length > MAX_NAME)
    throw new LinkParameterError(field, `${field} must be a string of at most ${MAX_NAME} characters`);
  return x;
}

/** A number parameter in [min, max] (default `dflt`); shared by the federation parameters. */
export function num(v: Record<string, unknown>, field: string, dflt: number, min: number, max: number): number {
  const x = v[field] ?? dflt;
  if (typeof x !== 'number' || !Number.isFinite(x) || x < min || x > max)
    throw new LinkParameterError(field, `${field} must be a number from ${min} to ${max}`);
  return x;
}

/** An integer parameter in [min, max] (default `dflt`). */
export function int(v: Record<string, unknown>, field: string, dflt: number, min: number, max: number): number {
  const x = num(v, field, dflt, min, max);
  if (!Number.isInteger(x)) throw new LinkParameterError(field, `${field} must be an integer`);
  return x;
}

function bool(v: Record<string, unknown>, field: string): boolean {
  const x = v[field] ?? false;
  if (typeof x !== 'boolean') throw new LinkParameterError(field, `${field} must be true or false`);
  return x;
}

function deleteAfter(x: unknown): ShovelDefinition['srcDeleteAfter'] {
  if (x === undefined || x === 'never') return 'never';
  if (x === 'queue-length') return 'queue-length';
  if (typeof x === 'number' && Number.isSafeInteger(x) && x > 0) return x;
  throw new LinkParameterError(
    'src-delete-after',
    "src-delete-after must be 'never', 'queue-length' or a positive integer",
  );
}

function clip(s: string): string {
  return s.length > 60 ? `${s.slice(0, 60)}...` : s;
}
