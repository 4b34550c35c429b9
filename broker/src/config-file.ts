import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { extname } from 'node:path';
import type { parse as yamlParse } from 'yaml';
import { DEFAULTS, resolveOptions, type BrokerOptions } from './config.js';
import { boolProblem, intProblem, stringListProblem } from './field-reader.js';

/**
 * Server configuration from three layers over the defaults, highest first:
 * command-line flags > environment variables (`SWITCHYARD_*`) > a config file (JSON or
 * YAML) > {@link DEFAULTS}. Every value is checked with a message naming where the bad key
 * came from. The keys are listed in spec/management.md §Configuration.
 */

/** A configuration value that is unusable; the message names the key and its source. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

type Kind = 'int' | 'number' | 'bool' | 'string' | 'list' | 'port-or-false';

/** Settable keys and how values are read; derived from DEFAULTS so new tunables join by themselves. */
export const CONFIG_KEYS: Readonly<Record<string, Kind>> = {
  ...Object.fromEntries(
    Object.entries(DEFAULTS).map(
      ([k, v]) => [k, typeof v === 'number' ? 'int' : typeof v === 'boolean' ? 'bool' : 'string'] as const,
    ),
  ),
  managementPort: 'port-or-false',
  amqpPort: 'port-or-false',
  amqpsPort: 'int',
  definitions: 'string',
  memoryHighWatermark: 'number',
  tokenSecret: 'string',
  clusterName: 'string',
  allowedOrigins: 'list',
  // TLS as three flat keys (files and env vars cannot nest); turned into the `tls` option.
  tlsCertFile: 'string',
  tlsKeyFile: 'string',
  tlsCaFile: 'string',
  // The cluster as two flat keys (like TLS), turned into the `cluster` option.
  cluster: 'list',
  nodeName: 'string',
  leaseTtlMs: 'int',
};

/** Folds the flat cluster keys (`cluster`: list of URLs, `nodeName`) into the `cluster` option. */
function foldCluster(options: Record<string, unknown>, origins: Record<string, string>): void {
  const servers = options['cluster'];
  const nodeName = options['nodeName'];
  const leaseTtlMs = options['leaseTtlMs'];
  delete options['nodeName'];
  delete options['leaseTtlMs'];
  if (servers === undefined) {
    if (nodeName !== undefined) throw new ConfigError(`${origins['nodeName']}: nodeName needs cluster`);
    if (leaseTtlMs !== undefined) throw new ConfigError(`${origins['leaseTtlMs']}: leaseTtlMs needs cluster`);
    return;
  }
  if (typeof servers === 'object' && !Array.isArray(servers)) return; // already { servers, nodeName }
  const list = typeof servers === 'string' ? servers.split(',').map((s) => s.trim()) : servers;
  options['cluster'] = {
    servers: list,
    ...(nodeName !== undefined ? { nodeName } : {}),
    ...(leaseTtlMs !== undefined ? { leaseTtlMs } : {}),
  };
}

/** Folds the flat tls* keys into the broker's `tls` option. */
function foldTls(options: Record<string, unknown>, origins: Record<string, string>): void {
  const cert = options['tlsCertFile'];
  const key = options['tlsKeyFile'];
  const ca = options['tlsCaFile'];
  delete options['tlsCertFile'];
  delete options['tlsKeyFile'];
  delete options['tlsCaFile'];
  if (cert === undefined && key === undefined) {
    if (ca !== undefined) throw new ConfigError(`${origins['tlsCaFile']}: tlsCaFile needs tlsCertFile and tlsKeyFile`);
    return;
  }
  if (cert === undefined || key === undefined) {
    throw new ConfigError(
      `${origins[cert === undefined ? 'tlsKeyFile' : 'tlsCertFile']}: TLS needs both tlsCertFile and tlsKeyFile`,
    );
  }
  options['tls'] = { certFile: cert, keyFile: key, ...(ca !== undefined ? { caFile: ca } : {}) };
  origins['tls'] = origins['tlsCertFile']!;
}

/** Environment variables the CLI's client commands read; the server ignores them quietly. */
const CLIENT_ENV = new Set([
  'SWITCHYARD_URL',
  'SWITCHYARD_USER',
  'SWITCHYARD_PASSWORD',
  'SWITCHYARD_VHOST',
  'SWITCHYARD_CONFIG',
  'SWITCHYARD_TIMEOUT',
]);

/** `managementPort` → `SWITCHYARD_MANAGEMENT_PORT`. */
export function envName(key: string): string {
  return 'SWITCHYARD_' + key.replace(/[A-Z]/g, (c) => '_' + c).toUpperCase();
}

/** `management-port`, `management_port` and `managementPort` all name `managementPort`. */
function normalizeKey(key: string): string {
  return key.replace(/[-_]+([a-zA-Z0-9])/g, (_, c: string) => c.toUpperCase());
}

export interface ServerConfigSources {
  /** Flags given on the command line (only those given: defaults are applied last). */
  flags?: BrokerOptions;
  /** Environment; SWITCHYARD_* variables are read. */
  env?: Record<string, string | undefined>;
  /** Config file path; when absent, SWITCHYARD_CONFIG names one. */
  configFile?: string;
}

export interface ServerConfig {
  options: BrokerOptions;
  /** Where each set key came from, for logs and errors. */
  origins: Record<string, string>;
  /** Non-fatal findings: unknown SWITCHYARD_* variables. */
  warnings: string[];
}

