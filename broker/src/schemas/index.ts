// The schema registry (spec/schemas.md): pure logic, used by the management API, the CLI
// and exchanges that validate what is published to them.
export {
  SchemaRegistry,
  versionNumber,
  type SchemaRecordStore,
  type SchemaRecord,
  type SubjectVersion,
} from './registry.js';
export { SchemaRegistryError, SchemaErrorCode } from './errors.js';
export { compatibilityIssues, COMPATIBILITY_LEVELS, type CompatibilityLevel } from './compatibility.js';
export { isJsonContentType } from './exchange-gate.js';
export { parseSchema, SCHEMA_TYPES, type ParsedSchema, type SchemaType } from './formats.js';
