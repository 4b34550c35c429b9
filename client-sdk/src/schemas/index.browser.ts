/**
 * Browser build of `@switchyard/client/schemas` (`dist/switchyard-schemas.browser.js`):
 * the JSON helpers and the registry client, without avsc (which needs Node's Buffer).
 * Must stay free of Node built-ins: the browser build fails on any.
 */
export {
  JsonSchemaHelpers,
  type Decodable,
  type Publisher,
  type SchemaFramed,
  type SchemaPublishOptions,
} from './json.js';
export {
  SchemaRegistryClient,
  SchemaRegistryError,
  type RegisteredSchema,
  type SchemaRegistryOptions,
  type SubjectVersion,
} from './registry-client.js';
