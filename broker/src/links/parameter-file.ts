/**
 * Runtime parameters (shovels, federation upstreams) kept in `links.json` in the data
 * directory, so links survive a restart. A small JSON file rather than the queue store: it
 * changes only through the management API or definitions, and stays readable by operators.
 * Written to a temporary file, synced, then renamed: a crash leaves the old or the new file.
 */
import { closeSync, existsSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { join } from 'node:path';

/** One runtime parameter, in RabbitMQ's definitions shape. */
export interface RuntimeParameter {
  component: 'shovel' | 'federation-upstream';
  vhost: string;
  name: string;
  value: Record<string, unknown>;
}

export const PARAMETER_FILE = 'links.json';

/** Reads the stored parameters; [] when the file does not exist yet. */
export function readParameters(dataDir: string): RuntimeParameter[] {
  const path = join(dataDir, PARAMETER_FILE);
  if (!existsSync(path)) return [];
  const parsed = JSON.parse(readFileSync(path, 'utf8')) as { parameters?: RuntimeParameter[] };
  return Array.isArray(parsed.parameters) ? parsed.parameters : [];
}

/** Replaces the stored parameters, durably. */
export function writeParameters(dataDir: string, parameters: RuntimeParameter[]): void {
  const path = join(dataDir, PARAMETER_FILE);
  const tmp = `${path}.tmp`;
  const fd = openSync(tmp, 'w');
  try {
    writeSync(fd, JSON.stringify({ version: 1, parameters }, null, 2));
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
}
