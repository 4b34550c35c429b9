/** The wire protocol, shared by the broker and the SDK: frame types, codec, errors, limits. */
export * from './errors.js';
export * from './limits.js';
export * from './frames.js';
export * from './properties.js';
export * from './codec.js';
export * from './field-table.js';
export * from './exchange-types.js';
export * from './tag-ring.js';
// Shared by the broker's Avro validation and the SDK's schema helpers (hostile Avro bodies).
export { boundAvroBlocks } from './avro-bounds.js';
