/**
 * RabbitMQ's federation parameters, checked: the `federation-upstream` runtime parameter
 * (`PUT /api/parameters/federation-upstream/{vhost}/{name}` with `{"value": {...}}`) and the
 * policies that apply upstreams to exchanges (`PUT /api/policies/{vhost}/{name}`). Pure: no
 * I/O. Every value comes from a client, so each is checked for type and bounds
 * (spec/links.md §Federated exchanges).
 */
import { RE2JS } from 're2js';
import { parseLinkUri, type LinkUri } from './link-uri.js';
import { int, LinkParameterError, num, type AckMode } from './shovel-params.js';

/** A checked federation upstream. */
export interface UpstreamDefinition {
  uri: LinkUri;
  /** The upstream exchange; undefined: the downstream exchange's own name (RabbitMQ's default). */
  exchange: string | undefined;
  prefetchCount: number;
  /** Brokers a message may cross through federation before it is dropped. */
  maxHops: number;
  /** `x-expires` of the upstream queue (ms); undefined: never expires. */
  expiresMs: number | undefined;
  /** `x-message-ttl` of the upstream queue (ms); undefined: none. */
  messageTtlMs: number | undefined;
  ackMode: AckMode;
  reconnectDelayMs: number;
  /**
   * Switchyard's own key: the URI (with credentials) the link publishes into this broker
   * with. Default: guest over loopback (spec/links.md §Federated exchanges).
   */
  localUri: LinkUri | undefined;
}

/** RabbitMQ's defaults: prefetch 1000, max-hops 1, on-confirm, reconnect-delay 5 s. */
export const UPSTREAM_DEFAULTS = { prefetchCount: 1000, maxHops: 1, reconnectDelaySeconds: 5 } as const;

const MAX_NAME = 255;
/** Largest `expires`/`message-ttl` accepted (ms): RabbitMQ's limit for x-expires / x-message-ttl. */
const MAX_MS = 2 ** 32 - 1;

const UPSTREAM_KEYS = new Set([
  'uri',
  'exchange',
  'prefetch-count',
  'max-hops',
  'expires',
  'message-ttl',
  'ack-mode',
  'reconnect-delay',
  'trust-user-id',
  'local-uri',
]);

/** Checks a federation upstream's `value`; throws LinkParameterError naming the first bad field. */
export function parseUpstreamValue(value: unknown): UpstreamDefinition {
  const v = record(value, 'the body must be {"value": {"uri": ...}}');
  for (const key of Object.keys(v)) {
    if (key === 'queue')
      throw new LinkParameterError(key, 'federated queues are not supported; federate an exchange (spec/links.md)');
    if (!UPSTREAM_KEYS.has(key))
      throw new LinkParameterError(key, `unknown federation-upstream parameter '${clip(key)}'; see spec/links.md`);
  }
  const ackMode = v['ack-mode'] ?? 'on-confirm';
  if (ackMode !== 'on-confirm' && ackMode !== 'on-publish' && ackMode !== 'no-ack')
    throw new LinkParameterError('ack-mode', "ack-mode must be 'on-confirm', 'on-publish' or 'no-ack'");
  if (v['trust-user-id'] !== undefined && typeof v['trust-user-id'] !== 'boolean')
    throw new LinkParameterError('trust-user-id', 'trust-user-id must be true or false');
  const exchange = v['exchange'];
  if (exchange !== undefined && (typeof exchange !== 'string' || exchange.length > MAX_NAME))
    throw new LinkParameterError('exchange', `exchange must be a string of at most ${MAX_NAME} characters`);
  return {
    uri: uriOf(v, 'uri'),
    exchange,
    prefetchCount: int(v, 'prefetch-count', UPSTREAM_DEFAULTS.prefetchCount, 1, 65535),
    maxHops: int(v, 'max-hops', UPSTREAM_DEFAULTS.maxHops, 1, 255),
    expiresMs: v['expires'] === undefined ? undefined : int(v, 'expires', 0, 1, MAX_MS),
    messageTtlMs: v['message-ttl'] === undefined ? undefined : int(v, 'message-ttl', 0, 0, MAX_MS),
    ackMode,
    reconnectDelayMs: Math.round(num(v, 'reconnect-delay', UPSTREAM_DEFAULTS.reconnectDelaySeconds, 0, 3600) * 1000),
    localUri: v['local-uri'] === undefined ? undefined : uriOf(v, 'local-uri'),
  };
}

