import type { BrokerHost } from '../broker-host.js';
import { SchemaErrorCode, SchemaRegistryError } from '../schemas/errors.js';
import { SCHEMA_TYPES, schemaTypeOf, type SchemaType } from '../schemas/formats.js';
import { queryFlag } from './body.js';
import type { Handler, Reply, RequestContext, Router } from './router.js';

/**
 * The Confluent Schema Registry REST API on the management port, at Confluent's paths
 * (`/subjects`, `/schemas/ids/{id}`, `/config`, `/compatibility/...`), so Confluent
 * serializers and tools work unchanged. Errors carry Confluent's `{error_code, message}`.
 * spec/schemas.md §REST API.
 */
export function addSchemaRoutes(r: Router, broker: BrokerHost): void {
  const reg = broker.schemas;
  const add = (method: string, path: string, handler: Handler): void => {
    r.add(method, path, confluentErrors(handler));
  };
  const subject = (ctx: RequestContext): string => ctx.params['subject']!;
  const version = (ctx: RequestContext): string => ctx.params['version']!;
  const json = (body: unknown): Reply => ({ json: body });

  add('GET', '/schemas/types', () => json([...SCHEMA_TYPES]));
  // Not Confluent's: the dashboard's one-request summary (no schema texts, which can be 256 KiB each).
  add('GET', '/api/schemas', () => json(summary(reg.exportAll())));
  add('GET', '/mode', () => json({ mode: 'READWRITE' }));
  add('GET', '/subjects', (ctx) => json(reg.listSubjects(queryFlag(ctx.query, 'deleted'))));
  add('GET', '/subjects/:subject/versions', (ctx) =>
    json(reg.listVersions(subject(ctx), queryFlag(ctx.query, 'deleted'))),
  );
  add('POST', '/subjects/:subject/versions', async (ctx) => {
    const { type, schema } = schemaBody(await ctx.body());
    const id = (await broker.changeSchemas({
      op: 'register',
      subject: subject(ctx),
      schemaType: type,
      schema,
    })) as number;
    broker.logger.info('schema registered', { component: 'schemas', subject: subject(ctx), id });
    return json({ id });
  });
  add('POST', '/subjects/:subject', async (ctx) => {
    const { type, schema } = schemaBody(await ctx.body());
    return json(describe(reg.lookup(subject(ctx), type, schema)));
  });
  add('DELETE', '/subjects/:subject', async (ctx) =>
    json(
      await broker.changeSchemas({
        op: 'deleteSubject',
        subject: subject(ctx),
        permanent: queryFlag(ctx.query, 'permanent'),
      }),
    ),
  );
  add('GET', '/subjects/:subject/versions/:version', (ctx) => json(describe(reg.version(subject(ctx), version(ctx)))));
  add('GET', '/subjects/:subject/versions/:version/schema', (ctx) => ({
    text: reg.version(subject(ctx), version(ctx)).schema,
    contentType: 'application/vnd.schemaregistry.v1+json',
  }));
  add('DELETE', '/subjects/:subject/versions/:version', async (ctx) =>
    json(
      await broker.changeSchemas({
        op: 'deleteVersion',
        subject: subject(ctx),
        version: version(ctx),
        permanent: queryFlag(ctx.query, 'permanent'),
      }),
    ),
  );
  add('GET', '/schemas/ids/:id', (ctx) => {
    const rec = reg.schemaById(schemaId(ctx.params['id']!));
    return json(
      rec.schemaType === 'AVRO' ? { schema: rec.schema } : { schemaType: rec.schemaType, schema: rec.schema },
    );
  });
  add('GET', '/schemas/ids/:id/versions', (ctx) => {
    const id = schemaId(ctx.params['id']!);
    reg.schemaById(id);
    return json(reg.usesOf(id));
  });
  add('POST', '/compatibility/subjects/:subject/versions/:version', async (ctx) => {
    const { type, schema } = schemaBody(await ctx.body());
    const messages = reg.testCompatibility(subject(ctx), version(ctx), type, schema);
    return json(
      queryFlag(ctx.query, 'verbose') || messages.length > 0
        ? { is_compatible: messages.length === 0, messages }
        : { is_compatible: true },
    );
  });
  add('GET', '/config', () => json({ compatibilityLevel: reg.config() }));
  add('PUT', '/config', async (ctx) => {
    const level = (await ctx.body())['compatibility'];
    return json({ compatibility: await broker.changeSchemas({ op: 'setConfig', level }) });
  });
  add('GET', '/config/:subject', (ctx) =>
    json({ compatibilityLevel: reg.config(subject(ctx), queryFlag(ctx.query, 'defaultToGlobal')) }),
  );
  add('PUT', '/config/:subject', async (ctx) => {
    const level = (await ctx.body())['compatibility'];
    return json({ compatibility: await broker.changeSchemas({ op: 'setConfig', subject: subject(ctx), level }) });
  });
  add('DELETE', '/config/:subject', async (ctx) =>
    json({ compatibilityLevel: await broker.changeSchemas({ op: 'deleteConfig', subject: subject(ctx) }) }),
  );
}

