import { Argument, Option, type Command } from 'commander';
import { propertiesKey } from '../../management/binding-key.js';
import { seg } from '../client.js';
import {
  clientOf,
  collectKeyValue,
  jsonText,
  parseJsonObject,
  withClientOptions,
  type ClientFlags,
} from '../common.js';
import type { CliIo } from '../io.js';
import { EXCHANGE_TYPES } from '../../routing/matcher.js';

interface DeclareFlags extends ClientFlags {
  durable: boolean;
  autoDelete?: boolean;
  internal?: boolean;
  argument?: Record<string, unknown>;
  arguments?: Record<string, unknown>;
}

const argumentOptions = (cmd: Command): Command =>
  cmd
    .option(
      '-a, --argument <key=value>',
      'an argument, repeatable; values are read as JSON when they parse (x-max-length=1000)',
      collectKeyValue,
    )
    .option('--arguments <json>', 'all arguments as one JSON object', parseJsonObject);

const argsOf = (f: {
  argument?: Record<string, unknown>;
  arguments?: Record<string, unknown>;
}): Record<string, unknown> => ({ ...f.arguments, ...f.argument });

/** The default exchange travels as `amq.default` in paths. */
export const exchangeSeg = (name: string): string => seg(name === '' ? 'amq.default' : name);

/** `switchyard declare queue|exchange`. */
export function registerDeclareCommand(program: Command, io: CliIo): void {
  const declare = program.command('declare').description('declare a queue or an exchange (idempotent)');
  const queue = declare.command('queue').description('declare a queue').argument('<name>', 'queue name');
  argumentOptions(withClientOptions(queue, true))
    .option('--no-durable', 'a transient queue (default: durable)')
    .option('--auto-delete', 'delete the queue when its last consumer goes')
    .addHelpText(
      'after',
      '\nExamples:\n  $ switchyard declare queue orders\n  $ switchyard declare queue jobs -a x-max-length=10000 -a x-dead-letter-exchange=dlx\n',
    )
    .action(async (name: string, f: DeclareFlags) => {
      const body = { durable: f.durable, autoDelete: f.autoDelete ?? false, arguments: argsOf(f) };
      const q = await clientOf(f).request<Record<string, unknown>>(
        'PUT',
        `/api/queues/${seg(f.vhost)}/${seg(name)}`,
        body,
      );
      io.stdout(f.json ? jsonText(q) : `queue '${name}' declared (${q['messagesReady'] as number} messages ready)\n`);
    });
  const exchange = declare
    .command('exchange')
    .description('declare an exchange')
    .argument('<name>', 'exchange name')
    .addArgument(new Argument('[type]', 'exchange type').choices(EXCHANGE_TYPES).default('direct'));
  argumentOptions(withClientOptions(exchange, true))
    .option('--no-durable', 'a transient exchange (default: durable)')
    .option('--auto-delete', 'delete the exchange when its last binding goes')
    .option('--internal', 'clients may not publish to it directly')
    .addHelpText(
      'after',
      '\nExamples:\n  $ switchyard declare exchange orders topic\n  $ switchyard declare exchange events fanout -a alternate-exchange=unrouted\n  $ switchyard declare exchange by-customer x-consistent-hash -a hash-header=customer\n',
    )
    .action(async (name: string, type: string, f: DeclareFlags) => {
      const body = {
        type,
        durable: f.durable,
        autoDelete: f.autoDelete ?? false,
        internal: f.internal ?? false,
        arguments: argsOf(f),
      };
      const x = await clientOf(f).request('PUT', `/api/exchanges/${seg(f.vhost)}/${exchangeSeg(name)}`, body);
      io.stdout(f.json ? jsonText(x) : `exchange '${name}' (${type}) declared\n`);
    });
}