/** A checked policy: RabbitMQ's shape, with only the federation keys in its definition. */
export interface PolicyDefinition {
  /**
   * Searched in exchange names (a regular expression, as RabbitMQ's), by RE2 semantics:
   * linear time, so no pattern can stall the broker on a client's exchange name.
   */
  pattern: { test(name: string): boolean };
  /** The pattern as given, for export. */
  source: string;
  applyTo: 'exchanges' | 'all';
  priority: number;
  /**
   * One upstream by name, or an upstream set: `all` (every upstream of the vhost, RabbitMQ's
   * implicit set) or a `federation-upstream-set` parameter by name.
   */
  upstream: { name: string } | { set: string };
  /** The definition as given, for export. */
  definition: Record<string, unknown>;
}

/** Longest policy pattern accepted; the pattern runs against names of at most 255 characters. */
export const MAX_PATTERN = 255;

/** Checks a policy body (`{pattern, definition, priority, apply-to}`); throws LinkParameterError. */
export function parsePolicy(value: unknown): PolicyDefinition {
  const v = record(value, 'the body must be {"pattern": ..., "definition": {...}}');
  for (const key of Object.keys(v)) {
    if (!['pattern', 'definition', 'priority', 'apply-to', 'vhost', 'name'].includes(key))
      throw new LinkParameterError(key, `unknown policy field '${clip(key)}'`);
  }
  const source = v['pattern'];
  if (typeof source !== 'string' || source.length > MAX_PATTERN)
    throw new LinkParameterError(
      'pattern',
      `pattern must be a regular expression of at most ${MAX_PATTERN} characters`,
    );
  let pattern: RE2JS;
  try {
    // RE2 (re2js), not RegExp: the pattern comes from a client and runs on names clients
    // choose; a backtracking engine could spin for ever on `(a+)+$` and a long name
    pattern = RE2JS.compile(source);
  } catch (err) {
    throw new LinkParameterError('pattern', `pattern is not a regular expression: ${(err as Error).message}`);
  }
  const applyTo = v['apply-to'] ?? 'all';
  if (applyTo === 'queues')
    throw new LinkParameterError('apply-to', 'only exchange policies are supported (federation of exchanges)');
  if (applyTo !== 'exchanges' && applyTo !== 'all')
    throw new LinkParameterError('apply-to', "apply-to must be 'exchanges' or 'all'");
  const priority = int(v, 'priority', 0, -1_000_000, 1_000_000);
  const definition = record(v['definition'], 'definition must be an object');
  for (const key of Object.keys(definition)) {
    if (key !== 'federation-upstream' && key !== 'federation-upstream-set')
      throw new LinkParameterError(
        `definition.${clip(key)}`,
        `policy key '${clip(key)}' is not supported; only federation-upstream and federation-upstream-set are`,
      );
  }
  const one = definition['federation-upstream'];
  const set = definition['federation-upstream-set'];
  if ((one === undefined) === (set === undefined))
    throw new LinkParameterError(
      'definition',
      'give exactly one of federation-upstream and federation-upstream-set in the definition',
    );
  let upstream: PolicyDefinition['upstream'];
  if (one !== undefined) {
    if (typeof one !== 'string' || one === '' || one.length > MAX_NAME)
      throw new LinkParameterError('definition.federation-upstream', 'federation-upstream must name an upstream');
    upstream = { name: one };
  } else {
    if (typeof set !== 'string' || set === '' || set.length > MAX_NAME)
      throw new LinkParameterError(
        'definition.federation-upstream-set',
        "federation-upstream-set must name an upstream set, or be 'all' (every upstream of the vhost)",
      );
    upstream = { set };
  }
  return { pattern, source, applyTo, priority, upstream, definition };
}

/** One entry of an upstream set: the upstream's name and the upstream keys it overrides. */
export interface UpstreamSetEntry {
  upstream: string;
  /** Upstream keys (uri, max-hops, ...) that replace the upstream's own for this set. */
  overrides: Record<string, unknown>;
}

