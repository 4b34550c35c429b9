/**
 * A small client of the broker's Confluent Schema Registry REST API (spec/schemas.md
 * §REST API), on the management port: the SDK's protocol has no registry request, so the
 * schema helpers reach the registry over HTTP with the management credentials.
 */

/** Where the registry is: the broker's management base URL and an administrator's credentials. */
export interface SchemaRegistryOptions {
  /** Management base URL, e.g. `http://localhost:15672` (credentials in the URL are used too). */
  url: string | URL;
  username?: string;
  password?: string;
  /**
   * How long the answer for a subject's `latest` version is reused, in ms (default 30000):
   * a newly registered version is picked up after at most this long. Schemas by id and
   * numbered versions never change and are cached for the client's lifetime.
   */
  latestCacheMs?: number;
}

/** A schema as the registry holds it. */
export interface RegisteredSchema {
  id: number;
  /** `AVRO`, `JSON` or `PROTOBUF`. */
  schemaType: string;
  /** The schema text. */
  schema: string;
}

/** One version of a subject. */
export interface SubjectVersion extends RegisteredSchema {
  subject: string;
  version: number;
}

/** The registry answered with an error (Confluent's `error_code`, e.g. 40401 subject not found), or could not be reached. */
export class SchemaRegistryError extends Error {
  override name = 'SchemaRegistryError';
  constructor(
    message: string,
    /** Confluent's error code (40401, 40402, ...), or the HTTP status when the body had none; 0 when the request failed. */
    readonly errorCode: number,
  ) {
    super(message);
  }
}

/** Bodies over this are refused: a registry answer is a schema of at most 256 KiB plus its envelope. */
const MAX_BODY_CHARS = 1024 * 1024;

/** Fetches schemas from the registry and caches them (by id, by subject and version). */
export class SchemaRegistryClient {
  readonly #base: string;
  readonly #auth: string | undefined;
  readonly #latestMs: number;
  readonly #byId = new Map<number, Promise<RegisteredSchema>>();
  readonly #byVersion = new Map<string, { at: number; value: Promise<SubjectVersion> }>();

  constructor(options: SchemaRegistryOptions) {
    const url = new URL(String(options.url));
    if (url.protocol !== 'http:' && url.protocol !== 'https:')
      throw new TypeError(`schemaRegistry.url must be an http(s) URL (the management port), not ${url.protocol}`);
    const username = options.username ?? decodeURIComponent(url.username);
    const password = options.password ?? decodeURIComponent(url.password);
    url.username = '';
    url.password = '';
    this.#base = url.href.replace(/\/+$/, '');
    this.#auth = username === '' ? undefined : `Basic ${btoa(`${username}:${password}`)}`;
    this.#latestMs = options.latestCacheMs ?? 30_000;
  }

  /** The schema registered under `id` (cached: ids never change). */
  schemaById(id: number): Promise<RegisteredSchema> {
    let hit = this.#byId.get(id);
    if (hit === undefined) {
      hit = this.#get<{ schema: string; schemaType?: string }>(`/schemas/ids/${id}`).then((r) => ({
        id,
        schema: r.schema,
        schemaType: r.schemaType ?? 'AVRO',
      }));
      this.#remember(this.#byId, id, hit);
    }
    return hit;
  }

  /** Version `version` (a number or `latest`) of `subject`; `latest` is re-read after `latestCacheMs`. */
  version(subject: string, version: number | 'latest' = 'latest'): Promise<SubjectVersion> {
    const key = `${version}\u0000${subject}`;
    const hit = this.#byVersion.get(key);
    if (hit !== undefined && (version !== 'latest' || Date.now() - hit.at < this.#latestMs)) return hit.value;
    const value = this.#get<{ subject: string; version: number; id: number; schema: string; schemaType?: string }>(
      `/subjects/${encodeURIComponent(subject)}/versions/${version}`,
    ).then((r) => ({ ...r, schemaType: r.schemaType ?? 'AVRO' }));
    this.#byVersion.set(key, { at: Date.now(), value });
    value.catch(() => this.#byVersion.delete(key)); // a failure is not cached: the next call asks again
    return value;
  }

  /** The `x-schema-subject` / `x-schema-version` arguments of an exchange, from the management API. */
  async exchangeSchema(vhost: string, exchange: string): Promise<{ subject: string; version: number | 'latest' }> {
    const ex = await this.#get<{ arguments?: Record<string, unknown> }>(
      `/api/exchanges/${encodeURIComponent(vhost)}/${encodeURIComponent(exchange)}`,
    );
    const subject = ex.arguments?.['x-schema-subject'];
    if (typeof subject !== 'string')
      throw new SchemaRegistryError(
        `exchange '${exchange}' in vhost '${vhost}' has no x-schema-subject argument: pass options.subject`,
        40401,
      );
    const v = ex.arguments?.['x-schema-version'];
    return { subject, version: typeof v === 'number' ? v : 'latest' };
  }

  #remember<K, V>(map: Map<K, Promise<V>>, key: K, value: Promise<V>): void {
    map.set(key, value);
    value.catch(() => map.delete(key));
  }

  async #get<T>(path: string): Promise<T> {
    let res: Response;
    try {
      res = await fetch(this.#base + path, {
        headers: this.#auth === undefined ? {} : { authorization: this.#auth },
      });
    } catch (err) {
      throw new SchemaRegistryError(`schema registry at ${this.#base} unreachable: ${(err as Error).message}`, 0);
    }
    const text = await res.text();
    if (text.length > MAX_BODY_CHARS)
      throw new SchemaRegistryError(`schema registry answer for ${path} is over ${MAX_BODY_CHARS} characters`, 0);
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      body = undefined;
    }
    if (!res.ok) {
      const b = body as { error_code?: unknown; message?: unknown; error?: unknown; reason?: unknown } | undefined;
      const code = typeof b?.error_code === 'number' ? b.error_code : res.status;
      const why = typeof b?.message === 'string' ? b.message : typeof b?.reason === 'string' ? b.reason : text;
      throw new SchemaRegistryError(`schema registry: GET ${path}: ${why}`, code);
    }
    if (body === undefined || typeof body !== 'object')
      throw new SchemaRegistryError(`schema registry: GET ${path}: answer is not a JSON object`, res.status);
    return body as T;
  }
}
