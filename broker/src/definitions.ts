import { readFile } from 'node:fs/promises';
import { isFieldTable, type FieldTable } from '@switchyard/client/protocol';
import { exportedHashOf, storedHashOf, type HashingAlgorithm } from './auth/password.js';
import { checkPermissionSpec } from './auth/permissions.js';
import type { BrokerHost as Broker } from './broker-host.js';
import { exportSchemas, importSchemas, type SchemasSection } from './schemas/definitions-section.js';
import { FieldReader } from './field-reader.js';
import type { RuntimeParameter, StoredPolicy } from './links/parameter-file.js';
import { LinkParameterError } from './links/shovel-params.js';
import type { Binding } from './routing/binding.js';
import { VERSION } from './version.js';
import { checkQueueLimit } from './vhost/queue-limit.js';
import type { VirtualHost } from './vhost/virtual-host.js';

/**
 * Definitions: vhosts, users (with their password hashes), permissions and the topology
 * (exchanges, queues, bindings) as one JSON document, in RabbitMQ's definitions format
 * (snake_case keys), so a file exported from RabbitMQ imports here and back. Shovel,
 * federation-upstream and federation-upstream-set parameters and federation policies are imported and exported
 * (spec/links.md); other policies and global parameters are reported as skipped.
 * spec/management.md §Definitions.
 */

export interface UserDef {
  name: string;
  password_hash: string;
  hashing_algorithm: HashingAlgorithm;
  tags: string[];
}

export interface PermissionDef {
  user: string;
  vhost: string;
  configure: string;
  write: string;
  read: string;
}

export interface ExchangeDef {
  name: string;
  vhost: string;
  type: string;
  durable: boolean;
  auto_delete: boolean;
  internal: boolean;
  arguments: FieldTable;
}

export interface QueueDef {
  name: string;
  vhost: string;
  durable: boolean;
  auto_delete: boolean;
  arguments: FieldTable;
}

export interface BindingDef {
  source: string;
  vhost: string;
  destination: string;
  destination_type: 'queue' | 'exchange';
  routing_key: string;
  arguments: FieldTable;
}

export interface DefinitionsDocument {
  switchyard_version: string;
  users: UserDef[];
  vhosts: { name: string }[];
  permissions: PermissionDef[];
  exchanges: ExchangeDef[];
  queues: QueueDef[];
  bindings: BindingDef[];
  /** The schema registry (spec/schemas.md §Definitions); absent when it is empty. */
  schemas?: SchemasSection;
  /** RabbitMQ's runtime parameters: shovels, federation upstreams (spec/links.md); present when there are any. */
  parameters?: RuntimeParameter[];
  /** RabbitMQ's policies (federation keys only, spec/links.md); present when there are any. */
  policies?: StoredPolicy[];
}

export interface ImportResult {
  users: number;
  vhosts: number;
  permissions: number;
  exchanges: number;
  queues: number;
  bindings: number;
  /** Schema versions imported (only when the document has a `schemas` section). */
  schemas?: number;
  /** Runtime parameters (shovels, federation upstreams) set. */
  parameters: number;
  /** Policies set (federation keys only). */
  policies?: number;
  /** Sections and entries not imported, with why. */
  skipped: string[];
}

/** A definitions document that cannot be imported; `path` names the bad entry (`queues[2].durable`). */
export class DefinitionsError extends Error {
  constructor(
    readonly path: string,
    message: string,
  ) {
    // A field table's own error names the entry inside it (`queues[0].arguments["k"]: ...`).
    super(path === '' || message.startsWith(path) ? message : `${path}: ${message}`);
    this.name = 'DefinitionsError';
  }
}

/** Queues and exchanges a client can declare again by name: no built-ins, no server-named or exclusive queues. */
function exportable(name: string): boolean {
  return name !== '' && !name.startsWith('amq.');
}

