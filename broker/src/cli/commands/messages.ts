import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { seg } from '../client.js';
import { clientOf, collectKeyValue, jsonText, parseIntArg, withClientOptions, type ClientFlags } from '../common.js';
import { CliError, EXIT } from '../exit-codes.js';
import { table, truncate } from '../output.js';
import type { CliIo } from '../io.js';
import { exchangeSeg } from './topology.js';

interface PublishFlags extends ClientFlags {
  file?: string;
  base64?: boolean;
  persistent?: boolean;
  mandatory?: boolean;
  contentType?: string;
  messageId?: string;
  correlationId?: string;
  replyTo?: string;
  expiration?: number;
  priority?: number;
  header?: Record<string, unknown>;
}

/** Reads all of stdin (for `publish` without a payload argument, and `definitions import -`). */
export async function readStdin(): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin as AsyncIterable<Buffer>) chunks.push(chunk);
  return Buffer.concat(chunks);
}

async function payloadOf(
  arg: string | undefined,
  f: PublishFlags,
): Promise<{ payload: string; payloadEncoding: 'string' | 'base64' }> {
  if (arg !== undefined && f.file !== undefined)
    throw new CliError('give the payload as an argument or with --file, not both');
  if (arg !== undefined)
    return f.base64 ? { payload: arg, payloadEncoding: 'base64' } : { payload: arg, payloadEncoding: 'string' };
  let bytes: Buffer;
  if (f.file !== undefined && f.file !== '-') {
    try {
      bytes = await readFile(f.file);
    } catch (err) {
      throw new CliError(`cannot read --file '${f.file}': ${(err as Error).message}`);
    }
  } else if (f.file === '-' || !process.stdin.isTTY) {
    bytes = await readStdin();
  } else {
    throw new CliError('no payload: give it as an argument, with --file <path>, or on stdin');
  }
  return { payload: bytes.toString('base64'), payloadEncoding: 'base64' };
}

/** `switchyard publish <exchange> <routing-key> [payload]`. */
export function registerPublishCommand(program: Command, io: CliIo): void {
  const cmd = program
    .command('publish')
    .description('publish one message (answers once it is stored)')
    .argument('<exchange>', "exchange name; '' or amq.default for the default exchange")
    .argument('<routing-key>', 'routing key (for the default exchange: the queue name)')
    .argument('[payload]', 'message body; read from --file or stdin when absent');
  withClientOptions(cmd, true)
    .option('-f, --file <path>', "read the body from a file ('-' = stdin)")
    .option('--base64', 'the payload argument is base64')
    .option('--persistent', 'store the message durably in durable queues')
    .option('--mandatory', `fail with exit code ${EXIT.UNROUTABLE} when no queue matches`)
    .option('--content-type <type>', 'content type property')
    .option('--message-id <id>', 'message id property')
    .option('--correlation-id <id>', 'correlation id property')
    .option('--reply-to <queue>', 'reply-to property')
    .option('--expiration <ms>', 'per-message TTL in milliseconds', parseIntArg(0, 2 ** 31 - 1))
    .option('--priority <n>', 'priority (queues with x-max-priority)', parseIntArg(0, 255))
    .option(
      '-H, --header <key=value>',
      'a header, repeatable; values are read as JSON when they parse',
      collectKeyValue,
    )
    .addHelpText(
      'after',
      `
Examples:
  $ switchyard publish orders eu '{"id": 42}' --content-type application/json --persistent
  $ switchyard publish '' jobs 'hello'          # default exchange: straight to queue 'jobs'
  $ cat report.pdf | switchyard publish files reports -H kind=pdf`,
    )
    .action(async (exchange: string, routingKey: string, payloadArg: string | undefined, f: PublishFlags) => {
      const properties: Record<string, unknown> = {};
      if (f.persistent) properties['persistent'] = true;
      if (f.contentType !== undefined) properties['contentType'] = f.contentType;
      if (f.messageId !== undefined) properties['messageId'] = f.messageId;
      if (f.correlationId !== undefined) properties['correlationId'] = f.correlationId;
      if (f.replyTo !== undefined) properties['replyTo'] = f.replyTo;
      if (f.expiration !== undefined) properties['expiration'] = String(f.expiration);
      if (f.priority !== undefined) properties['priority'] = f.priority;
      if (f.header !== undefined) properties['headers'] = f.header;
      const body = { routingKey, ...(await payloadOf(payloadArg, f)), properties };
      const r = await clientOf(f).request<{ routed: boolean; queues: number; delayed?: boolean; duplicate?: boolean }>(
        'POST',
        `/api/exchanges/${seg(f.vhost)}/${exchangeSeg(exchange)}/publish`,
        body,
      );
      if (f.json) io.stdout(jsonText(r));
      if (!r.routed) {
        if (f.mandatory)
          throw new CliError(
            `message was not routed: exchange '${exchange}' has no binding matching routing key '${routingKey}'`,
            EXIT.UNROUTABLE,
          );
        io.stderr(`switchyard: warning: message published but not routed to any queue\n`);
      } else if (f.json) return;
      else if (r.duplicate) io.stdout(`duplicate: dropped by the exchange's deduplication window\n`);
      else if (r.delayed) io.stdout('published; held back by its x-delay header until due\n');
      else io.stdout(`published to ${r.queues} ${r.queues === 1 ? 'queue' : 'queues'}\n`);
    });
}

