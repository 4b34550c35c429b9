import { InvalidArgumentError, type Command } from 'commander';
import { seg } from '../client.js';
import { clientOf, collectKeyValue, jsonText, withClientOptions, type ClientFlags } from '../common.js';
import { CliError } from '../exit-codes.js';
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
 * `switchyard federation upstream add|delete|list`, `federation upstream-set add|delete|list`,
 * `federation policy set|delete`,
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
  registerUpstreamSetCommands(fed, io);
  const policy = fed.command('policy').description('policies that apply upstreams to exchanges');
  withClientOptions(
    policy
      .command('set')
      .description('create or replace a federation policy (PUT /api/policies/{vhost}/{name})')
      .argument('<name>', 'policy name')
      .requiredOption('--pattern <regex>', 'exchange names to federate (RE2 regular expression)')
      .option('--upstream <name>', 'one upstream (default: every upstream of the vhost)')
      .option('--upstream-set <name>', "an upstream set (see 'federation upstream-set add')")
      .option('--priority <n>', 'the matching policy of highest priority applies', '0'),
  ).action(
    async (
      name: string,
      f: ClientFlags & { pattern: string; upstream?: string; upstreamSet?: string; priority: string },
    ) => {
      if (f.upstream !== undefined && f.upstreamSet !== undefined)
        throw new CliError('give --upstream or --upstream-set, not both');
      const definition =
        f.upstream !== undefined
          ? { 'federation-upstream': f.upstream }
          : { 'federation-upstream-set': f.upstreamSet ?? 'all' };
      await clientOf(f).request('PUT', `/api/policies/${seg(f.vhost)}/${seg(name)}`, {
        pattern: f.pattern,
        'apply-to': 'exchanges',
        priority: Number(f.priority),
        definition,
      });
      io.stdout(`policy ${name} set\n`);
    },
  );
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

/**
 * `switchyard federation upstream-set add|delete|list`: RabbitMQ's `federation-upstream-set`
 * parameters, `[{"upstream": "up-1", ...overrides}, ...]`.
 */
function registerUpstreamSetCommands(fed: Command, io: CliIo): void {
  const sets = fed.command('upstream-set').description('named sets of upstreams a policy can apply');
  const path = (f: ClientFlags, name?: string): string =>
    `/api/parameters/federation-upstream-set/${seg(f.vhost)}${name === undefined ? '' : `/${seg(name)}`}`;
  withClientOptions(
    sets
      .command('add')
      .description('create or replace an upstream set (PUT /api/parameters/federation-upstream-set/{vhost}/{name})')
      .argument('<name>', 'set name')
      .argument('<upstreams...>', 'the upstreams in the set')
      .option(
        '-p, --param <upstream.key=value>',
        "override an upstream's key in this set (repeatable), e.g. eu.max-hops=2",
        collectOverride,
        {},
      ),
  ).action(
    async (name: string, upstreams: string[], f: ClientFlags & { param: Record<string, Record<string, unknown>> }) => {
      for (const u of Object.keys(f.param))
        if (!upstreams.includes(u)) throw new CliError(`--param names '${u}', which is not in the set; list it too`);
      const value = upstreams.map((upstream) => ({ upstream, ...f.param[upstream] }));
      await clientOf(f).request('PUT', path(f, name), { value });
      io.stdout(`upstream set ${name} set\n`);
    },
  );
  withClientOptions(sets.command('delete').description('remove an upstream set').argument('<name>', 'set')).action(
    async (name: string, f: ClientFlags) => {
      await clientOf(f).request('DELETE', path(f, name));
      io.stdout(`upstream set ${name} deleted\n`);
    },
  );
  withClientOptions(sets.command('list').description('upstream sets of the vhost'), true).action(
    async (f: ClientFlags) => {
      const rows = await clientOf(f).get<{ name: string; value: { upstream: string }[] }[]>(path(f));
      if (f.json === true) return io.stdout(jsonText(rows));
      io.stdout(
        table(rows, [
          { header: 'name', value: (r) => r.name },
          { header: 'upstreams', value: (r) => r.value.map((e) => e.upstream).join(', ') },
        ]),
      );
    },
  );
}

/** `-p eu.max-hops=2`: key `max-hops` of upstream `eu` (upstream names may hold dots; keys do not). */
function collectOverride(
  raw: string,
  previous: Record<string, Record<string, unknown>>,
): Record<string, Record<string, unknown>> {
  const eq = raw.indexOf('=');
  const dot = eq < 0 ? -1 : raw.lastIndexOf('.', eq);
  if (dot <= 0 || dot + 1 >= eq) throw new InvalidArgumentError(`expected upstream.key=value, got '${raw}'.`);
  const upstream = raw.slice(0, dot);
  return { ...previous, [upstream]: collectKeyValue(raw.slice(dot + 1), previous[upstream]) };
}

/** The upstream's first URI without credentials. */
function redacted(uri: unknown): string {
  const first: unknown = Array.isArray(uri) ? uri[0] : uri;
  return typeof first === 'string' ? first.replace(/\/\/[^@/]*@/, '//') : '';
}
