import { createRequire } from 'node:module';
import { boundAvroBlocks } from '@switchyard/client/protocol';
import type avro from 'avsc';
import { parseBoundedJson, type ParsedSchema, type Violations } from './parsed-schema.js';

/*
 * Avro through avsc: avsc parses the schema, decodes payloads (a decode that fails or leaves
 * bytes over is a violation) and decides compatibility with its schema resolution
 * (`reader.createResolver(writer)` throws when the writer's data cannot be read), which
 * follows the Avro specification's resolution rules as Confluent's Avro compatibility does.
 */

const require = createRequire(import.meta.url);
let loaded: typeof avro | undefined;

/**
 * avsc, loaded the first time an Avro schema is parsed: a broker that never sees one does not
 * pay for it at start-up (spec/semantics.md §Deep backlogs, "Start-up loads only what it needs").
 */
function avsc(): typeof avro {
  if (loaded === undefined) {
    const lib = require('avsc') as typeof avro;
    // A 7-byte message claiming a 2^31-item array would otherwise exhaust the broker's heap.
    boundAvroBlocks(lib);
    loaded = lib;
  }
  return loaded;
}

/** Parses an Avro schema (JSON text: a record, a primitive name, a union...). */
export function parseAvro(text: string): ParsedSchema {
  const json = parseBoundedJson(text, 'schema');
  const type = avsc().Type.forSchema(json as avro.Schema);
  return {
    type: 'AVRO',
    // avsc's canonical form (Avro's Parsing Canonical Form, plus defaults kept by schema()).
    canonical: JSON.stringify(type.schema()),
    validate(payload: Uint8Array): Violations {
      try {
        type.fromBuffer(Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength));
        return [];
      } catch (err) {
        return [`payload is not ${type.name ?? type.typeName} in Avro binary encoding: ${(err as Error).message}`];
      }
    },
    readIssues(writer: ParsedSchema): string[] {
      const writerType = avsc().Type.forSchema(JSON.parse(writer.canonical) as avro.Schema);
      try {
        type.createResolver(writerType);
        return [];
      } catch (err) {
        const fields = fieldIssues(writerType, type, '');
        return fields.length > 0 ? fields : [(err as Error).message];
      }
    },
  };
}

/** Whether avsc can resolve `writer` data with `reader`. */
function resolves(writer: avro.Type, reader: avro.Type): boolean {
  try {
    reader.createResolver(writer);
    return true;
  } catch {
    return false;
  }
}

function typeName(t: avro.Type): string {
  return t.typeName === 'record' || t.typeName === 'enum' || t.typeName === 'fixed'
    ? (t.name ?? t.typeName)
    : t.typeName;
}

/**
 * Names the fields that break resolution, walking records pairwise (avsc's own message names
 * the type, not the field): `field /a/b: type int -> string`, `field /c added without a default`.
 */
function fieldIssues(writer: avro.Type, reader: avro.Type, path: string): string[] {
  if (!(writer instanceof avsc().types.RecordType) || !(reader instanceof avsc().types.RecordType)) {
    if (resolves(writer, reader)) return [];
    if (writer instanceof avsc().types.EnumType && reader instanceof avsc().types.EnumType) {
      const missing = writer.symbols.filter((s) => !reader.symbols.includes(s));
      return [`${path || '/'}: enum symbols ${missing.join(', ')} missing from the reader's enum (no default)`];
    }
    return [`${path || '/'}: type ${typeName(writer)} -> ${typeName(reader)} cannot be resolved`];
  }
  const issues: string[] = [];
  for (const rf of reader.fields) {
    const wf = writer.fields.find((f) => f.name === rf.name || (rf.aliases ?? []).includes(f.name));
    const at = `${path}/${rf.name}`;
    if (wf === undefined) {
      if (rf.defaultValue() === undefined)
        issues.push(`field ${at} added without a default (type ${typeName(rf.type)})`);
    } else issues.push(...fieldIssues(wf.type, rf.type, at).map((m) => (m.startsWith('field ') ? m : `field ${m}`)));
  }
  return issues;
}