interface GotMessage {
  exchange: string;
  routingKey: string;
  redelivered: boolean;
  messageCount: number;
  properties: Record<string, unknown> | null;
  payload: string;
  payloadEncoding: string;
  payloadBytes: number;
}

/** `switchyard get <queue>`. */
export function registerGetCommand(program: Command, io: CliIo): void {
  const cmd = program
    .command('get')
    .description('show messages at the head of a queue without taking them (--ack takes them)')
    .argument('<queue>', 'queue name');
  withClientOptions(cmd, true)
    .option('-c, --count <n>', 'how many messages', parseIntArg(1, 10_000), 1)
    .option('--ack', 'acknowledge (remove) the messages instead of peeking')
    .option(
      '--requeue',
      "RabbitMQ's get-and-requeue: deliver and requeue them (marked redelivered, counted toward x-delivery-limit)",
    )
    .option('--base64', 'always show payloads as base64')
    .addHelpText(
      'after',
      '\nExamples:\n  $ switchyard get orders              # peek: the queue and the message are left as they were\n  $ switchyard get orders --count 10 --json\n  $ switchyard get orders --ack        # take it off the queue\n',
    )
    .action(
      async (queue: string, f: ClientFlags & { count: number; ack?: boolean; requeue?: boolean; base64?: boolean }) => {
        if (f.ack && f.requeue) throw new CliError('give --ack or --requeue, not both');
        const mode = f.ack ? 'ack' : f.requeue ? 'requeue' : 'peek';
        const body = { count: f.count, ackMode: mode, encoding: f.base64 ? 'base64' : 'auto' };
        const messages = await clientOf(f).request<GotMessage[]>(
          'POST',
          `/api/queues/${seg(f.vhost)}/${seg(queue)}/get`,
          body,
        );
        if (f.json) return io.stdout(jsonText(messages));
        if (messages.length === 0) return io.stdout(`queue '${queue}' has no ready messages\n`);
        const rows = messages.map((m, i) => ({ ...m, n: i + 1 }));
        io.stdout(
          table(rows, [
            { header: '#', value: (m) => m.n, align: 'right' },
            { header: 'EXCHANGE', value: (m) => (m.exchange === '' ? '(AMQP default)' : m.exchange) },
            { header: 'ROUTING KEY', value: (m) => m.routingKey },
            { header: 'REDELIVERED', value: (m) => m.redelivered },
            { header: 'BYTES', value: (m) => m.payloadBytes, align: 'right' },
            {
              header: 'PAYLOAD',
              value: (m) => truncate((m.payloadEncoding === 'base64' ? 'base64:' : '') + m.payload, 60),
            },
            {
              header: 'PROPERTIES',
              value: (m) =>
                m.properties === null || Object.keys(m.properties).length === 0
                  ? '-'
                  : truncate(JSON.stringify(m.properties), 60),
            },
          ]),
        );
        const last = messages[messages.length - 1]!.messageCount;
        const ready = f.ack ? last : last + messages.length;
        const done = { ack: 'acknowledged', requeue: 'requeued', peek: 'shown (left in place)' }[mode];
        io.stdout(
          `${messages.length} ${messages.length === 1 ? 'message' : 'messages'} ${done}; queue '${queue}' has ${ready} ready\n`,
        );
      },
    );
}
