import { FieldReader } from '../field-reader.js';
import { COMPATIBILITY_LEVELS, compatibilityLevelOf, type CompatibilityLevel } from './compatibility.js';
import { schemaTypeOf, type SchemaType } from './formats.js';
import type { SchemaRegistry } from './registry.js';

/**
 * The `schemas` section of a definitions document (spec/schemas.md §Definitions): the
 * global level and every subject with its live versions, ids kept.
 */
export interface SchemasSection {
  compatibility: CompatibilityLevel;
  subjects: {
    subject: string;
    compatibility?: CompatibilityLevel;
    versions: { version: number; id: number; schemaType: SchemaType; schema: string }[];
  }[];
}

/** The registry as a definitions section; undefined when it holds nothing worth exporting. */
export function exportSchemas(registry: SchemaRegistry): SchemasSection | undefined {
  const all = registry.exportAll();
  const byId = new Map(all.schemas.map((s) => [s.id, s]));
  const subjects = all.subjects
    .map((s) => ({
      subject: s.subject,
      ...(s.compatibility === undefined ? {} : { compatibility: s.compatibility }),
      versions: s.versions
        .filter((v) => !v.deleted)
        .map((v) => ({
          version: v.version,
          id: v.id,
          schemaType: byId.get(v.id)!.schemaType,
          schema: byId.get(v.id)!.schema,
        })),
    }))
    .filter((s) => s.versions.length > 0 || s.compatibility !== undefined);
  if (subjects.length === 0 && all.compatibility === 'BACKWARD') return undefined;
  return { compatibility: all.compatibility, subjects };
}

/**
 * Imports a `schemas` section: the global level, each subject's level, each version under its
 * id (no compatibility check, as Confluent's import mode). `fail(path, message)` makes the
 * caller's error naming the entry. Returns the versions imported.
 */
export function importSchemas(
  registry: SchemaRegistry,
  value: unknown,
  fail: (path: string, message: string) => Error,
): number {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw fail('schemas', 'expected an object');
  const section = new FieldReader(value as Record<string, unknown>, fail, {
    path: 'schemas',
    allowed: ['compatibility', 'subjects'],
  });
  const global = section.choice('compatibility', COMPATIBILITY_LEVELS, 'BACKWARD');
  const subjects = (value as { subjects?: unknown }).subjects ?? [];
  if (!Array.isArray(subjects)) throw fail('schemas.subjects', 'expected an array');
  let versions = 0;
  const wrap = (path: string, fn: () => void): void => {
    try {
      fn();
    } catch (err) {
      throw fail(path, (err as Error).message);
    }
  };
  subjects.forEach((entry: unknown, i) => {
    const path = `schemas.subjects[${i}]`;
    if (typeof entry !== 'object' || entry === null) throw fail(path, 'expected an object');
    const r = new FieldReader(entry as Record<string, unknown>, fail, {
      path,
      allowed: ['subject', 'compatibility', 'versions'],
    });
    const subject = r.string('subject');
    const list = (entry as { versions?: unknown }).versions ?? [];
    if (!Array.isArray(list)) throw fail(`${path}.versions`, 'expected an array');
    list.forEach((v: unknown, j) => {
      const vpath = `${path}.versions[${j}]`;
      if (typeof v !== 'object' || v === null) throw fail(vpath, 'expected an object');
      const vr = new FieldReader(v as Record<string, unknown>, fail, {
        path: vpath,
        allowed: ['version', 'id', 'schemaType', 'schema'],
      });
      const version = vr.int('version', 0, 1, 2 ** 31 - 1);
      const id = vr.int('id', 0, 1, 2 ** 31 - 1);
      if (version === 0 || id === 0) throw fail(vpath, 'version and id are required');
      const schema = vr.string('schema');
      wrap(vpath, () =>
        registry.importVersion(subject, version, id, schemaTypeOf((v as { schemaType?: unknown }).schemaType), schema),
      );
      versions++;
    });
    const level = (entry as { compatibility?: unknown }).compatibility;
    if (level !== undefined)
      wrap(`${path}.compatibility`, () => registry.setConfig(subject, compatibilityLevelOf(level)));
  });
  registry.setConfig(undefined, global);
  return versions;
}
