import { readFile, writeFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { seg } from '../client.js';
import { clientOf, jsonText, withClientOptions, type ClientFlags } from '../common.js';
import { CliError } from '../exit-codes.js';
import { bytes, duration, rate } from '../output.js';
import type { CliIo } from '../io.js';
import { readStdin } from './messages.js';

/** `switchyard close-connection <id>`. */
export function registerCloseConnectionCommand(program: Command, io: CliIo): void {
  const cmd = program
    .command('close-connection')
    .description('close a client connection (it sees 320 CONNECTION_FORCED)')
    .argument('<id>', 'connection id (see `switchyard list connections`)');
  withClientOptions(cmd)
    .option('--reason <text>', 'reason the client is given', 'closed by an operator')
    .addHelpText('after', '\nExample:\n  $ switchyard close-connection 3f2c9a1e-... --reason "deploying"\n')
    .action(async (id: string, f: ClientFlags & { reason: string }) => {
      await clientOf(f).request('DELETE', `/api/connections/${seg(id)}?reason=${encodeURIComponent(f.reason)}`);
      io.stdout(`connection ${id} closed\n`);
    });
}

const SECTIONS = ['vhosts', 'users', 'permissions', 'exchanges', 'queues', 'bindings'] as const;

type Counts = Partial<Record<(typeof SECTIONS)[number], unknown>>;

interface ImportResult extends Counts {
  skipped: string[];
}

/** `2 vhosts, 3 users, ...` from a document (lists) or an import result (numbers). */
const summary = (d: Counts): string => {
  const count = (v: unknown): number => (Array.isArray(v) ? v.length : typeof v === 'number' ? v : 0);
  return SECTIONS.map((s) => `${count(d[s])} ${s}`).join(', ');
};

/** `switchyard definitions export|import`. */
export function registerDefinitionsCommand(program: Command, io: CliIo): void {
  const defs = program
    .command('definitions')
    .description(
      'export or import vhosts, users, permissions, exchanges, queues and bindings as one JSON file (RabbitMQ format)',
    )
    .addHelpText(
      'after',
      '\nExamples:\n  $ switchyard definitions export topology.json\n  $ switchyard definitions import topology.json\n  $ switchyard server --definitions topology.json   # at boot\n',
    );
  withClientOptions(
    defs
      .command('export')
      .description('write the definitions to a file, or stdout')
      .argument('[file]', "output file ('-' or none = stdout)"),
  ).action(async (file: string | undefined, f: ClientFlags) => {
    const d = await clientOf(f).get<Counts>('/api/definitions');
    const text = jsonText(d);
    if (file === undefined || file === '-') return io.stdout(text);
    try {
      // The file holds password hashes: readable by its owner only.
      await writeFile(file, text, { mode: 0o600 });
    } catch (err) {
      throw new CliError(`cannot write '${file}': ${(err as Error).message}`);
    }
    io.stdout(`exported ${summary(d)} to ${file}\n`);
  });
  withClientOptions(
    defs
      .command('import')
      .description('declare everything a definitions file holds (idempotent)')
      .argument('<file>', "definitions file ('-' = stdin)"),
    true,
  ).action(async (file: string, f: ClientFlags) => {
    let text: string;
    try {
      text = file === '-' ? (await readStdin()).toString('utf8') : await readFile(file, 'utf8');
    } catch (err) {
      throw new CliError(`cannot read '${file}': ${(err as Error).message}`);
    }
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch (err) {
      throw new CliError(`'${file}' is not valid JSON: ${(err as Error).message}`);
    }
    const r = await clientOf(f).request<ImportResult>('POST', '/api/definitions', body);
    if (f.json) return io.stdout(jsonText(r));
    io.stdout(`imported ${summary(r)}\n`);
    for (const s of r.skipped) io.stdout(`skipped ${s}\n`);
  });
}

/** The fields of GET /api/overview that `status` prints. */
interface Overview {
  product: string;
  version: string;
  node: string;
  uptimeMs: number;
  listeners?: { client?: string };
  connections: number;
  channels: number;
  consumers: number;
  queues: number;
  exchanges: number;
  messages?: { ready: number; unacked: number };
  rates?: { publish: number; deliver: number; ack: number };
  storeBytes: number;
  memory?: { rss: number };
}

/** `switchyard status`: is the broker up, and how is it doing. */
export function registerStatusCommand(program: Command, io: CliIo): void {
  const cmd = program
    .command('status')
    .description("show the broker's version, uptime, connections, queues, messages and rates");
  withClientOptions(cmd, true)
    .addHelpText(
      'after',
      '\nExit code 0 when the broker answers, 5 when it cannot be reached.\n\nExample:\n  $ switchyard status --url http://127.0.0.1:15680\n',
    )
    .action(async (f: ClientFlags) => {
      const client = clientOf(f);
      const o = await client.get<Overview>('/api/overview');
      if (f.json) return io.stdout(jsonText(o));
      const lines: [string, string][] = [
        ['version', `${o.product} ${o.version} (node ${o.node})`],
        ['uptime', duration(o.uptimeMs)],
        ['clients', o.listeners?.client ?? '-'],
        ['management', client.url],
        ['connections', `${o.connections} (${o.channels} channels, ${o.consumers} consumers)`],
        ['queues', `${o.queues} (${o.exchanges} exchanges)`],
        ['messages', `${o.messages?.ready} ready, ${o.messages?.unacked} unacked`],
        [
          'rates',
          `publish ${rate(o.rates?.publish)}/s, deliver ${rate(o.rates?.deliver)}/s, ack ${rate(o.rates?.ack)}/s`,
        ],
        ['store', bytes(o.storeBytes)],
        ['memory', `${bytes(o.memory?.rss)} resident`],
      ];
      const width = Math.max(...lines.map(([k]) => k.length));
      io.stdout(lines.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join('\n') + '\n');
    });
}