export function exportDefinitions(broker: Broker): DefinitionsDocument {
  const doc: DefinitionsDocument = {
    switchyard_version: VERSION,
    users: [],
    vhosts: [],
    permissions: [],
    exchanges: [],
    queues: [],
    bindings: [],
  };
  const schemas = exportSchemas(broker.schemas);
  if (schemas !== undefined) doc.schemas = schemas;
  for (const u of broker.access.exportUsers())
    doc.users.push({ name: u.name, ...exportedHashOf(u.passwordHash), tags: u.tags });
  for (const p of broker.access.listPermissions())
    doc.permissions.push({ user: p.user, vhost: p.vhost, configure: p.configure, write: p.write, read: p.read });
  for (const vhost of broker.allVhosts()) {
    doc.vhosts.push({ name: vhost.name });
    const queues = new Set<string>();
    for (const x of vhost.allExchanges()) {
      if (!exportable(x.name)) continue;
      doc.exchanges.push({
        name: x.name,
        vhost: vhost.name,
        type: x.type,
        durable: x.durable,
        auto_delete: x.autoDelete,
        internal: x.internal,
        arguments: x.arguments,
      });
    }
    for (const q of vhost.allQueues()) {
      if (!exportable(q.name) || q.exclusiveOwner !== undefined) continue;
      queues.add(q.name);
      doc.queues.push({
        name: q.name,
        vhost: vhost.name,
        durable: q.durable,
        auto_delete: q.autoDelete,
        arguments: q.arguments,
      });
    }
    for (const b of vhost.allBindings()) {
      if (b.source === '' || (b.destinationKind === 'queue' && !queues.has(b.destination))) continue;
      doc.bindings.push({
        source: b.source,
        vhost: vhost.name,
        destination: b.destination,
        destination_type: b.destinationKind,
        routing_key: b.routingKey,
        arguments: b.arguments,
      });
    }
  }
  const parameters = broker.links?.parameters() ?? [];
  if (parameters.length > 0) doc.parameters = parameters;
  const policies = broker.links?.policyList() ?? [];
  if (policies.length > 0) doc.policies = policies;
  return doc;
}

/** RabbitMQ sections Switchyard does not have yet: accepted, reported as skipped. */
const SKIPPED_SECTIONS = ['topic_permissions', 'global_parameters'];
const KNOWN_SECTIONS = new Set([
  'switchyard_version',
  'rabbit_version',
  'rabbitmq_version',
  'product_name',
  'product_version',
  'users',
  'vhosts',
  'permissions',
  'exchanges',
  'queues',
  'bindings',
  'schemas',
  'parameters',
  'policies',
  ...SKIPPED_SECTIONS,
]);

/** Entries of a section, each read strictly (`null` is not absent) with errors naming it: `queues[2].durable`. */
function entries(doc: Record<string, unknown>, section: string): FieldReader[] {
  const list = doc[section];
  if (list === undefined) return [];
  if (!Array.isArray(list)) throw new DefinitionsError(section, 'expected an array');
  return list.map((e, i) => {
    if (!isFieldTable(e)) throw new DefinitionsError(`${section}[${i}]`, 'expected an object');
    return new FieldReader(e, (field, message) => new DefinitionsError(field, message), {
      path: `${section}[${i}]`,
      nullIsAbsent: false,
    });
  });
}

/** Checks the shape of a definitions document; throws DefinitionsError naming the bad entry. */
export function parseDefinitions(value: unknown): { doc: DefinitionsDocument; skipped: string[] } {
  if (!isFieldTable(value)) throw new DefinitionsError('', 'a definitions document must be a JSON object');
  const skipped: string[] = [];
  for (const key of Object.keys(value)) {
    if (!KNOWN_SECTIONS.has(key))
      throw new DefinitionsError(
        key,
        `unknown section; expected ${['users', 'vhosts', 'permissions', 'exchanges', 'queues', 'bindings', 'schemas'].join(', ')}`,
      );
    const v = value[key];
    if (SKIPPED_SECTIONS.includes(key) && Array.isArray(v) && v.length > 0)
      skipped.push(`${key}: ${v.length} entries (not supported yet)`);
  }
  const doc: DefinitionsDocument = {
    switchyard_version: typeof value['switchyard_version'] === 'string' ? value['switchyard_version'] : VERSION,
    users: entries(value, 'users').map((r) => {
      // RabbitMQ's default when a file has no hashing_algorithm: salted SHA-256.
      const algorithm = r.string('hashing_algorithm', 'rabbit_password_hashing_sha256');
      const hash = r.string('password_hash');
      r.checked('password_hash', () => storedHashOf(algorithm, hash));
      return {
        name: r.string('name'),
        password_hash: hash,
        hashing_algorithm: algorithm as HashingAlgorithm,
        tags: r.list('tags'),
      };
    }),
    vhosts: entries(value, 'vhosts').map((r) => ({ name: r.string('name') })),
    permissions: entries(value, 'permissions').map((r) => {
      const spec = { configure: r.string('configure', ''), write: r.string('write', ''), read: r.string('read', '') };
      r.checked('configure', () => checkPermissionSpec(spec));
      return { user: r.string('user'), vhost: r.string('vhost', '/'), ...spec };
    }),
    exchanges: entries(value, 'exchanges').map((r) => ({
      name: r.string('name'),
      vhost: r.string('vhost', '/'),
      type: r.string('type'),
      durable: r.bool('durable', true),
      auto_delete: r.bool('auto_delete', false),
      internal: r.bool('internal', false),
      arguments: r.table('arguments'),
    })),
    queues: entries(value, 'queues').map((r) => ({
      name: r.string('name'),
      vhost: r.string('vhost', '/'),
      durable: r.bool('durable', true),
      auto_delete: r.bool('auto_delete', false),
      arguments: r.table('arguments'),
    })),
    bindings: entries(value, 'bindings').map((r, i) => {
      const kind = r.string('destination_type', 'queue');
      if (kind !== 'queue' && kind !== 'exchange')
        throw new DefinitionsError(
          `bindings[${i}].destination_type`,
          `expected "queue" or "exchange", got ${JSON.stringify(kind)}`,
        );
      return {
        source: r.string('source'),
        vhost: r.string('vhost', '/'),
        destination: r.string('destination'),
        destination_type: kind,
        routing_key: r.string('routing_key', ''),
        arguments: r.table('arguments'),
      };
    }),
  };
  return { doc, skipped };
}

