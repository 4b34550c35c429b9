import { type Binding, type FieldTable, bindingKey } from './binding.js';
import type { BindingMatcher } from './binding-matcher.js';

/** The values of the `x-match` binding argument that current RabbitMQ accepts. */
export const X_MATCH_MODES = ['all', 'any', 'all-with-x', 'any-with-x'] as const;

/** How a headers binding combines its arguments: every one must match, or at least one. */
export type XMatchMode = (typeof X_MATCH_MODES)[number];

/** A binding's arguments, reduced once at bind time to what matching needs. */
interface HeadersSpec {
  readonly binding: Binding;
  /** True for 'all' / 'all-with-x' (and the default), false for 'any' / 'any-with-x'. */
  readonly requireAll: boolean;
  readonly keys: readonly string[];
  /** Parallel to `keys`; `undefined` marks a presence-only argument (null/undefined value). */
  readonly values: readonly unknown[];
}

const NO_HEADERS: FieldTable = Object.freeze({});
const utf8 = new TextEncoder();

/**
 * Checks the `x-match` argument as RabbitMQ's `validate_binding` does: absent, or one of
 * {@link X_MATCH_MODES}. Returns the error text, or `undefined` when valid.
 */
export function validateHeadersArguments(args: FieldTable): string | undefined {
  const mode = args['x-match'];
  if (mode === undefined) return undefined; // optional: defaults to 'all'
  if (typeof mode !== 'string') {
    return `Invalid x-match field type ${typeof mode} (value ${JSON.stringify(mode) ?? typeof mode}); expected string`;
  }
  if (!(X_MATCH_MODES as readonly string[]).includes(mode)) {
    return `Invalid x-match field value "${mode}"; expected all, any, all-with-x, or any-with-x`;
  }
  return undefined;
}

/**
 * Reduces binding arguments to a match spec, following RabbitMQ's `headers_match`:
 * `x-match` itself never takes part; other arguments whose name starts with 'x-' (exactly,
 * case-sensitive) take part only in the '-with-x' modes. An `x-match` that is not one of the
 * known modes counts as 'all', as RabbitMQ's legacy fallback does (validate first to refuse it).
 */
function compileSpec(binding: Binding): HeadersSpec {
  const args = binding.arguments ?? NO_HEADERS;
  const mode = args['x-match'];
  const requireAll = mode !== 'any' && mode !== 'any-with-x';
  const withX = mode === 'all-with-x' || mode === 'any-with-x';
  const keys: string[] = [];
  const values: unknown[] = [];
  for (const key of Object.keys(args)) {
    if (key === 'x-match') continue;
    if (!withX && key.startsWith('x-')) continue;
    const value = args[key];
    keys.push(key);
    // AMQP "void" (no value) means: the header must be present, with any value.
    values.push(value === null ? undefined : value);
  }
  return { binding, requireAll, keys, values };
}

function specMatches(spec: HeadersSpec, headers: FieldTable): boolean {
  const { keys, values, requireAll } = spec;
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i]!;
    const expected = values[i];
    const actual = headers[key];
    // `actual === expected` first: the common case, and an own-property check is dearer.
    // (An inherited property such as 'toString' is never === a value off the wire.)
    const hit =
      expected === undefined
        ? Object.hasOwn(headers, key)
        : actual === expected ||
          (actual !== undefined && Object.hasOwn(headers, key) && fieldValuesEqual(expected, actual));
    if (hit !== requireAll) return hit; // first miss decides 'all', first hit decides 'any'
  }
  // All matched ('all', including no arguments at all), or none did ('any').
  return requireAll;
}

/**
 * Whether a message with these headers matches a headers-exchange binding with these
 * arguments. Exposed for tests and tools; the matcher uses a precompiled form.
 */
export function headersMatch(args: FieldTable, headers: FieldTable | undefined): boolean {
  const probe: Binding = {
    source: '',
    destination: '',
    destinationKind: 'queue',
    routingKey: '',
    arguments: args,
  };
  return specMatches(compileSpec(probe), headers ?? NO_HEADERS);
}

/**
 * Equality of a binding-argument value and a header value, by value and recursively, in the
 * spirit of Erlang's `==` that RabbitMQ uses (type tags ignored):
 * - numbers and bigints compare numerically (1 equals 1.0 and 1n); NaN equals nothing;
 * - a string equals a string with the same text, and a byte array holding its UTF-8 bytes
 *   (RabbitMQ holds both as binaries); byte arrays compare byte by byte;
 * - booleans only equal booleans (true is not 1), strings never equal numbers ('1' is not 1);
 * - arrays compare element by element in order; tables by key set and values, in any key
 *   order; Dates by time; null and undefined (void) equal each other; other objects (a Map,
 *   a class instance) only themselves.
 */
