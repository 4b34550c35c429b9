import { Command, InvalidArgumentError, Option } from 'commander';
import { ManagementClient } from './client.js';

/** Where the client commands find the broker when nothing says otherwise. */
export const DEFAULT_MANAGEMENT_URL = 'http://127.0.0.1:15680';

/** Options every client command takes (after the command: `switchyard list queues --url ...`). */
export interface ClientFlags {
  url: string;
  user?: string;
  password?: string;
  vhost: string;
  timeout: number;
  json?: boolean;
}

export function parseIntArg(min: number, max: number): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (!/^-?\d+$/.test(value) || n < min || n > max)
      throw new InvalidArgumentError(`expected an integer from ${min} to ${max}, got '${value}'.`);
    return n;
  };
}

/** Adds --url/--user/--password/--vhost/--timeout (with their SWITCHYARD_* variables), and --json if asked. */
export function withClientOptions(cmd: Command, json = false): Command {
  cmd
    .addOption(
      new Option('--url <url>', 'management API base URL').env('SWITCHYARD_URL').default(DEFAULT_MANAGEMENT_URL),
    )
    .addOption(
      new Option('--user <name>', 'user name for HTTP Basic authentication').env('SWITCHYARD_USER').default('guest'),
    )
    .addOption(
      new Option('--password <password>', 'password for HTTP Basic authentication')
        .env('SWITCHYARD_PASSWORD')
        .default('guest'),
    )
    .addOption(new Option('--vhost <vhost>', 'virtual host').env('SWITCHYARD_VHOST').default('/'))
    .addOption(
      new Option('--timeout <ms>', 'give up on the broker after this long')
        .env('SWITCHYARD_TIMEOUT')
        .default(10_000)
        .argParser(parseIntArg(1, 3_600_000)),
    );
  if (json) cmd.option('--json', 'print JSON instead of a table (for scripts)');
  return cmd;
}

export function clientOf(flags: ClientFlags): ManagementClient {
  return new ManagementClient({ url: flags.url, user: flags.user, password: flags.password, timeoutMs: flags.timeout });
}

/**
 * `key=value` pairs (repeatable) into a table. The value is read as JSON when it parses
 * (`x-max-length=10` is a number, `flag=true` a boolean), else kept as a string.
 */
export function collectKeyValue(value: string, previous: Record<string, unknown> = {}): Record<string, unknown> {
  const eq = value.indexOf('=');
  if (eq <= 0) throw new InvalidArgumentError(`expected key=value, got '${value}'.`);
  const key = value.slice(0, eq);
  const raw = value.slice(eq + 1);
  let parsed: unknown = raw;
  try {
    parsed = JSON.parse(raw);
  } catch {
    // a plain string
  }
  return { ...previous, [key]: parsed };
}

/** `--arguments '{"x-max-length": 10}'`: a JSON object. */
export function parseJsonObject(value: string): Record<string, unknown> {
  let v: unknown;
  try {
    v = JSON.parse(value);
  } catch (err) {
    throw new InvalidArgumentError(`expected a JSON object: ${(err as Error).message}.`);
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v))
    throw new InvalidArgumentError('expected a JSON object.');
  return v as Record<string, unknown>;
}

/** Writes JSON for `--json`: pretty, newline-terminated. */
export function jsonText(value: unknown): string {
  return JSON.stringify(value, null, 2) + '\n';
}
