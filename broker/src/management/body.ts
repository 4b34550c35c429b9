import { fieldTableError, isFieldTable, isWellFormed, type FieldTable } from '@switchyard/client/protocol';
import { badField } from './http-util.js';

/**
 * Typed reads of a JSON request body, each failing with 400 naming the field. Unknown
 * fields are refused too, so a typo (`auto_delete` for `autoDelete`) is not silently ignored.
 */
export class Body {
  constructor(
    private readonly data: Record<string, unknown>,
    allowed: readonly string[],
  ) {
    for (const key of Object.keys(data)) {
      if (!allowed.includes(key)) {
        throw badField(key, `unknown field; this endpoint accepts ${allowed.length === 0 ? 'no fields' : allowed.map((a) => `"${a}"`).join(', ')}`);
      }
    }
  }

  has(field: string): boolean {
    return this.data[field] !== undefined && this.data[field] !== null;
  }

  bool(field: string, fallback: boolean): boolean {
    const v = this.data[field];
    if (v === undefined || v === null) return fallback;
    if (typeof v !== 'boolean') throw badField(field, `expected true or false, got ${describe(v)}`);
    return v;
  }

  string(field: string, fallback?: string): string {
    const v = this.data[field];
    if (v === undefined || v === null) {
      if (fallback === undefined) throw badField(field, 'required');
      return fallback;
    }
    if (typeof v !== 'string') throw badField(field, `expected a string, got ${describe(v)}`);
    // A lone surrogate (JSON "\ud800") has no UTF-8 form: stored, it would poison every frame carrying it.
    if (!isWellFormed(v)) throw badField(field, 'string is not valid Unicode (a lone surrogate)');
    return v;
  }

  int(field: string, fallback: number, min: number, max: number): number {
    const v = this.data[field];
    if (v === undefined || v === null) return fallback;
    if (!Number.isSafeInteger(v) || (v as number) < min || (v as number) > max) {
      throw badField(field, `expected an integer from ${min} to ${max}, got ${describe(v)}`);
    }
    return v as number;
  }

  choice<T extends string>(field: string, choices: readonly T[], fallback: T): T {
    const v = this.data[field];
    if (v === undefined || v === null) return fallback;
    if (typeof v !== 'string' || !(choices as readonly string[]).includes(v)) {
      throw badField(field, `expected one of ${choices.map((c) => `"${c}"`).join(', ')}, got ${describe(v)}`);
    }
    return v as T;
  }

  table(field: string): FieldTable {
    const v = this.data[field];
    if (v === undefined || v === null) return {};
    if (!isFieldTable(v)) throw badField(field, `expected a JSON object, got ${describe(v)}`);
    // AMQP field values and limits, as on the wire (spec/protocol.md §Field tables).
    const error = fieldTableError(v, field);
    if (error !== undefined) throw badField(field, error.startsWith(`${field}: `) ? error.slice(field.length + 2) : error);
    return v;
  }
}

/** A short description of a JSON value for error messages. */
export function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'object') return 'an object';
  const text = JSON.stringify(v) ?? String(v);
  return text.length > 40 ? `${text.slice(0, 40)}...` : text;
}

/** Boolean query parameters: `?ifUnused=true`. Absent = false. */
export function queryFlag(query: URLSearchParams, name: string): boolean {
  const v = query.get(name);
  if (v === null || v === 'false' || v === '0') return false;
  if (v === '' || v === 'true' || v === '1') return true;
  throw badField(name, `query parameter expects true or false, got ${JSON.stringify(v)}`);
}
