/* Types shared by the registry and the format modules (ajv, avsc, protobufjs behind each). */

/** The schema types of the Confluent Schema Registry (`schemaType`; absent = AVRO). */
export const SCHEMA_TYPES = ['AVRO', 'JSON', 'PROTOBUF'] as const;
export type SchemaType = (typeof SCHEMA_TYPES)[number];

/** Largest schema text the registry accepts: a bounded refusal for hostile input. */
export const MAX_SCHEMA_CHARS = 256 * 1024;

/** What a payload check finds: nothing (valid) or the first violations, already worded. */
export type Violations = string[];

/**
 * A schema parsed and compiled by its format's library (ajv, avsc, protobufjs): compiled
 * once per schema id and cached (spec/schemas.md §Enforcement).
 */
export interface ParsedSchema {
  readonly type: SchemaType;
  /** The text as registered, normalised (identical schemas compare equal). */
  readonly canonical: string;
  /**
   * Checks a serialized payload: JSON text for JSON Schema, the Avro binary encoding, or a
   * Protobuf message of the schema's first message type (`messageIndex` picks another).
   */
  validate(payload: Uint8Array, messageIndexes?: number[]): Violations;
  /**
   * What keeps data written with `writer` from being read with this schema (empty =
   * compatible): each entry names the field, the old type and the new type.
   */
  readIssues(writer: ParsedSchema): string[];
}

/** Parses JSON text, refusing nesting deeper than `maxDepth` (hostile input stays bounded). */
export function parseBoundedJson(text: string, what: string, maxDepth = 64): unknown {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 92)
        i++; // backslash: skip the escaped char
      else if (c === 34) inString = false;
    } else if (c === 34) inString = true;
    else if (c === 123 || c === 91) max = Math.max(max, ++depth);
    else if (c === 125 || c === 93) depth--;
  }
  if (max > maxDepth) throw new Error(`${what} nests ${max} levels deep; the limit is ${maxDepth}`);
  return JSON.parse(text) as unknown;
}
