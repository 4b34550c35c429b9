import type { Logger } from '../logging.js';
import type { SchemaRecordStore } from './registry.js';

/**
 * The broker store's schema records, when the store keeps them (LMDB and memory stores do);
 * otherwise records held in memory only, with a warning: the registry works but is lost at
 * restart (a store plugged in through the `store` option that predates the registry).
 */
export function schemaRecordsOf(store: object, logger: Logger): SchemaRecordStore {
  const s = store as Partial<SchemaRecordStore>;
  if (
    typeof s.loadSchemaRecords === 'function' &&
    typeof s.putSchemaRecord === 'function' &&
    typeof s.removeSchemaRecord === 'function'
  )
    return s as SchemaRecordStore;
  logger.warn('this store keeps no schema records: the schema registry lives in memory and is lost at restart', {
    component: 'schemas',
  });
  const records = new Map<string, unknown>();
  return {
    loadSchemaRecords: () => [...records],
    putSchemaRecord: (key, value) => records.set(key, structuredClone(value)),
    removeSchemaRecord: (key) => records.delete(key),
  };
}