/** Merges flags > env > file over the defaults and validates the result. Throws ConfigError. */
export function loadServerConfig(sources: ServerConfigSources): ServerConfig {
  const env = sources.env ?? {};
  const options: Record<string, unknown> = {};
  const origins: Record<string, string> = {};
  const warnings: string[] = [];
  const file = sources.configFile ?? nonEmpty(env['SWITCHYARD_CONFIG']);
  if (file !== undefined) {
    for (const [key, value] of Object.entries(readConfigFile(file))) {
      options[key] = value;
      origins[key] = `config file '${file}': key "${key}"`;
    }
  }
  for (const [name, raw] of Object.entries(env)) {
    if (!name.startsWith('SWITCHYARD_') || raw === undefined || raw === '' || CLIENT_ENV.has(name)) continue;
    const key = Object.keys(CONFIG_KEYS).find((k) => envName(k) === name);
    if (key === undefined) {
      warnings.push(`ignoring unknown environment variable ${name}`);
      continue;
    }
    options[key] = fromEnv(name, CONFIG_KEYS[key]!, raw);
    origins[key] = `environment variable ${name}`;
  }
  for (const [key, value] of Object.entries(sources.flags ?? {})) {
    if (value === undefined) continue;
    options[key] = value;
    origins[key] = `option --${key.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase())}`;
  }
  foldTls(options, origins);
  foldCluster(options, origins);
  try {
    resolveOptions(options);
  } catch (err) {
    const m = /^(?:Invalid|Unknown) option "([^"]+)":?\s*(.*)$/s.exec((err as Error).message);
    if (m !== null && origins[m[1]!] !== undefined)
      throw new ConfigError(`${origins[m[1]!]}: ${m[2] || 'not allowed'}`);
    throw new ConfigError((err as Error).message);
  }
  return { options: options, origins, warnings };
}

/** Reads a JSON or YAML config file (by extension; otherwise JSON, then YAML) into checked, normalized keys. */
export function readConfigFile(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(
      `cannot read config file '${file}': ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}`,
    );
  }
  const ext = extname(file).toLowerCase();
  let data: unknown;
  try {
    data = ext === '.json' ? JSON.parse(text) : parseYaml(text); // YAML is a superset of JSON
  } catch (err) {
    throw new ConfigError(
      `config file '${file}' is not valid ${ext === '.json' ? 'JSON' : 'YAML or JSON'}: ${(err as Error).message.split('\n')[0]}`,
    );
  }
  if (data === null || data === undefined) return {};
  if (typeof data !== 'object' || Array.isArray(data))
    throw new ConfigError(`config file '${file}': expected a mapping of settings at the top level`);
  const out: Record<string, unknown> = {};
  for (const [written, value] of Object.entries(data as Record<string, unknown>)) {
    const key = normalizeKey(written);
    const kind = CONFIG_KEYS[key];
    if (kind === undefined) {
      const hint = suggest(key);
      throw new ConfigError(
        `config file '${file}': unknown key "${written}"${hint === undefined ? '' : ` (did you mean "${hint}"?)`}; known keys: ${Object.keys(CONFIG_KEYS).join(', ')}`,
      );
    }
    const problem = checkKind(kind, value);
    if (problem !== undefined)
      throw new ConfigError(`config file '${file}': key "${written}": ${problem}, got ${JSON.stringify(value)}`);
    out[key] = value;
  }
  return out;
}

/** What is wrong with a config file value of `kind`, in the wording of the shared field reader. */
function checkKind(kind: Kind, v: unknown): string | undefined {
  switch (kind) {
    case 'int':
      return intProblem(v);
    case 'number':
      return typeof v === 'number' && Number.isFinite(v) ? undefined : 'expected a number';
    case 'list':
      return stringListProblem(v);
    case 'port-or-false':
      return Number.isSafeInteger(v) || v === false ? undefined : 'expected a port number or false';
    case 'bool':
      return boolProblem(v);
    case 'string':
      return typeof v === 'string' && v !== '' ? undefined : 'expected a non-empty string';
  }
}

function fromEnv(name: string, kind: Kind, raw: string): unknown {
  const v = raw.trim();
  switch (kind) {
    case 'string':
      return raw;
    case 'list':
      return raw
        .split(',')
        .map((x) => x.trim())
        .filter(Boolean);
    case 'number': {
      const n = Number(v);
      if (v === '' || !Number.isFinite(n))
        throw new ConfigError(`environment variable ${name}: expected a number, got ${JSON.stringify(raw)}`);
      return n;
    }
    case 'bool':
      if (/^(true|1|yes|on)$/i.test(v)) return true;
      if (/^(false|0|no|off)$/i.test(v)) return false;
      throw new ConfigError(`environment variable ${name}: expected true or false, got ${JSON.stringify(raw)}`);
    case 'port-or-false':
      if (/^(false|off|none|disabled)$/i.test(v)) return false;
      return envInt(name, raw, ' or false');
    case 'int':
      return envInt(name, raw, '');
  }
}

function envInt(name: string, raw: string, alternative: string): number {
  if (/^-?\d+$/.test(raw.trim())) return Number(raw.trim());
  throw new ConfigError(`environment variable ${name}: expected an integer${alternative}, got ${JSON.stringify(raw)}`);
}

function nonEmpty(v: string | undefined): string | undefined {
  return v === undefined || v === '' ? undefined : v;
}

/** The known key closest to a misspelt one (edit distance ≤ 2). */
function suggest(key: string): string | undefined {
  let best: string | undefined;
  let bestDistance = 3;
  for (const k of Object.keys(CONFIG_KEYS)) {
    const d = distance(key.toLowerCase(), k.toLowerCase());
    if (d < bestDistance) [best, bestDistance] = [k, d];
  }
  return best;
}

function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return row[b.length]!;
}

/** The yaml package, loaded only when a YAML config file is read (not at every start-up). */
function parseYaml(text: string): unknown {
  const { parse } = createRequire(import.meta.url)('yaml') as { parse: typeof yamlParse };
  return parse(text);
}