export function fieldValuesEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (a === null || a === undefined || b === null || b === undefined) {
    return (a === null || a === undefined) && (b === null || b === undefined);
  }
  const ta = typeof a;
  const tb = typeof b;
  if ((ta === 'number' || ta === 'bigint') && (tb === 'number' || tb === 'bigint')) {
    return numbersEqual(a as number | bigint, b as number | bigint);
  }
  if (ta === 'string' && b instanceof Uint8Array) return bytesEqual(utf8.encode(a as string), b);
  if (tb === 'string' && a instanceof Uint8Array) return bytesEqual(a, utf8.encode(b as string));
  if (ta !== 'object' || tb !== 'object') return false;
  if (a instanceof Uint8Array || b instanceof Uint8Array) {
    return a instanceof Uint8Array && b instanceof Uint8Array && bytesEqual(a, b);
  }
  if (a instanceof Date || b instanceof Date) {
    return a instanceof Date && b instanceof Date && a.getTime() === b.getTime();
  }
  if (Array.isArray(a) || Array.isArray(b)) {
    return Array.isArray(a) && Array.isArray(b) && arraysEqual(a, b);
  }
  // Only plain objects are tables; anything else (a Map, a class instance) equals itself only.
  if (!isPlainObject(a) || !isPlainObject(b)) return false;
  return tablesEqual(a, b);
}

function isPlainObject(value: object): value is Record<string, unknown> {
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

function numbersEqual(a: number | bigint, b: number | bigint): boolean {
  if (typeof a === typeof b) return a === b; // same kind, not === above: NaN or 0/-0 (0 === -0)
  const n = (typeof a === 'number' ? a : b) as number;
  const big = (typeof a === 'bigint' ? a : b) as bigint;
  return Number.isInteger(n) && BigInt(n) === big;
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function arraysEqual(a: readonly unknown[], b: readonly unknown[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (!fieldValuesEqual(a[i], b[i])) return false;
  return true;
}

function tablesEqual(a: Record<string, unknown>, b: Record<string, unknown>): boolean {
  const keys = Object.keys(a);
  if (keys.length !== Object.keys(b).length) return false;
  for (const key of keys) {
    if (!Object.hasOwn(b, key) || !fieldValuesEqual(a[key], b[key])) return false;
  }
  return true;
}

/**
 * Headers exchange: the routing key is ignored; a binding matches when the message headers
 * satisfy its arguments under its `x-match` mode (see {@link compileSpec}). Like RabbitMQ, a
 * match tests every binding of the exchange (linear in bindings).
 */
export class HeadersMatcher implements BindingMatcher {
  /** Dense array for a tight match loop; removal swaps the last entry into the hole. */
  readonly #specs: HeadersSpec[] = [];
  readonly #indexByIdentity = new Map<string, number>();
  readonly #identities: string[] = [];

  get size(): number {
    return this.#specs.length;
  }

  add(b: Binding): boolean {
    const id = bindingKey(b);
    if (this.#indexByIdentity.has(id)) return false;
    this.#indexByIdentity.set(id, this.#specs.length);
    this.#specs.push(compileSpec(b));
    this.#identities.push(id);
    return true;
  }

  remove(b: Binding): boolean {
    const id = bindingKey(b);
    const at = this.#indexByIdentity.get(id);
    if (at === undefined) return false;
    this.#indexByIdentity.delete(id);
    const lastSpec = this.#specs.pop()!;
    const lastId = this.#identities.pop()!;
    if (at < this.#specs.length) {
      this.#specs[at] = lastSpec;
      this.#identities[at] = lastId;
      this.#indexByIdentity.set(lastId, at);
    }
    return true;
  }

  match(_routingKey: string, headers: FieldTable | undefined, out: Binding[]): void {
    const table = headers ?? NO_HEADERS;
    const specs = this.#specs;
    for (let i = 0; i < specs.length; i++) {
      const spec = specs[i]!;
      if (specMatches(spec, table)) out.push(spec.binding);
    }
  }

  bindings(): Iterable<Binding> {
    return this.#specs.map((s) => s.binding);
  }
}
