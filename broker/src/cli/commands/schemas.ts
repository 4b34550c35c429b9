import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import type { Command } from 'commander';
import { seg } from '../client.js';
import { clientOf, jsonText, withClientOptions, type ClientFlags } from '../common.js';
import { CliError, EXIT } from '../exit-codes.js';
import type { CliIo } from '../io.js';
import { table } from '../output.js';

const TYPES = ['AVRO', 'JSON', 'PROTOBUF'];

interface VersionRow {
  subject: string;
  version: number;
  id: number;
  schemaType?: string;
  schema: string;
}

/** The schema type: `--type`, else from the file's extension (.avsc, .json, .proto). */
function typeOf(file: string, flag: string | undefined): string {
  if (flag !== undefined) {
    const t = flag.toUpperCase();
    if (!TYPES.includes(t)) throw new CliError(`--type must be one of ${TYPES.join(', ')}`, EXIT.BAD_REQUEST);
    return t;
  }
  const ext = extname(file).toLowerCase();
  if (ext === '.avsc' || ext === '.avro') return 'AVRO';
  if (ext === '.proto') return 'PROTOBUF';
  if (ext === '.json') return 'JSON';
  throw new CliError(`cannot tell the schema type of '${file}': pass --type AVRO|JSON|PROTOBUF`, EXIT.BAD_REQUEST);
}

async function schemaBody(file: string, type: string | undefined): Promise<{ schema: string; schemaType: string }> {
  let schema: string;
  try {
    schema = await readFile(file, 'utf8');
  } catch (err) {
    throw new CliError(`cannot read '${file}': ${(err as Error).message}`, EXIT.BAD_REQUEST);
  }
  return { schema, schemaType: typeOf(file, type) };
}

/** `switchyard schemas register|list|show|check|config` (spec/schemas.md §REST API). */
export function registerSchemasCommand(program: Command, io: CliIo): void {
  const schemas = program
    .command('schemas')
    .description('the schema registry: subjects, versions, compatibility (Confluent-compatible)')
    .addHelpText(
      'after',
      '\nExamples:\n  $ switchyard schemas register orders order.avsc\n  $ switchyard schemas check orders order-v2.avsc\n  $ switchyard schemas config orders FULL\n  $ switchyard declare exchange orders fanout --argument x-schema-subject=orders\n',
    );
  withClientOptions(
    schemas
      .command('register')
      .description('register a schema file as the next version of a subject')
      .argument('<subject>')
      .argument('<file>', '.avsc (Avro), .json (JSON Schema) or .proto (Protobuf)')
      .option('--type <type>', 'AVRO, JSON or PROTOBUF (default: from the file extension)'),
    true,
  ).action(async (subject: string, file: string, f: ClientFlags & { type?: string }) => {
    const client = clientOf(f);
    const { id } = await client.request<{ id: number }>(
      'POST',
      `/subjects/${seg(subject)}/versions`,
      await schemaBody(file, f.type),
    );
    const latest = await client.get<VersionRow>(`/subjects/${seg(subject)}/versions/latest`);
    io.stdout(
      f.json
        ? jsonText({ subject, id, version: latest.version })
        : `${subject}: schema id ${id} (latest version ${latest.version})\n`,
    );
  });
  withClientOptions(schemas.command('list').description('list subjects with their latest version'), true).action(
    async (f: ClientFlags) => {
      const client = clientOf(f);
      const subjects = await client.get<string[]>('/subjects');
      const rows = await Promise.all(
        subjects.map((s) => client.get<VersionRow>(`/subjects/${seg(s)}/versions/latest`)),
      );
      io.stdout(
        f.json
          ? jsonText(rows.map(({ schema: _schema, ...r }) => ({ ...r, schemaType: r.schemaType ?? 'AVRO' })))
          : table(rows, [
              { header: 'subject', value: (r) => r.subject },
              { header: 'version', value: (r) => String(r.version) },
              { header: 'id', value: (r) => String(r.id) },
              { header: 'type', value: (r) => r.schemaType ?? 'AVRO' },
            ]),
      );
    },
  );
  withClientOptions(
    schemas
      .command('show')
      .description('show a version of a subject (default latest) and its schema')
      .argument('<subject>')
      .argument('[version]', 'a version number or latest', 'latest'),
    true,
  ).action(async (subject: string, version: string, f: ClientFlags) => {
    const v = await clientOf(f).get<VersionRow>(`/subjects/${seg(subject)}/versions/${seg(version)}`);
    io.stdout(
      f.json ? jsonText(v) : `${v.subject} version ${v.version}, id ${v.id}, ${v.schemaType ?? 'AVRO'}\n${v.schema}\n`,
    );
  });
  withClientOptions(
    schemas
      .command('check')
      .description("check a schema file against a subject's compatibility level, without registering it")
      .argument('<subject>')
      .argument('<file>')
      .option('--version <version>', 'the version to check against', 'latest')
      .option('--type <type>', 'AVRO, JSON or PROTOBUF (default: from the file extension)'),
    true,
  ).action(async (subject: string, file: string, f: ClientFlags & { type?: string; version: string }) => {
    const answer = await clientOf(f).request<{ is_compatible: boolean; messages?: string[] }>(
      'POST',
      `/compatibility/subjects/${seg(subject)}/versions/${seg(f.version)}?verbose=true`,
      await schemaBody(file, f.type),
    );
    if (f.json) io.stdout(jsonText(answer));
    else if (answer.is_compatible) io.stdout(`${file} is compatible with ${subject} version ${f.version}\n`);
    if (!answer.is_compatible) {
      // Exit 3 (conflict), as registering it would answer 409.
      throw new CliError(
        `${file} is not compatible with ${subject} version ${f.version}: ${(answer.messages ?? []).join('; ')}`,
        EXIT.CONFLICT,
      );
    }
  });
  withClientOptions(
    schemas
      .command('config')
      .description('show or set the compatibility level of a subject, or the global default')
      .argument('[subject]', 'a subject (omit, or "-", for the global default)')
      .argument('[level]', 'BACKWARD, BACKWARD_TRANSITIVE, FORWARD, FORWARD_TRANSITIVE, FULL, FULL_TRANSITIVE or NONE'),
    true,
  ).action(async (subject: string | undefined, level: string | undefined, f: ClientFlags) => {
    const path = subject === undefined || subject === '-' ? '/config' : `/config/${seg(subject)}`;
    const client = clientOf(f);
    if (level !== undefined) await client.request('PUT', path, { compatibility: level.toUpperCase() });
    const current = await client.get<{ compatibilityLevel: string }>(
      path === '/config' ? path : `${path}?defaultToGlobal=true`,
    );
    io.stdout(
      f.json
        ? jsonText(current)
        : `${subject === undefined || subject === '-' ? 'global' : subject}: ${current.compatibilityLevel}\n`,
    );
  });
}
