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
      throw new CliError(`invalid --url '${options.url}': the management API speaks http(s), not ${url.protocol.replace(':', '')}`);
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
  async request<T = unknown>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<T> {
    let res: Response;
    try {
      res = await fetch(this.base + path, {
        method,
        headers: { ...this.headers, ...headers, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(this.options.timeoutMs),
      });
    } catch (err) {
      throw new CliError(`cannot reach the management API at ${this.base}: ${describeFetchError(err, this.options.timeoutMs)} (is the broker running? set --url or SWITCHYARD_URL)`, EXIT.UNREACHABLE);
    }
    const text = await res.text();
    let parsed: unknown;
    try {
      parsed = text === '' ? undefined : JSON.parse(text);
    } catch {
      throw new CliError(`unexpected answer from ${this.base}${path} (HTTP ${res.status}): not JSON — is --url the management port?`);
    }
    if (!res.ok) {
      const e = (parsed ?? {}) as { error?: string; reason?: string; code?: number };
      const detail = e.code !== undefined ? `${e.error} ${e.code}` : `HTTP ${res.status}`;
      throw new CliError(`${e.reason ?? `HTTP ${res.status} ${res.statusText}`} (${detail})`, exitCodeForStatus(res.status));
    }
    return parsed as T;
  }
}

function describeFetchError(err: unknown, timeoutMs: number): string {
  if (err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError')) return `no answer within ${timeoutMs} ms`;
  const cause = err instanceof Error ? (err.cause as { code?: string; message?: string } | undefined) : undefined;
  return cause?.message ?? cause?.code ?? (err instanceof Error ? err.message : String(err));
}

/** A path segment: `/` (the default vhost) becomes `%2F`, as the API expects. */
export function seg(value: string): string {
  return encodeURIComponent(value);
}
