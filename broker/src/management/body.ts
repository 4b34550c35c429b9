import { FieldReader } from '../field-reader.js';
import { badField } from './http-util.js';

/**
 * Typed reads of a JSON request body, each failing with 400 naming the field. Unknown
 * fields are refused too, so a typo (`auto_delete` for `autoDelete`) is not silently ignored.
 * The reads themselves are the shared {@link FieldReader}'s.
 */
export class Body extends FieldReader {
  constructor(data: Record<string, unknown>, allowed: readonly string[]) {
    super(data, badField, { allowed });
  }
}

/** Boolean query parameters: `?ifUnused=true`. Absent = false. */
export function queryFlag(query: URLSearchParams, name: string): boolean {
  const v = query.get(name);
  if (v === null || v === 'false' || v === '0') return false;
  if (v === '' || v === 'true' || v === '1') return true;
  throw badField(name, `query parameter expects true or false, got ${JSON.stringify(v)}`);
}
