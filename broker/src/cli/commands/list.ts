import { Argument, type Command } from 'commander';
import { seg } from '../client.js';
import { clientOf, jsonText, withClientOptions, type ClientFlags } from '../common.js';
import { compactJson, duration, rate, table, truncate, type Column } from '../output.js';
import type { CliIo } from '../io.js';

type Row = Record<string, unknown>;
const n = (key: string) => (r: Row) => r[key] as number;
const s = (key: string) => (r: Row) => r[key] as string;
const rates = (key: string) => (r: Row) => rate((r['rates'] as Record<string, number> | undefined)?.[key]);

/** The default exchange has an empty name; tables show it as RabbitMQ's UI does. */
const exchangeLabel = (name: unknown): string => (name === '' ? '(AMQP default)' : String(name));

const KINDS: Record<string, { path: (vhost: string) => string; columns: Column<Row>[] }> = {
  queues: {
    path: (v) => `/api/queues/${seg(v)}`,
    columns: [
      { header: 'NAME', value: s('name') },
      { header: 'READY', value: n('messagesReady'), align: 'right' },
      { header: 'UNACKED', value: n('messagesUnacked'), align: 'right' },
      { header: 'TOTAL', value: n('messages'), align: 'right' },
      { header: 'CONSUMERS', value: n('consumers'), align: 'right' },
      { header: 'PUBLISH/S', value: rates('publish'), align: 'right' },
      { header: 'DELIVER/S', value: rates('deliver'), align: 'right' },
      { header: 'ACK/S', value: rates('ack'), align: 'right' },
      {
        header: 'OLDEST',
        value: (r) => (r['messagesReady'] === 0 ? '-' : duration(r['oldestMessageAgeMs'])),
        align: 'right',
      },
      { header: 'DURABLE', value: (r) => r['durable'] as boolean },
    ],
  },
  exchanges: {
    path: (v) => `/api/exchanges/${seg(v)}`,
    columns: [
      { header: 'NAME', value: (r) => exchangeLabel(r['name']) },
      { header: 'TYPE', value: s('type') },
      { header: 'DURABLE', value: (r) => r['durable'] as boolean },
      { header: 'AUTO-DELETE', value: (r) => r['autoDelete'] as boolean },
      { header: 'INTERNAL', value: (r) => r['internal'] as boolean },
      { header: 'BINDINGS', value: n('bindings'), align: 'right' },
      { header: 'ARGUMENTS', value: (r) => compactJson(r['arguments']) },
    ],
  },
  bindings: {
    path: (v) => `/api/bindings/${seg(v)}`,
    columns: [
      { header: 'SOURCE', value: (r) => exchangeLabel(r['source']) },
      { header: 'DESTINATION', value: s('destination') },
      { header: 'TYPE', value: s('destinationType') },
      { header: 'ROUTING KEY', value: (r) => (r['routingKey'] === '' ? '""' : String(r['routingKey'])) },
      { header: 'ARGUMENTS', value: (r) => compactJson(r['arguments']) },
    ],
  },
  consumers: {
    path: (v) => `/api/consumers/${seg(v)}`,
    columns: [
      { header: 'QUEUE', value: s('queue') },
      { header: 'CONSUMER TAG', value: s('consumerTag') },
      { header: 'CONNECTION', value: s('connection') },
      { header: 'CHANNEL', value: n('channel'), align: 'right' },
      { header: 'ACK', value: (r) => (r['noAck'] ? 'auto' : 'manual') },
      { header: 'PREFETCH', value: n('prefetch'), align: 'right' },
      { header: 'UNACKED', value: n('unacked'), align: 'right' },
      { header: 'PRIORITY', value: n('priority'), align: 'right' },
      { header: 'ACTIVE', value: (r) => r['active'] as boolean },
      { header: 'EXCLUSIVE', value: (r) => r['exclusive'] as boolean },
    ],
  },
  connections: {
    path: () => '/api/connections',
    columns: [
      { header: 'ID', value: s('id') },
      { header: 'PEER', value: s('peer') },
      { header: 'USER', value: s('user') },
      { header: 'STATE', value: s('state') },
      { header: 'CHANNELS', value: n('channels'), align: 'right' },
      { header: 'UNACKED', value: n('unacked'), align: 'right' },
      { header: 'UNCONFIRMED', value: (r) => r['unconfirmed'] as number | null, align: 'right' },
      { header: 'CONNECTED', value: (r) => duration(Date.now() - Date.parse(String(r['connectedAt']))) },
      { header: 'CLIENT', value: (r) => truncate(clientName(r['clientProperties']), 30) },
    ],
  },
  channels: {
    path: () => '/api/channels',
    columns: [
      { header: 'CONNECTION', value: s('connection') },
      { header: 'NUMBER', value: n('number'), align: 'right' },
      { header: 'PEER', value: s('peer') },
      { header: 'CONSUMERS', value: n('consumers'), align: 'right' },
      { header: 'UNACKED', value: n('unacked'), align: 'right' },
      { header: 'UNCONFIRMED', value: (r) => r['unconfirmed'] as number | null, align: 'right' },
      { header: 'PREFETCH', value: n('prefetch'), align: 'right' },
      { header: 'GLOBAL PREFETCH', value: n('globalPrefetch'), align: 'right' },
    ],
  },
};

function clientName(props: unknown): string {
  if (typeof props !== 'object' || props === null) return '-';
  const p = props as Record<string, unknown>;
  const name = [p['product'], p['version']].filter((x) => typeof x === 'string').join(' ');
  return name === '' ? '-' : name;
}

/** `switchyard list queues|exchanges|bindings|consumers|connections|channels`. */
export function registerListCommand(program: Command, io: CliIo): void {
  const cmd = program
    .command('list')
    .description('list queues, exchanges, bindings, consumers, connections or channels')
    .addArgument(new Argument('<what>', 'what to list').choices(Object.keys(KINDS)));
  withClientOptions(cmd, true)
    .addHelpText(
      'after',
      `
Examples:
  $ switchyard list queues
  $ switchyard list connections --url http://127.0.0.1:15680
  $ switchyard list bindings --json | jq '.[] | select(.source == "orders")'`,
    )
    .action(async (what: string, flags: ClientFlags) => {
      const kind = KINDS[what]!;
      const rows = await clientOf(flags).get<Row[]>(kind.path(flags.vhost));
      io.stdout(flags.json ? jsonText(rows) : table(rows, kind.columns));
    });
}