/** Most entries in one upstream set (each can start a link per federated exchange). */
export const MAX_SET_ENTRIES = 100;

/** Checks a placeholder URI stands in for, when an entry does not override `uri`. */
const PLACEHOLDER_URI = 'ws://placeholder';

/**
 * Checks a `federation-upstream-set` parameter's `value`: RabbitMQ's
 * `[{"upstream": "up-1", ...upstream keys}, ...]` (spec/links.md §Federated exchanges).
 * Each entry's overrides are checked as upstream keys; throws LinkParameterError naming
 * the field (`value[i].key`).
 */
export function parseUpstreamSetValue(value: unknown): UpstreamSetEntry[] {
  if (!Array.isArray(value))
    throw new LinkParameterError('value', 'the body must be {"value": [{"upstream": "<upstream name>"}, ...]}');
  if (value.length > MAX_SET_ENTRIES)
    throw new LinkParameterError('value', `an upstream set has at most ${MAX_SET_ENTRIES} entries`);
  const seen = new Set<string>();
  return value.map((raw, i) => {
    const entry = record(raw, `value[${i}] must be an object {"upstream": "<upstream name>", ...}`);
    const { upstream, ...overrides } = entry;
    if (typeof upstream !== 'string' || upstream === '' || upstream.length > MAX_NAME)
      throw new LinkParameterError(`value[${i}].upstream`, `value[${i}].upstream must name an upstream`);
    if (seen.has(upstream))
      throw new LinkParameterError(`value[${i}].upstream`, `upstream '${clip(upstream)}' is in the set twice`);
    seen.add(upstream);
    try {
      // the upstream's own value is not known here (it may come later): check the keys alone
      parseUpstreamValue({ uri: PLACEHOLDER_URI, ...overrides });
    } catch (err) {
      if (err instanceof LinkParameterError) throw new LinkParameterError(`value[${i}].${err.field}`, err.message);
      throw err;
    }
    return { upstream, overrides };
  });
}

/**
 * The upstreams a policy applies, each with the value its links run: one upstream by name,
 * every upstream (`all`), or the upstreams of a named set with the set entry's keys over the
 * upstream's own. A name with no upstream (or a set with none) is skipped, as RabbitMQ does.
 */
export function upstreamsOf(
  choice: PolicyDefinition['upstream'],
  upstreams: ReadonlyMap<string, Record<string, unknown>>,
  sets: ReadonlyMap<string, unknown>,
): { name: string; value: Record<string, unknown> }[] {
  if ('name' in choice) {
    const value = upstreams.get(choice.name);
    return value === undefined ? [] : [{ name: choice.name, value }];
  }
  if (choice.set === 'all') return [...upstreams].map(([name, value]) => ({ name, value }));
  let entries: UpstreamSetEntry[];
  try {
    entries = parseUpstreamSetValue(sets.get(choice.set) ?? []);
  } catch {
    return []; // a stored set that no longer parses: refused at PUT time, skipped here
  }
  const out: { name: string; value: Record<string, unknown> }[] = [];
  for (const e of entries) {
    const own = upstreams.get(e.upstream);
    if (own !== undefined) out.push({ name: e.upstream, value: { ...own, ...e.overrides } });
  }
  return out;
}

/** The policy that applies to an exchange: the matching one of highest priority (RabbitMQ's rule). */
export function policyFor<T extends { policy: PolicyDefinition }>(exchange: string, policies: T[]): T | undefined {
  let best: T | undefined;
  for (const p of policies)
    if (p.policy.pattern.test(exchange) && (best === undefined || p.policy.priority > best.policy.priority)) best = p;
  return best;
}

function record(value: unknown, message: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new LinkParameterError('value', message);
  return value as Record<string, unknown>;
}

function uriOf(v: Record<string, unknown>, field: string): LinkUri {
  let raw = v[field];
  if (Array.isArray(raw) && raw.length > 0) raw = raw[0];
  if (typeof raw !== 'string') throw new LinkParameterError(field, `${field} must be a URI string`);
  try {
    return parseLinkUri(raw);
  } catch (err) {
    throw new LinkParameterError(field, `${field}: ${(err as Error).message}`);
  }
}

function clip(s: string): string {
  return s.length > 60 ? `${s.slice(0, 60)}...` : s;
}