/** A registry refusal answered as Confluent answers it: its status and `{error_code, message}`. */
function confluentErrors(handler: Handler): Handler {
  return async (ctx) => {
    try {
      return await handler(ctx);
    } catch (err) {
      if (!(err instanceof SchemaRegistryError)) throw err;
      return { status: err.status, json: err.toJSON() };
    }
  };
}

/**
 * Every subject with live versions: its effective level (`ownLevel` false when it follows
 * the global default), type of the newest version, and version numbers with their ids.
 */
function summary(all: ReturnType<BrokerHost['schemas']['exportAll']>): unknown {
  const typeOf = new Map(all.schemas.map((s) => [s.id, s.schemaType]));
  const subjects = all.subjects.flatMap((s) => {
    const versions = s.versions.filter((v) => !v.deleted).map((v) => ({ version: v.version, id: v.id }));
    if (versions.length === 0) return [];
    return [
      {
        subject: s.subject,
        schemaType: typeOf.get(versions[versions.length - 1]!.id),
        compatibility: s.compatibility ?? all.compatibility,
        ownLevel: s.compatibility !== undefined,
        versions,
      },
    ];
  });
  subjects.sort((a, b) => (a.subject < b.subject ? -1 : a.subject > b.subject ? 1 : 0));
  return { compatibility: all.compatibility, subjects };
}

/** One version as Confluent shows it (`schemaType` omitted for AVRO, as Confluent does). */
function describe(v: {
  subject: string;
  version: number;
  id: number;
  schemaType: SchemaType;
  schema: string;
}): unknown {
  const { schemaType, ...rest } = v;
  return schemaType === 'AVRO' ? rest : { ...rest, schemaType };
}

/** `{schema, schemaType?, references?}`: 42201 for anything else (Confluent's code for a bad schema body). */
function schemaBody(body: Record<string, unknown>): { type: SchemaType; schema: string } {
  const schema = body['schema'];
  if (typeof schema !== 'string')
    throw new SchemaRegistryError(SchemaErrorCode.INVALID_SCHEMA, 'field "schema" must be the schema as a string');
  const refs = body['references'];
  if (refs !== undefined && !(Array.isArray(refs) && refs.length === 0))
    throw new SchemaRegistryError(
      SchemaErrorCode.INVALID_SCHEMA,
      'schema references are not supported; inline the referenced types',
    );
  return { type: schemaTypeOf(body['schemaType']), schema };
}

function schemaId(text: string): number {
  const n = /^[0-9]{1,10}$/.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(n))
    throw new SchemaRegistryError(SchemaErrorCode.SCHEMA_NOT_FOUND, `Schema ${text.slice(0, 32)} not found`);
  return n;
}
