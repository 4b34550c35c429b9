import { Buffer, isUtf8 } from 'node:buffer';
import { createRequire } from 'node:module';
import type { Ajv as AjvClass, ValidateFunction } from 'ajv';
import { parseBoundedJson, type ParsedSchema, type Violations } from './parsed-schema.js';

/*
 * JSON Schema through ajv: ajv parses and compiles the schema (to a validating function,
 * once per schema id) and validates payloads. Compatibility is not something ajv knows;
 * `jsonReadIssues` compares two schemas structurally, as Confluent's JSON Schema
 * compatibility does, on the subset listed in spec/schemas.md §JSON Schema compatibility.
 */

/*
 * One ajv instance per schema (schemas are compiled once per id, so this is rare): two
 * versions sharing an `$id` cannot clash, and a schema's own `$ref: "#"` resolves. Strict
 * mode off accepts schemas written for other validators (unknown keywords are annotations,
 * as the JSON Schema specification says).
 */
const AJV_OPTIONS = { strict: false, allErrors: false, validateSchema: true } as const;

type Json = Record<string, unknown>;

const require = createRequire(import.meta.url);
let loaded: typeof AjvClass | undefined;

/** ajv, loaded the first time a JSON Schema is parsed (not at start-up). */
function ajv(): typeof AjvClass {
  return (loaded ??= (require('ajv') as { Ajv: typeof AjvClass }).Ajv);
}

/** Parses and compiles a JSON Schema; throws with ajv's reason when it is not one. */
export function parseJsonSchema(text: string): ParsedSchema {
  const schema = parseBoundedJson(text, 'schema');
  if (typeof schema !== 'object' || schema === null || Array.isArray(schema)) {
    if (typeof schema !== 'boolean') throw new Error('a JSON Schema is an object or a boolean');
  }
  const validate: ValidateFunction = new (ajv())(AJV_OPTIONS).compile(schema as Json);
  return {
    type: 'JSON',
    canonical: JSON.stringify(schema),
    validate(payload: Uint8Array): Violations {
      let value: unknown;
      try {
        // V8's JSON.parse is iterative: any depth parses. ajv descends only as deep as the
        // schema describes, except through a recursive `$ref`: that overflow is caught below.
        // Payloads are UTF-8 JSON (RFC 8259): invalid bytes are a violation, not U+FFFD.
        // isUtf8 + toString costs a tenth of a fatal TextDecoder here.
        if (!isUtf8(payload)) return ['payload is not valid UTF-8'];
        value = JSON.parse(
          Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength).toString('utf8'),
        ) as unknown;
      } catch (err) {
        return [`payload is not JSON: ${(err as Error).message}`];
      }
      try {
        if (validate(value)) return [];
      } catch (err) {
        return [`payload could not be validated: ${(err as Error).message}`];
      }
      return (validate.errors ?? []).slice(0, 3).map((e) => `${e.instancePath || '/'} ${e.message ?? 'is invalid'}`);
    },
    readIssues(writer: ParsedSchema): string[] {
      return jsonReadIssues(JSON.parse(writer.canonical) as unknown, schema, '');
    },
  };
}

/** The types a schema allows, as a set; undefined = any type. `integer` is a subset of `number`. */
function typesOf(s: Json): Set<string> | undefined {
  const t = s['type'];
  if (typeof t === 'string') return new Set([t]);
  if (Array.isArray(t)) return new Set(t.filter((x): x is string => typeof x === 'string'));
  return undefined;
}

function allows(types: Set<string>, t: string): boolean {
  return types.has(t) || (t === 'integer' && types.has('number'));
}

function describe(types: Set<string> | undefined): string {
  return types === undefined ? 'any' : [...types].join('|');
}

/**
 * What keeps a document valid under `writer` from being valid under `reader`, at `path`
 * (empty = reader accepts everything writer does, on the subset checked): type narrowed,
 * enum narrowed, property required that the writer did not require, property removed from
 * a closed content model, property added to a closed writer's data. Recurses into
 * `properties` and `items`.
 */
export function jsonReadIssues(writer: unknown, reader: unknown, path: string): string[] {
  if (reader === true || reader === undefined) return [];
  if (typeof reader !== 'object' || reader === null) return [`${path || '/'}: reader accepts nothing`];
  if (typeof writer !== 'object' || writer === null) {
    return writer === true || writer === undefined
      ? [`${path || '/'}: writer accepted anything, reader is restricted`]
      : [];
  }
  const w = writer as Json;
  const r = reader as Json;
  const issues: string[] = [];
  const at = path || '/';
  const wt = typesOf(w);
  const rt = typesOf(r);
  if (rt !== undefined) {
    const lost = wt === undefined ? ['any'] : [...wt].filter((t) => !allows(rt, t));
    if (lost.length > 0) issues.push(`${at}: type changed from ${describe(wt)} to ${describe(rt)} (narrowed)`);
  }
  if (Array.isArray(r['enum'])) {
    const re = new Set((r['enum'] as unknown[]).map((v) => JSON.stringify(v)));
    const we = Array.isArray(w['enum']) ? (w['enum'] as unknown[]).map((v) => JSON.stringify(v)) : undefined;
    if (we === undefined) issues.push(`${at}: enum added`);
    else {
      const missing = we.filter((v) => !re.has(v));
      if (missing.length > 0) issues.push(`${at}: enum values removed: ${missing.join(', ')}`);
    }
  }
  const wp = (w['properties'] ?? {}) as Json;
  const rp = (r['properties'] ?? {}) as Json;
  const wReq = new Set(Array.isArray(w['required']) ? (w['required'] as string[]) : []);
  const rReq = Array.isArray(r['required']) ? (r['required'] as string[]) : [];
  for (const name of rReq) {
    if (!wReq.has(name)) issues.push(`${path}/${name}: required by the new schema, optional or absent before`);
  }
  const rClosed = r['additionalProperties'] === false;
  const wClosed = w['additionalProperties'] === false;
  for (const [name, ws] of Object.entries(wp)) {
    if (name in rp) issues.push(...jsonReadIssues(ws, rp[name], `${path}/${name}`));
    else if (rClosed)
      issues.push(`${path}/${name}: property removed from a closed content model (additionalProperties: false)`);
  }
  for (const [name, rs] of Object.entries(rp)) {
    if (name in wp || wClosed) continue;
    // The writer's open content model may have carried this property with any value.
    if (typesOf((rs ?? {}) as Json) !== undefined)
      issues.push(`${path}/${name}: property added to an open content model (old data may hold any value there)`);
  }
  if (r['items'] !== undefined && w['items'] !== undefined)
    issues.push(...jsonReadIssues(w['items'], r['items'], `${path}/items`));
  return issues;
}