/** `switchyard delete queue|exchange`. */
export function registerDeleteCommand(program: Command, io: CliIo): void {
  const del = program.command('delete').description('delete a queue or an exchange');
  const queue = del.command('queue').description('delete a queue and its messages').argument('<name>', 'queue name');
  withClientOptions(queue, true)
    .option('--if-unused', 'only if it has no consumers')
    .option('--if-empty', 'only if it holds no messages')
    .addHelpText(
      'after',
      '\nExamples:\n  $ switchyard delete queue orders\n  $ switchyard delete queue orders --if-empty\n',
    )
    .action(async (name: string, f: ClientFlags & { ifUnused?: boolean; ifEmpty?: boolean }) => {
      const query = new URLSearchParams({ ifUnused: String(f.ifUnused ?? false), ifEmpty: String(f.ifEmpty ?? false) });
      const r = await clientOf(f).request<{ messageCount: number }>(
        'DELETE',
        `/api/queues/${seg(f.vhost)}/${seg(name)}?${query.toString()}`,
      );
      io.stdout(f.json ? jsonText(r) : `queue '${name}' deleted (${r.messageCount} messages dropped)\n`);
    });
  const exchange = del
    .command('exchange')
    .description('delete an exchange and its bindings')
    .argument('<name>', 'exchange name');
  withClientOptions(exchange)
    .option('--if-unused', 'only if it has no bindings')
    .action(async (name: string, f: ClientFlags & { ifUnused?: boolean }) => {
      await clientOf(f).request(
        'DELETE',
        `/api/exchanges/${seg(f.vhost)}/${exchangeSeg(name)}?ifUnused=${String(f.ifUnused ?? false)}`,
      );
      io.stdout(`exchange '${name}' deleted\n`);
    });
}

/** `switchyard purge <queue>`. */
export function registerPurgeCommand(program: Command, io: CliIo): void {
  const cmd = program
    .command('purge')
    .description('remove every ready message from a queue')
    .argument('<queue>', 'queue name');
  withClientOptions(cmd, true)
    .addHelpText('after', '\nExample:\n  $ switchyard purge orders\n')
    .action(async (name: string, f: ClientFlags) => {
      const r = await clientOf(f).request<{ messageCount: number }>(
        'DELETE',
        `/api/queues/${seg(f.vhost)}/${seg(name)}/contents`,
      );
      io.stdout(f.json ? jsonText(r) : `purged ${r.messageCount} messages from queue '${name}'\n`);
    });
}

interface BindFlags extends ClientFlags {
  routingKey: string;
  destinationType: 'queue' | 'exchange';
  argument?: Record<string, unknown>;
  arguments?: Record<string, unknown>;
}

function bindingCommand(program: Command, name: 'bind' | 'unbind', description: string): Command {
  const cmd = program
    .command(name)
    .description(description)
    .argument('<source>', 'source exchange')
    .argument('<destination>', 'destination queue (or exchange with --destination-type exchange)');
  return argumentOptions(withClientOptions(cmd))
    .option('-k, --routing-key <key>', 'routing key (binding key)', '')
    .addOption(
      new Option('--destination-type <type>', 'what the destination is')
        .choices(['queue', 'exchange'])
        .default('queue'),
    );
}

const bindingPath = (f: BindFlags, source: string, destination: string): string =>
  `/api/bindings/${seg(f.vhost)}/e/${exchangeSeg(source)}/${f.destinationType === 'queue' ? 'q' : 'e'}/${f.destinationType === 'queue' ? seg(destination) : exchangeSeg(destination)}`;

/** `switchyard bind` and `switchyard unbind`. */
export function registerBindCommands(program: Command, io: CliIo): void {
  bindingCommand(program, 'bind', 'bind a queue (or exchange) to an exchange')
    .addHelpText(
      'after',
      '\nExamples:\n  $ switchyard bind orders orders.eu --routing-key eu\n  $ switchyard bind amq.headers audit -a x-match=any -a source=web\n  $ switchyard bind events archive --destination-type exchange\n',
    )
    .action(async (source: string, destination: string, f: BindFlags) => {
      await clientOf(f).request('POST', bindingPath(f, source, destination), {
        routingKey: f.routingKey,
        arguments: argsOf(f),
      });
      io.stdout(
        `bound ${f.destinationType} '${destination}' to exchange '${source}' with routing key '${f.routingKey}'\n`,
      );
    });
  bindingCommand(program, 'unbind', 'remove a binding (same routing key and arguments as bound)')
    .addHelpText('after', '\nExample:\n  $ switchyard unbind orders orders.eu --routing-key eu\n')
    .action(async (source: string, destination: string, f: BindFlags) => {
      const key = propertiesKey(f.routingKey, argsOf(f));
      await clientOf(f).request('DELETE', `${bindingPath(f, source, destination)}/${seg(key)}`);
      io.stdout(
        `unbound ${f.destinationType} '${destination}' from exchange '${source}' (routing key '${f.routingKey}')\n`,
      );
    });
}