/**
 * Declares everything a document defines, in order vhosts, users, permissions, exchanges,
 * queues, bindings, as `rabbitmqctl import_definitions` does. Idempotent: missing vhosts are
 * created, users are created or replaced (password hash and tags, as RabbitMQ), permissions
 * set; exchanges and queues that exist with the same attributes are left alone, with other
 * attributes fail with the broker's PRECONDITION_FAILED, prefixed with the entry. Entries
 * are applied one by one, so a failure leaves the ones before it in place; fix and import again.
 */
export function importDefinitions(broker: Broker, value: unknown): ImportResult {
  const { doc, skipped } = parseDefinitions(value);
  const result: ImportResult = {
    users: 0,
    vhosts: 0,
    permissions: 0,
    exchanges: 0,
    queues: 0,
    bindings: 0,
    parameters: 0,
    skipped,
  };
  const access = broker.access;
  const vhostFor = (name: string, path: string): VirtualHost => {
    const v = broker.vhost(name);
    if (v === undefined) throw new DefinitionsError(path, `vhost '${name}' does not exist: list it under "vhosts"`);
    return v;
  };
  doc.vhosts.forEach((v, i) => {
    if (broker.vhost(v.name) === undefined) apply(`vhosts[${i}]`, `vhost '${v.name}'`, () => access.addVhost(v.name));
    result.vhosts++;
  });
  doc.users.forEach((u, i) => {
    apply(`users[${i}]`, `user '${u.name}'`, () =>
      access.importUser(u.name, storedHashOf(u.hashing_algorithm, u.password_hash), u.tags),
    );
    result.users++;
  });
  doc.permissions.forEach((p, i) => {
    apply(`permissions[${i}]`, `permissions of '${p.user}' in vhost '${p.vhost}'`, () =>
      access.setPermissions(p.user, p.vhost, p),
    );
    result.permissions++;
  });
  // Before exchanges, so validating exchanges find their subjects.
  const schemasSection = (value as Record<string, unknown>)['schemas'];
  if (schemasSection !== undefined)
    result.schemas = importSchemas(
      broker.schemas,
      schemasSection,
      (path, message) => new DefinitionsError(path, message),
    );
  doc.exchanges.forEach((x, i) => {
    if (!exportable(x.name)) {
      skipped.push(`exchanges[${i}]: '${x.name}' is built in`);
      return;
    }
    const vhost = vhostFor(x.vhost, `exchanges[${i}]`);
    apply(`exchanges[${i}]`, `exchange '${x.name}'`, () =>
      vhost.declareExchange({
        exchange: x.name,
        exchangeType: x.type,
        passive: false,
        durable: x.durable,
        autoDelete: x.auto_delete,
        internal: x.internal,
        arguments: x.arguments,
      }),
    );
    result.exchanges++;
  });
  doc.queues.forEach((q, i) => {
    const vhost = vhostFor(q.vhost, `queues[${i}]`);
    apply(`queues[${i}]`, `queue '${q.name}'`, () => {
      checkQueueLimit(vhost, q.name, broker.options.maxQueues);
      return vhost.declareQueue(
        {
          queue: q.name,
          passive: false,
          durable: q.durable,
          exclusive: false,
          autoDelete: q.auto_delete,
          arguments: q.arguments,
        },
        'definitions',
      );
    });
    result.queues++;
  });
  doc.bindings.forEach((b, i) => {
    if (b.source === '') {
      skipped.push(`bindings[${i}]: bindings of the default exchange are implicit`);
      return;
    }
    const vhost = vhostFor(b.vhost, `bindings[${i}]`);
    const binding: Binding = {
      source: b.source,
      destination: b.destination,
      destinationKind: b.destination_type,
      routingKey: b.routing_key,
      arguments: b.arguments,
    };
    apply(`bindings[${i}]`, `binding of ${b.destination_type} '${b.destination}' to exchange '${b.source}'`, () =>
      vhost.bind(binding, undefined),
    );
    result.bindings++;
  });
  importParameters(broker, value as Record<string, unknown>, result, vhostFor);
  return result;
}

