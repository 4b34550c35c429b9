import { parseAvro } from './format-avro.js';
import { parseJsonSchema } from './format-json.js';
import { parseProtobuf } from './format-protobuf.js';
import { SchemaErrorCode, SchemaRegistryError } from './errors.js';
import { MAX_SCHEMA_CHARS, SCHEMA_TYPES, type ParsedSchema, type SchemaType } from './parsed-schema.js';

export {
  MAX_SCHEMA_CHARS,
  SCHEMA_TYPES,
  parseBoundedJson,
  type ParsedSchema,
  type SchemaType,
  type Violations,
} from './parsed-schema.js';

/** Parses a schema of `type`; 42201 (INVALID_SCHEMA) naming what the library refused. */
export function parseSchema(type: SchemaType, text: string): ParsedSchema {
  if (text.length > MAX_SCHEMA_CHARS)
    throw invalid(`schema is ${text.length} characters long; the limit is ${MAX_SCHEMA_CHARS}`);
  try {
    if (type === 'JSON') return parseJsonSchema(text);
    if (type === 'AVRO') return parseAvro(text);
    return parseProtobuf(text);
  } catch (err) {
    if (err instanceof SchemaRegistryError) throw err;
    throw invalid(`invalid ${type} schema: ${(err as Error).message}`);
  }
}

export function invalid(message: string): SchemaRegistryError {
  return new SchemaRegistryError(SchemaErrorCode.INVALID_SCHEMA, message);
}

/** `schemaType` of a request: absent means AVRO, as in Confluent's API. */
export function schemaTypeOf(value: unknown): SchemaType {
  if (value === undefined || value === null) return 'AVRO';
  if (typeof value === 'string' && (SCHEMA_TYPES as readonly string[]).includes(value)) return value as SchemaType;
  throw invalid(`schemaType must be one of ${SCHEMA_TYPES.join(', ')}, got ${JSON.stringify(value)?.slice(0, 64)}`);
}
