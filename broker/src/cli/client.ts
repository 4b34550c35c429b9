import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { CliError, EXIT, exitCodeForStatus } from './exit-codes.js';

/** How the CLI reaches the management API: `--url`, `--user`, `--password` (or SWITCHYARD_* env vars). */
export interface ClientOptions {
  url: string;
  user?: string;
  password?: string;
  timeoutMs: number;
}

/** A minimal JSON client for the management API, turning failures into {@link CliError}s. */
export class ManagementClient {
  private readonly base: string;
  private readonly headers: Record<string, string> = { accept: 'application/json' };

  constructor(private readonly options: ClientOptions) {
    let url: URL;
    try {
      url = new URL(options.url);
    } catch {
      throw new CliError(`invalid --url '${options.url}': expected e.g. http://127.0.0.1:15680`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new CliError(
        `invalid --url '${options.url}': the management API speaks http(s), not ${url.protocol.replace(':', '')}`,
      );
    }
    this.base = url.href.replace(/\/+$/, '');
    if (options.user !== undefined) {
      const token = Buffer.from(`${options.user}:${options.password ?? ''}`).toString('base64');
      this.headers['authorization'] = `Basic ${token}`;
    }
  }

  get url(): string {
    return this.base;
  }

  get<T = unknown>(path: string): Promise<T> {
    return this.request<T>('GET', path);
  }

  /** Sends a request; resolves with the parsed JSON body (undefined for 204). */
  async request<T = unknown>(
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<T> {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    let res: { status: number; statusText: string; text: string };
    try {
      res = await this.send(method, path, payload, {
        ...this.headers,
        ...headers,
        ...(payload === undefined ? {} : { 'content-type': 'application/json' }),
      });
    } catch (err) {
      throw new CliError(
        `cannot reach the management API at ${this.base}: ${(err as Error).message} (is the broker running? set --url or SWITCHYARD_URL)`,
        EXIT.UNREACHABLE,
      );
    }
    let parsed: unknown;
    try {
      parsed = res.text === '' ? undefined : JSON.parse(res.text);
    } catch {
      throw new CliError(
        `unexpected answer from ${this.base}${path} (HTTP ${res.status}): not JSON — is --url the management port?`,
      );
    }
    if (res.status >= 400) {
      // The management API's `{error, reason, code}`, or the schema registry's Confluent
      // `{error_code, message}` (spec/schemas.md §Errors).
      const e = (parsed ?? {}) as {
        error?: string;
        reason?: string;
        code?: number;
        error_code?: number;
        message?: string;
      };
      const detail =
        e.code !== undefined
          ? `${e.error} ${e.code}`
          : e.error_code !== undefined
            ? `error ${e.error_code}`
            : `HTTP ${res.status}`;
      throw new CliError(
        `${e.reason ?? e.message ?? `HTTP ${res.status} ${res.statusText}`} (${detail})`,
        exitCodeForStatus(res.status),
      );
    }
    return parsed as T;
  }

  /** node:http rather than fetch: it loads faster, which matters for a CLI run per command. */
  private send(
    method: string,
    path: string,
    payload: Buffer | undefined,
    headers: Record<string, string>,
  ): Promise<{ status: number; statusText: string; text: string }> {
    const url = new URL(this.base + path);
    const request = url.protocol === 'https:' ? httpsRequest : httpRequest;
    return new Promise((resolve, reject) => {
      const options = {
        method,
        headers: payload === undefined ? headers : { ...headers, 'content-length': String(payload.length) },
      };
      const req = request(url, options, (res: IncomingMessage) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            statusText: res.statusMessage ?? '',
            text: Buffer.concat(chunks).toString('utf8'),
          }),
        );
        res.on('error', reject);
      });
      req.setTimeout(this.options.timeoutMs, () =>
        req.destroy(new Error(`no answer within ${this.options.timeoutMs} ms`)),
      );
      req.on('error', (err: NodeJS.ErrnoException) =>
        reject(
          err.code === 'ECONNREFUSED'
            ? new Error(`connection refused (${err.message.replace(/^connect ECONNREFUSED /, '')})`)
            : err,
        ),
      );
      req.end(payload);
    });
  }
}

/** A path segment: `/` (the default vhost) becomes `%2F`, as the API expects. */
export function seg(value: string): string {
  return encodeURIComponent(value);
}