/** The `parameters` section: shovels, federation upstreams and upstream sets are set; other components are skipped. */
function importParameters(
  broker: Broker,
  doc: Record<string, unknown>,
  result: ImportResult,
  vhostFor: (name: string, path: string) => VirtualHost,
): void {
  entries(doc, 'parameters').forEach((r, i) => {
    const path = `parameters[${i}]`;
    const component = r.string('component');
    if (component !== 'shovel' && component !== 'federation-upstream' && component !== 'federation-upstream-set') {
      result.skipped.push(`${path}: component '${component}' (not supported yet)`);
      return;
    }
    const vhost = vhostFor(r.string('vhost', '/'), path).name;
    const links = broker.links;
    if (links === undefined) throw new DefinitionsError(path, 'links are not running on this broker');
    try {
      // an upstream set's value is an array (checked by the link manager); the others are objects
      const value =
        component === 'federation-upstream-set'
          ? (doc['parameters'] as Record<string, unknown>[])[i]!['value']
          : r.table('value');
      links.put(component, vhost, r.string('name'), value);
    } catch (err) {
      if (err instanceof LinkParameterError) throw new DefinitionsError(`${path}.value.${err.field}`, err.message);
      throw err;
    }
    result.parameters++;
  });
  const policies = doc['policies'];
  entries(doc, 'policies').forEach((r, i) => {
    const path = `policies[${i}]`;
    const vhost = vhostFor(r.string('vhost', '/'), path).name;
    const links = broker.links;
    if (links === undefined) throw new DefinitionsError(path, 'links are not running on this broker');
    try {
      links.putPolicy(vhost, r.string('name'), (policies as unknown[])[i]);
    } catch (err) {
      // RabbitMQ exports carry policies of every kind (ha-mode, max-length...): one we
      // cannot apply is reported, not fatal to the import
      if (err instanceof LinkParameterError) {
        result.skipped.push(`${path}.${err.field}: ${err.message}`);
        return;
      }
      throw err;
    }
    result.policies = (result.policies ?? 0) + 1;
  });
}

/** Runs one declaration, prefixing a refusal with the entry it came from (keeps `code`). */
function apply(path: string, what: string, declare: () => unknown): void {
  try {
    declare();
  } catch (err) {
    if (err instanceof Error) {
      err.message = `${path} (${what}): ${err.message}`;
      throw err;
    }
    throw new DefinitionsError(path, String(err));
  }
}

/** Reads and imports a definitions file (the `definitions` option, at boot). */
export async function importDefinitionsFile(broker: Broker, file: string): Promise<ImportResult> {
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch (err) {
    throw new Error(`cannot read definitions file '${file}': ${(err as Error).message}`, { cause: err });
  }
  let text: string;
  try {
    // Strict: invalid UTF-8 must not become U+FFFD inside a queue or exchange name.
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new Error(`definitions file '${file}' is not valid UTF-8`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new Error(`definitions file '${file}' is not valid JSON: ${(err as Error).message}`, { cause: err });
  }
  try {
    return importDefinitions(broker, value);
  } catch (err) {
    throw new Error(`definitions file '${file}': ${(err as Error).message}`, { cause: err });
  }
}
