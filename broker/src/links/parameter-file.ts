/**
 * Runtime parameters (shovels, federation upstreams and upstream sets) kept in `links.json` in the data
 * directory, so links survive a restart. A small JSON file rather than the queue store: it
 * changes only through the management API or definitions, and stays readable by operators.
 * Written to a temporary file, synced, then renamed: a crash leaves the old or the new file.
 */
import { closeSync, existsSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { join } from 'node:path';

/** One runtime parameter, in RabbitMQ's definitions shape. */
export interface RuntimeParameter {
  component: 'shovel' | 'federation-upstream' | 'federation-upstream-set';
  vhost: string;
  name: string;
  /** An object; for `federation-upstream-set`, an array of `{"upstream": ..., ...}`. */
  value: Record<string, unknown> | Record<string, unknown>[];
}

/** A stored policy, in RabbitMQ's definitions shape (federation keys only; spec/links.md). */
export interface StoredPolicy {
  vhost: string;
  name: string;
  pattern: string;
  'apply-to': string;
  priority: number;
  definition: Record<string, unknown>;
}

export const PARAMETER_FILE = 'links.json';

/** Every runtime parameter and policy of a broker (or of a cluster). */
export interface LinkParameters {
  parameters: RuntimeParameter[];
  policies: StoredPolicy[];
}

/**
 * Where the link parameters live: `links.json` in the data directory on a single broker, a KV
 * bucket shared by the nodes in a cluster (cluster/link-parameters.ts).
 */
export interface LinkParameterStore {
  read(): LinkParameters;
  /** Replaces what is stored with `all`. */
  write(all: LinkParameters): void;
  /** Another node changed the parameters (cluster only). */
  onRemoteChange?(listener: (all: LinkParameters) => void): void;
}

/** The single-broker store: `links.json` in `dataDir`. */
export function fileParameterStore(dataDir: string): LinkParameterStore {
  return {
    read: () => readParameters(dataDir),
    write: (all) => writeParameters(dataDir, all.parameters, all.policies),
  };
}

/** Reads the stored parameters and policies; empty when the file does not exist yet. */
export function readParameters(dataDir: string): LinkParameters {
  const path = join(dataDir, PARAMETER_FILE);
  if (!existsSync(path)) return { parameters: [], policies: [] };
  const parsed = JSON.parse(readFileSync(path, 'utf8')) as {
    parameters?: RuntimeParameter[];
    policies?: StoredPolicy[];
  };
  return {
    parameters: Array.isArray(parsed.parameters) ? parsed.parameters : [],
    policies: Array.isArray(parsed.policies) ? parsed.policies : [],
  };
}

/** Replaces the stored parameters and policies, durably. */
export function writeParameters(dataDir: string, parameters: RuntimeParameter[], policies: StoredPolicy[]): void {
  const path = join(dataDir, PARAMETER_FILE);
  const tmp = `${path}.tmp`;
  const fd = openSync(tmp, 'w');
  try {
    writeSync(fd, JSON.stringify({ version: 1, parameters, policies }, null, 2));
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
}
