import type { Command } from 'commander';
import { seg } from '../client.js';
import { clientOf, collectKeyValue, jsonText, withClientOptions, type ClientFlags } from '../common.js';
import type { CliIo } from '../io.js';
import { table } from '../output.js';

interface FederationRow {
  vhost: string;
  exchange: string;
  upstream: string;
  state: string;
  messagesMoved: number;
  dropped: number;
  inFlight: number;
  lastError: string | undefined;
  nextAttemptAt: string | undefined;
}

interface UpstreamParam {
  vhost: string;
  name: string;
  value: Record<string, unknown>;
}

/**
 * `switchyard federation upstream add|delete|list`, `federation policy set|delete`,
 * `federation links` and `federation restart` over the management API (spec/links.md
 * §Federated exchanges).
 */
export function registerFederationCommand(program: Command, io: CliIo): void {
  const fed = program
    .command('federation')
    .description('federate exchanges from other brokers (RabbitMQ federation upstreams and policies)')
    .addHelpText(
      'after',
      '\nExamples:\n' +
        '  $ switchyard federation upstream add eu -p uri=ws://user:pass@eu:5680 -p max-hops=2\n' +
        '  $ switchyard federation policy set fed-orders --pattern "^orders$" --upstream eu\n' +
        '  $ switchyard federation links\n',
    );
  const upstream = fed.command('upstream').description('federation upstreams (runtime parameters)');
  withClientOptions(
    upstream
      .command('add')
      .description('create or replace an upstream (PUT /api/parameters/federation-upstream/{vhost}/{name})')
      .argument('<name>', 'upstream name')
      .option(
        '-p, --param <key=value>',
        'an upstream parameter (repeatable): uri, exchange, max-hops, prefetch-count, expires, message-ttl, ack-mode, ...',
        collectKeyValue,
        {},
      ),
  ).action(async (name: string, f: ClientFlags & { param: Record<string, unknown> }) => {
    await clientOf(f).request('PUT', `/api/parameters/federation-upstream/${seg(f.vhost)}/${seg(name)}`, {
      value: f.param,
    });
    io.stdout(`upstream ${name} set\n`);
  });
  withClientOptions(upstream.command('delete').description('remove an upstream').argument('<name>', 'upstream')).action(
    async (name: string, f: ClientFlags) => {
      await clientOf(f).request('DELETE', `/api/parameters/federation-upstream/${seg(f.vhost)}/${seg(name)}`);
      io.stdout(`upstream ${name} deleted\n`);
    },
  );
  withClientOptions(upstream.command('list').description('upstreams of the vhost'), true).action(
    async (f: ClientFlags) => {
      const rows = await clientOf(f).get<UpstreamParam[]>(`/api/parameters/federation-upstream/${seg(f.vhost)}`);
      if (f.json === true) return io.stdout(jsonText(rows));
      io.stdout(
        table(rows, [
          { header: 'name', value: (r) => r.name },
          // the URI may carry credentials: show host and vhost only
          { header: 'uri', value: (r) => redacted(r.value['uri']) },
          { header: 'exchange', value: (r) => r.value['exchange'] as string | undefined },
          { header: 'max-hops', value: (r) => r.value['max-hops'] as number | undefined, align: 'right' },
        ]),
      );
    },
  );
  const policy = fed.command('policy').description('policies that apply upstreams to exchanges');
  withClientOptions(
    policy
      .command('set')
      .description('create or replace a federation policy (PUT /api/policies/{vhost}/{name})')
      .argument('<name>', 'policy name')
      .requiredOption('--pattern <regex>', 'exchange names to federate (RE2 regular expression)')
      .option('--upstream <name>', 'one upstream (default: every upstream of the vhost)')
      .option('--priority <n>', 'the matching policy of highest priority applies', '0'),
  ).action(async (name: string, f: ClientFlags & { pattern: string; upstream?: string; priority: string }) => {
    const definition =
      f.upstream === undefined ? { 'federation-upstream-set': 'all' } : { 'federation-upstream': f.upstream };
    await clientOf(f).request('PUT', `/api/policies/${seg(f.vhost)}/${seg(name)}`, {
      pattern: f.pattern,
      'apply-to': 'exchanges',
      priority: Number(f.priority),
      definition,
    });
    io.stdout(`policy ${name} set\n`);
  });
  withClientOptions(policy.command('delete').description('remove a policy').argument('<name>', 'policy')).action(
    async (name: string, f: ClientFlags) => {
      await clientOf(f).request('DELETE', `/api/policies/${seg(f.vhost)}/${seg(name)}`);
      io.stdout(`policy ${name} deleted\n`);
    },
  );
  withClientOptions(
    fed.command('restart').description("reconnect an upstream's links now").argument('<upstream>', 'upstream'),
  ).action(async (name: string, f: ClientFlags) => {
    await clientOf(f).request('DELETE', `/api/federation-links/vhost/${seg(f.vhost)}/${seg(name)}/restart`);
    io.stdout(`federation links of ${name} restarting\n`);
  });
  withClientOptions(
    fed.command('links').description('federation links with their state, moved messages and last error'),
    true,
  ).action(async (f: ClientFlags) => {
    const rows = await clientOf(f).get<FederationRow[]>('/api/federation-links');
    if (f.json === true) return io.stdout(jsonText(rows));
    io.stdout(
      table(rows, [
        { header: 'vhost', value: (r) => r.vhost },
        { header: 'exchange', value: (r) => r.exchange },
        { header: 'upstream', value: (r) => r.upstream },
        { header: 'state', value: (r) => r.state },
        { header: 'moved', value: (r) => r.messagesMoved, align: 'right' },
        { header: 'dropped', value: (r) => r.dropped, align: 'right' },
        { header: 'in-flight', value: (r) => r.inFlight, align: 'right' },
        { header: 'next attempt', value: (r) => r.nextAttemptAt },
        { header: 'last error', value: (r) => r.lastError },
      ]),
    );
  });
}

/** The upstream's first URI without credentials. */
function redacted(uri: unknown): string {
  const first: unknown = Array.isArray(uri) ? uri[0] : uri;
  return typeof first === 'string' ? first.replace(/\/\/[^@/]*@/, '//') : '';
}
