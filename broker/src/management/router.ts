import type { IncomingMessage } from 'node:http';
import { HttpError } from './http-util.js';

/** What a handler answers: JSON (the default), text, or no content. */
export type Reply =
  | { status?: number; json: unknown; headers?: Record<string, string> }
  | { status?: number; text: string | Buffer; contentType: string }
  /** A body written in chunks by `write`, each resolving when the next may follow (large pages). */
  | { status?: number; stream: (write: (chunk: string) => Promise<void>) => Promise<void>; contentType: string }
  | { status: 204 };

/** A request as handlers see it: decoded path parameters, the query, the body on demand. */
export interface RequestContext {
  req: IncomingMessage;
  params: Record<string, string>;
  query: URLSearchParams;
  body(): Promise<Record<string, unknown>>;
}

export type Handler = (ctx: RequestContext) => Reply | Promise<Reply>;

interface Route {
  method: string;
  segments: string[];
  handler: Handler;
}

/**
 * A small method + path router. Patterns are `/`-separated with `:name` parameters, each
 * matching one percent-decoded segment (so a vhost `/` travels as `%2F`, as in RabbitMQ).
 */
export class Router {
  private readonly routes: Route[] = [];

  add(method: string, pattern: string, handler: Handler): this {
    this.routes.push({ method, segments: pattern.split('/').slice(1), handler });
    return this;
  }

  /** The handler and parameters for a request; 404 for an unknown path, 405 for a known path with another method. */
  match(method: string, rawPath: string): { handler: Handler; params: Record<string, string> } {
    const parts = rawPath.split('/').slice(1);
    let decoded: string[];
    try {
      decoded = parts.map((p) => decodeURIComponent(p));
    } catch {
      throw new HttpError(400, 'bad_request', `malformed percent-encoding in path ${rawPath}`);
    }
    const allowed: string[] = [];
    for (const route of this.routes) {
      const params = matchSegments(route.segments, decoded);
      if (params === undefined) continue;
      if (route.method === method || (method === 'HEAD' && route.method === 'GET'))
        return { handler: route.handler, params };
      allowed.push(route.method);
    }
    if (allowed.length > 0) {
      throw new HttpError(
        405,
        'method_not_allowed',
        `${method} is not supported on ${rawPath}; use ${[...new Set(allowed)].join(', ')}`,
      );
    }
    throw new HttpError(404, 'not_found', `no endpoint ${rawPath}; see spec/management.md`);
  }
}

function matchSegments(pattern: string[], path: string[]): Record<string, string> | undefined {
  if (pattern.length !== path.length) return undefined;
  const params: Record<string, string> = {};
  for (let i = 0; i < pattern.length; i++) {
    const p = pattern[i]!;
    if (p.startsWith(':')) params[p.slice(1)] = path[i]!;
    else if (p !== path[i]) return undefined;
  }
  return params;
}
