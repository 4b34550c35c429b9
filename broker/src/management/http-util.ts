import type { IncomingMessage, ServerResponse } from 'node:http';

/** Largest request body the management API reads (a definitions file can be large). */
export const MAX_BODY_BYTES = 64 * 1024 * 1024;

/**
 * An HTTP error with the JSON body the API answers with:
 * `{ error, reason, code?, field? }` (spec/management.md §Errors).
 */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    /** Stable machine-readable name: `bad_request`, `not_found`, or an AMQP reply name. */
    readonly error: string,
    reason: string,
    readonly extra: { code?: number; field?: string; retryAfterSeconds?: number } = {},
  ) {
    super(reason);
    this.name = 'HttpError';
  }

  toJSON(): Record<string, unknown> {
    return { error: this.error, reason: this.message, ...this.extra };
  }
}

/** 400 for a request body or query field that is missing or of the wrong type. */
export function badField(field: string, problem: string): HttpError {
  return new HttpError(400, 'bad_request', `field "${field}": ${problem}`, { field });
}

export function notFound(reason: string): HttpError {
  return new HttpError(404, 'not_found', reason);
}

/**
 * On every response of the management port: no MIME sniffing, no caching, never framed
 * (clickjacking of the dashboard's purge/delete buttons), and a CSP that lets the dashboard
 * load only its own files and talk only to its own origin (spec/management.md §Dashboard).
 */
export const SECURITY_HEADERS = {
  'x-content-type-options': 'nosniff',
  'cache-control': 'no-store',
  'x-frame-options': 'DENY',
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
  'referrer-policy': 'no-referrer',
};

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body, jsonReplacer);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...SECURITY_HEADERS }).end(text);
}

export function sendNoContent(res: ServerResponse): void {
  res.writeHead(204, SECURITY_HEADERS).end();
}

export function sendText(res: ServerResponse, status: number, contentType: string, body: string | Buffer): void {
  res.writeHead(status, { 'content-type': contentType, ...SECURITY_HEADERS }).end(body);
}

/** BigInts (msgpack may decode large integers as bigint) and byte arrays survive JSON. */
function jsonReplacer(_key: string, value: unknown): unknown {
  if (typeof value === 'bigint') return Number.isSafeInteger(Number(value)) ? Number(value) : value.toString();
  if (value instanceof Uint8Array) return { type: 'bytes', base64: Buffer.from(value).toString('base64') };
  return value;
}

const STRICT_UTF8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Reads and parses a JSON request body. An empty body is `{}`. Anything else than a JSON
 * object, or a body that is not declared `application/json`, is a 400/415.
 */
const CONFLUENT_JSON_TYPES = new Set(['application/vnd.schemaregistry.v1+json', 'application/vnd.schemaregistry+json']);

export async function readJsonBody(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES)
      throw new HttpError(413, 'payload_too_large', `request body is larger than ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk);
  }
  if (size === 0) return {};
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  // Confluent's Schema Registry clients send their own JSON media types (spec/schemas.md §REST API);
  // like application/json, no HTML form can send them.
  if (type !== 'application/json' && !CONFLUENT_JSON_TYPES.has(type)) {
    // Also what keeps a cross-site HTML form from driving the API (spec/management.md §Access).
    throw new HttpError(
      415,
      'unsupported_media_type',
      `send the body as JSON with 'content-type: application/json' (got '${type || 'none'}')`,
    );
  }
  let text: string;
  try {
    // JSON is UTF-8 (RFC 8259): invalid bytes are refused, never turned into U+FFFD in a name.
    text = STRICT_UTF8.decode(Buffer.concat(chunks));
  } catch {
    throw new HttpError(400, 'bad_request', 'request body is not valid UTF-8');
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new HttpError(400, 'bad_request', `request body is not valid JSON: ${(err as Error).message}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new HttpError(400, 'bad_request', 'request body must be a JSON object');
  }
  return parsed as Record<string, unknown>;
}
