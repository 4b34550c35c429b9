import { fieldTableError, isFieldTable, isWellFormed, type FieldTable } from '@switchyard/client/protocol';

/**
 * Typed reads of untrusted JSON-shaped input — a management request body, a definitions
 * document's entries, a config file — each failure naming the field, in one wording
 * everywhere (`expected true or false, got "yes"`). Pure: the caller says how a failure is
 * raised (HTTP 400, DefinitionsError, ConfigError).
 */

/** Builds the caller's error for a field (`queues[2].durable`) and what is wrong with it. */
export type FieldFailure = (field: string, message: string) => Error;

/** A short description of a JSON value for error messages. */
export function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'object') return 'an object';
  const text = JSON.stringify(v) ?? typeof v; // undefined, a function or a symbol
  return text.length > 40 ? `${text.slice(0, 40)}...` : text;
}

/** `'expected true or false'` unless `v` is a boolean. */
export function boolProblem(v: unknown): string | undefined {
  return typeof v === 'boolean' ? undefined : 'expected true or false';
}

/** `'expected a list of strings'` unless `v` is an array of strings. */
export function stringListProblem(v: unknown): string | undefined {
  return Array.isArray(v) && v.every((x) => typeof x === 'string') ? undefined : 'expected a list of strings';
}

/** `'expected an integer'` (or `'... from min to max'` when bounded) unless `v` is a safe integer in range. */
export function intProblem(
  v: unknown,
  min = Number.MIN_SAFE_INTEGER,
  max = Number.MAX_SAFE_INTEGER,
): string | undefined {
  if (Number.isSafeInteger(v) && (v as number) >= min && (v as number) <= max) return undefined;
  return min === Number.MIN_SAFE_INTEGER && max === Number.MAX_SAFE_INTEGER
    ? 'expected an integer'
    : `expected an integer from ${min} to ${max}`;
}

/** Options of a {@link FieldReader}. */
export interface FieldReaderOptions {
  /** Keys the input may have; any other is refused (a typo must not be silently ignored). */
  allowed?: readonly string[];
  /** How a key is named in errors (default: the key itself), e.g. `queues[2].durable`. */
  path?: string;
  /**
   * Whether JSON `null` reads as absent (the default). Definitions keep RabbitMQ's shape
   * strictly: there `null` is refused, except for tables and lists.
   */
  nullIsAbsent?: boolean;
}

/** Reads typed fields of one JSON object; every failure goes through `fail`. */
export class FieldReader {
  private readonly nullIsAbsent: boolean;
  private readonly prefix: string;

  constructor(
    private readonly data: Record<string, unknown>,
    private readonly fail: FieldFailure,
    options: FieldReaderOptions = {},
  ) {
    this.nullIsAbsent = options.nullIsAbsent ?? true;
    this.prefix = options.path === undefined ? '' : `${options.path}.`;
    const allowed = options.allowed;
    if (allowed !== undefined) {
      for (const key of Object.keys(data)) {
        if (!allowed.includes(key)) {
          throw this.error(
            key,
            `unknown field; this endpoint accepts ${allowed.length === 0 ? 'no fields' : allowed.map((a) => `"${a}"`).join(', ')}`,
          );
        }
      }
    }
  }

  /** The field as errors name it. */
  name(key: string): string {
    return this.prefix + key;
  }

  /** An error for `key`, raised the caller's way. */
  error(key: string, message: string): Error {
    return this.fail(this.name(key), message);
  }

  has(key: string): boolean {
    return this.data[key] !== undefined && this.data[key] !== null;
  }

  private absent(v: unknown): boolean {
    return v === undefined || (v === null && this.nullIsAbsent);
  }

  bool(key: string, fallback: boolean): boolean {
    const v = this.data[key];
    if (this.absent(v)) return fallback;
    const problem = boolProblem(v);
    if (problem !== undefined) throw this.error(key, `${problem}, got ${describe(v)}`);
    return v as boolean;
  }

  /** A string (valid Unicode); required when there is no fallback. */
  string(key: string, fallback?: string): string {
    const v = this.data[key];
    if (this.absent(v)) {
      if (fallback === undefined) throw this.error(key, 'required');
      return fallback;
    }
    if (typeof v !== 'string') throw this.error(key, `expected a string, got ${describe(v)}`);
    // A lone surrogate (JSON "\ud800") has no UTF-8 form: stored, it would poison every frame carrying it.
    if (!isWellFormed(v)) throw this.error(key, 'string is not valid Unicode (a lone surrogate)');
    return v;
  }

  int(key: string, fallback: number, min: number, max: number): number {
    const v = this.data[key];
    if (this.absent(v)) return fallback;
    const problem = intProblem(v, min, max);
    if (problem !== undefined) throw this.error(key, `${problem}, got ${describe(v)}`);
    return v as number;
  }

  choice<T extends string>(key: string, choices: readonly T[], fallback: T): T {
    const v = this.data[key];
    if (this.absent(v)) return fallback;
    if (typeof v !== 'string' || !(choices as readonly string[]).includes(v)) {
      throw this.error(key, `expected one of ${choices.map((c) => `"${c}"`).join(', ')}, got ${describe(v)}`);
    }
    return v as T;
  }

  /**
   * A list of strings, or one comma-separated string (RabbitMQ writes user tags as a list
   * since 3.9, as `"a,b"` before); absent or null is `[]`.
   */
  list(key: string): string[] {
    const v = this.data[key];
    if (v === undefined || v === null) return [];
    if (typeof v === 'string')
      return v
        .split(',')
        .map((t) => t.trim())
        .filter(Boolean);
    const problem = stringListProblem(v);
    if (problem !== undefined) throw this.error(key, `${problem}, got ${describe(v)}`);
    return v as string[];
  }

  /** An AMQP field table (spec/protocol.md §Field tables); absent or null is `{}`. */
  table(key: string): FieldTable {
    const v = this.data[key];
    if (v === undefined || v === null) return {};
    if (!isFieldTable(v)) throw this.error(key, `expected a JSON object, got ${describe(v)}`);
    const name = this.name(key);
    const error = fieldTableError(v, name);
    if (error !== undefined)
      throw this.fail(name, error.startsWith(`${name}: `) ? error.slice(name.length + 2) : error);
    return v;
  }

  /** A value checked by `check`, whose error becomes one naming the field. */
  checked<T>(key: string, check: () => T): T {
    try {
      return check();
    } catch (err) {
      throw this.error(key, (err as Error).message);
    }
  }
}
