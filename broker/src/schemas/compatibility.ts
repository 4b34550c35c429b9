import { SchemaErrorCode, SchemaRegistryError } from './errors.js';
import type { ParsedSchema } from './formats.js';

/** Confluent's compatibility levels, with its names and meanings (spec/schemas.md §Compatibility). */
export const COMPATIBILITY_LEVELS = [
  'BACKWARD',
  'BACKWARD_TRANSITIVE',
  'FORWARD',
  'FORWARD_TRANSITIVE',
  'FULL',
  'FULL_TRANSITIVE',
  'NONE',
] as const;
export type CompatibilityLevel = (typeof COMPATIBILITY_LEVELS)[number];

export function compatibilityLevelOf(value: unknown): CompatibilityLevel {
  if (typeof value === 'string' && (COMPATIBILITY_LEVELS as readonly string[]).includes(value.toUpperCase()))
    return value.toUpperCase() as CompatibilityLevel;
  throw new SchemaRegistryError(
    SchemaErrorCode.INVALID_COMPATIBILITY_LEVEL,
    `Invalid compatibility level ${JSON.stringify(value)?.slice(0, 64)}; use one of ${COMPATIBILITY_LEVELS.join(', ')}`,
  );
}

/**
 * What makes `candidate` incompatible with the existing versions under `level` (empty =
 * compatible). `previous` is oldest first. BACKWARD: the new schema reads data written with
 * the latest version; FORWARD: the latest version reads data written with the new one; FULL:
 * both. The `_TRANSITIVE` levels check every earlier version instead of the latest only.
 */
export function compatibilityIssues(
  level: CompatibilityLevel,
  candidate: ParsedSchema,
  previous: readonly { version: number; schema: ParsedSchema }[],
): string[] {
  if (level === 'NONE' || previous.length === 0) return [];
  const against = level.endsWith('_TRANSITIVE') ? previous : previous.slice(-1);
  const backward = level.startsWith('BACKWARD') || level.startsWith('FULL');
  const forward = level.startsWith('FORWARD') || level.startsWith('FULL');
  const issues: string[] = [];
  for (const { version, schema } of against) {
    if (schema.type !== candidate.type) {
      issues.push(`version ${version}: schema type ${schema.type} -> ${candidate.type}`);
      continue;
    }
    if (backward)
      for (const m of candidate.readIssues(schema)) issues.push(`version ${version} (new reads old, backward): ${m}`);
    if (forward)
      for (const m of schema.readIssues(candidate)) issues.push(`version ${version} (old reads new, forward): ${m}`);
  }
  return issues;
}
