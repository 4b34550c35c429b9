import type { SchemaType } from './formats.js';
import type { SchemaRegistry } from './registry.js';

/**
 * A registry change as data, so a cluster can order it in a shared log and every node apply
 * it to its registry with the same outcome (spec/schemas.md §Storage).
 */
export type SchemaChange =
  | { op: 'register'; subject: string; schemaType: SchemaType; schema: string }
  | { op: 'deleteSubject'; subject: string; permanent: boolean }
  | { op: 'deleteVersion'; subject: string; version: string | number; permanent: boolean }
  | { op: 'setConfig'; subject?: string; level: unknown }
  | { op: 'deleteConfig'; subject: string };

/** Applies `change` to `registry`: the registration's id, the deleted versions or the level. */
export function applySchemaChange(registry: SchemaRegistry, change: SchemaChange): unknown {
  switch (change.op) {
    case 'register':
      return registry.register(change.subject, change.schemaType, change.schema);
    case 'deleteSubject':
      return registry.deleteSubject(change.subject, change.permanent);
    case 'deleteVersion':
      return registry.deleteVersion(change.subject, change.version, change.permanent);
    case 'setConfig':
      return registry.setConfig(change.subject, change.level);
    case 'deleteConfig':
      return registry.deleteConfig(change.subject);
  }
}
