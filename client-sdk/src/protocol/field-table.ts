/**
 * AMQP 0-9-1 field values, checked on JavaScript values: what the SDK is asked to send, what
 * the management API and definitions receive as JSON, and (as a second line behind
 * msgpack-scan.ts) what the codec decoded. spec/protocol.md §Field tables.
 */
import { MAX_FIELD_ENTRIES, MAX_SHORTSTR_BYTES, MAX_TABLE_DEPTH, MAX_TABLE_KEYS } from './limits.js';

/** True for an object made by `{}` / JSON / msgpack maps: not an array, buffer, Map, Date, class instance. */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) return false;
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}

/** Bytes of `s` in UTF-8 (lone surrogates count as the 3 bytes of U+FFFD). */
export function utf8ByteLength(s: string): number {
  let n = s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) continue;
    if (c < 0x800) n += 1;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      n += 2; // a pair: 4 bytes for 2 code units
      i++;
    } else n += 2;
  }
  return n;
}

/** Matches a lone surrogate: such a string has no UTF-8 form (msgpack would send invalid bytes). */
const LONE_SURROGATE = /\p{Cs}/u;

/** True when `s` can be sent as UTF-8 (no lone surrogates). */
export function isWellFormed(s: string): boolean {
  return !LONE_SURROGATE.test(s);
}

/** `path.key`, or `path["odd key"]`, shortened so a hostile key cannot flood an error message. */
export function fieldPath(path: string, key: string | number): string {
  if (typeof key === 'number') return `${path}[${key}]`;
  if (/^[A-Za-z_$][\w$-]{0,63}$/.test(key)) return path === '' ? key : `${path}.${key}`;
  const shown = key.length > 40 ? `${key.slice(0, 40)}...` : key;
  return `${path}[${JSON.stringify(shown)}]`;
}

/** What a value is, for error messages. */
export function describeValue(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (v instanceof Uint8Array) return 'bytes';
  if (typeof v === 'object') {
    const ctor = (Object.getPrototypeOf(v) as { constructor?: { name?: string } } | null)?.constructor?.name;
    return ctor !== undefined && ctor !== '' ? `a ${ctor}` : 'an object';
  }
  if (typeof v === 'number') return String(v);
  return `a ${typeof v}`;
}

const EXPECTED =
  'a field value must be a boolean, a finite number, a string, bytes (Uint8Array), null, an array or a plain object (a nested table)';

class Budget {
  entries = 0;
}

/**
 * Why `value` is not a valid field table, naming the field (`headers.h[0]: ...`), or
 * undefined when it is one. Allowed values are AMQP's field types: booleans, finite numbers
 * (integers and doubles; timestamps as numbers), strings (longstr), byte arrays, void (null),
 * arrays of those and nested tables (plain objects), with the depth, keys-per-table, entry and
 * key-length limits of limits.ts. Pure; never throws, whatever the input (cycles included:
 * the depth limit stops them).
 */
export function fieldTableError(value: unknown, path: string): string | undefined {
  if (!isPlainObject(value)) return `${path}: a field table must be a plain object, got ${describeValue(value)}`;
  return tableError(value, path, 0, new Budget());
}

function tableError(table: Record<string, unknown>, path: string, depth: number, budget: Budget): string | undefined {
  let keys = 0;
  for (const key in table) {
    if (!Object.prototype.hasOwnProperty.call(table, key)) continue;
    if (++keys > MAX_TABLE_KEYS) return `${path}: more than ${MAX_TABLE_KEYS} keys in one table`;
    if (++budget.entries > MAX_FIELD_ENTRIES) return `${path}: more than ${MAX_FIELD_ENTRIES} entries in all`;
    if (key.length > MAX_SHORTSTR_BYTES / 3 && utf8ByteLength(key) > MAX_SHORTSTR_BYTES) {
      return `${fieldPath(path, key)}: key is ${utf8ByteLength(key)} bytes of UTF-8; the limit is ${MAX_SHORTSTR_BYTES}`;
    }
    if (!isWellFormed(key)) return `${fieldPath(path, key)}: key is not valid Unicode (a lone surrogate)`;
    const error = valueError(table[key], path, key, depth, budget);
    if (error !== undefined) return error;
  }
  return undefined;
}

/** The path (`parent.key`) is only built when reporting or descending, not per scalar. */
function valueError(
  v: unknown,
  parent: string,
  key: string | number,
  depth: number,
  budget: Budget,
): string | undefined {
  switch (typeof v) {
    case 'boolean':
    case 'undefined':
      return undefined;
    case 'number':
      return Number.isFinite(v) ? undefined : `${fieldPath(parent, key)}: ${String(v)} is not a finite number`;
    case 'string':
      return isWellFormed(v) ? undefined : `${fieldPath(parent, key)}: string is not valid Unicode (a lone surrogate)`;
    case 'object':
      break;
    default:
      return `${fieldPath(parent, key)}: ${describeValue(v)} is not a field value; ${EXPECTED}`;
  }
  if (v === null || v instanceof Uint8Array) return undefined;
  const path = fieldPath(parent, key);
  if (depth >= MAX_TABLE_DEPTH) return `${path}: nested more than ${MAX_TABLE_DEPTH} tables or arrays deep`;
  if (Array.isArray(v)) {
    if (Object.getPrototypeOf(v) !== Array.prototype)
      return `${path}: ${describeValue(v)} is not a field value; ${EXPECTED}`;
    if (budget.entries + v.length > MAX_FIELD_ENTRIES) return `${path}: more than ${MAX_FIELD_ENTRIES} entries in all`;
    budget.entries += v.length;
    for (let i = 0; i < v.length; i++) {
      const error = valueError(v[i], path, i, depth + 1, budget);
      if (error !== undefined) return error;
    }
    return undefined;
  }
  if (isPlainObject(v)) return tableError(v, path, depth + 1, budget);
  return `${path}: ${describeValue(v)} is not a field value; ${EXPECTED}`;
}
