import type { Command } from 'commander';
import { seg } from '../client.js';
import { clientOf, collectKeyValue, jsonText, withClientOptions, type ClientFlags } from '../common.js';
import type { CliIo } from '../io.js';
import { table } from '../output.js';

interface ShovelRow {
  name: string;
  vhost: string;
  state: string;
  messagesMoved: number;
  inFlight: number;
  lag: number | undefined;
  lastError: string | undefined;
  nextAttemptAt: string | undefined;
}

/** `switchyard shovel add|delete|list|restart` over the management API (spec/links.md). */
export function registerShovelCommand(program: Command, io: CliIo): void {
  const shovel = program
    .command('shovel')
    .description('move messages between brokers (RabbitMQ dynamic shovels)')
    .addHelpText(
      'after',
      '\nExamples:\n' +
        '  $ switchyard shovel add orders-dr -p src-uri=ws://127.0.0.1:5680 -p src-queue=orders \\\n' +
        '      -p dest-uri=ws://dr:5680 -p dest-queue=orders\n' +
        '  $ switchyard shovel list\n  $ switchyard shovel restart orders-dr\n  $ switchyard shovel delete orders-dr\n',
    );
  withClientOptions(
    shovel
      .command('add')
      .description('create or replace a shovel (PUT /api/parameters/shovel/{vhost}/{name})')
      .argument('<name>', 'shovel name')
      .option(
        '-p, --param <key=value>',
        'a shovel parameter (repeatable): src-uri, src-queue, dest-uri, dest-queue, ack-mode, ...',
        collectKeyValue,
        {},
      ),
  ).action(async (name: string, f: ClientFlags & { param: Record<string, unknown> }) => {
    await clientOf(f).request('PUT', `/api/parameters/shovel/${seg(f.vhost)}/${seg(name)}`, { value: f.param });
    io.stdout(`shovel ${name} set\n`);
  });
  withClientOptions(shovel.command('delete').description('remove a shovel').argument('<name>', 'shovel name')).action(
    async (name: string, f: ClientFlags) => {
      await clientOf(f).request('DELETE', `/api/parameters/shovel/${seg(f.vhost)}/${seg(name)}`);
      io.stdout(`shovel ${name} deleted\n`);
    },
  );
  withClientOptions(
    shovel.command('restart').description('reconnect a shovel now').argument('<name>', 'shovel name'),
  ).action(async (name: string, f: ClientFlags) => {
    await clientOf(f).request('DELETE', `/api/shovels/vhost/${seg(f.vhost)}/${seg(name)}/restart`);
    io.stdout(`shovel ${name} restarting\n`);
  });
  withClientOptions(
    shovel.command('list').description('shovels with their state, moved messages and last error'),
    true,
  ).action(async (f: ClientFlags) => {
    const rows = await clientOf(f).get<ShovelRow[]>('/api/shovels');
    if (f.json === true) return io.stdout(jsonText(rows));
    io.stdout(
      table(rows, [
        { header: 'vhost', value: (r) => r.vhost },
        { header: 'name', value: (r) => r.name },
        { header: 'state', value: (r) => r.state },
        { header: 'moved', value: (r) => r.messagesMoved, align: 'right' },
        { header: 'in-flight', value: (r) => r.inFlight, align: 'right' },
        { header: 'lag', value: (r) => r.lag, align: 'right' },
        { header: 'next attempt', value: (r) => r.nextAttemptAt },
        { header: 'last error', value: (r) => r.lastError },
      ]),
    );
  });
}
