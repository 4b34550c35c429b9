import { Option, type Command } from 'commander';
import { seg } from '../client.js';
import { clientOf, collectKeyValue, jsonText, withClientOptions, type ClientFlags } from '../common.js';
import type { CliIo } from '../io.js';

interface AddSuperFlags extends ClientFlags {
  partitions?: string;
  bindingKeys?: string;
  argument?: Record<string, unknown>;
}

interface NamedReader {
  name: string;
  offset: number;
  lag: number;
  lagSeconds: number;
  consumers: number;
}

/** `switchyard streams add-super` and `switchyard streams readers` (spec/management.md §CLI). */
export function registerStreamsCommand(program: Command, io: CliIo): void {
  const streams = program.command('streams').description('stream queues: super streams and named readers');

  const add = streams
    .command('add-super')
    .description("create a super stream (RabbitMQ's layout: exchange <name>, partition streams <name>-<key>)")
    .argument('<name>', 'super stream name');
  withClientOptions(add, true)
    .addOption(new Option('--partitions <n>', 'number of partitions (keys 0..n-1)').conflicts('bindingKeys'))
    .option('--binding-keys <keys>', 'comma-separated binding keys, one partition each')
    .option(
      '-a, --argument <key=value>',
      'a stream argument for every partition, repeatable (x-max-age=7D)',
      collectKeyValue,
    )
    .addHelpText(
      'after',
      '\nExamples:\n  $ switchyard streams add-super orders --partitions 3\n  $ switchyard streams add-super events --binding-keys eu,us -a x-max-age=7D\n',
    )
    .action(async (name: string, f: AddSuperFlags) => {
      const body = {
        ...(f.partitions !== undefined ? { partitions: Number(f.partitions) } : {}),
        ...(f.bindingKeys !== undefined ? { bindingKeys: f.bindingKeys.split(',') } : {}),
        arguments: f.argument ?? {},
      };
      const r = await clientOf(f).request<{ exchange: string; partitions: string[] }>(
        'PUT',
        `/api/super-streams/${seg(f.vhost)}/${seg(name)}`,
        body,
      );
      io.stdout(
        f.json
          ? jsonText(r)
          : `super stream '${name}' created: exchange '${r.exchange}', partitions ${r.partitions.join(', ')}\n`,
      );
    });

  const readers = streams
    .command('readers')
    .description("a stream's named readers: stored offset and lag in messages and seconds")
    .argument('<stream>', 'stream queue name');
  withClientOptions(readers, true).action(async (stream: string, f: ClientFlags) => {
    const q = await clientOf(f).request<{ stream?: { namedReaders: NamedReader[] } }>(
      'GET',
      `/api/queues/${seg(f.vhost)}/${seg(stream)}`,
    );
    if (q.stream === undefined) throw new Error(`queue '${stream}' is not a stream`);
    const rows = q.stream.namedReaders;
    if (f.json) return void io.stdout(jsonText(rows));
    const lines = [['reader', 'offset', 'lag', 'lag_seconds', 'consumers']];
    for (const r of rows)
      lines.push([r.name, String(r.offset), String(r.lag), r.lagSeconds.toFixed(1), String(r.consumers)]);
    const widths = lines[0]!.map((_, i) => Math.max(...lines.map((l) => l[i]!.length)));
    io.stdout(
      lines
        .map((l) =>
          l
            .map((c, i) => c.padEnd(widths[i]!))
            .join('  ')
            .trimEnd(),
        )
        .join('\n') + '\n',
    );
  });
}
