import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { BrokerHost as Broker } from '../broker-host.js';
import { createListener, listenOn, socketEvent, watchAcceptErrors } from '../transports/listen.js';
import type { Logger } from '../logging.js';
import { toHttpError } from './errors.js';
import { throttledMessage } from '../auth/login-throttle.js';
import { clip } from '../log-clip.js';
import { checkRequest } from './guard.js';
import { HttpError, readJsonBody, SECURITY_HEADERS, sendJson, sendNoContent, sendText } from './http-util.js';
import { RateSampler, type RateSamplerOptions } from './rates.js';
import { createRoutes } from './routes.js';
import type { Router } from './router.js';
import { StaticFiles } from './static-files.js';

/** A management request (a definitions import at most) must be in within this time. */
const MANAGEMENT_REQUEST_TIMEOUT_MS = 60_000;

export interface ManagementServerOptions {
  /** Counter sampling for rates and history. */
  sampling?: RateSamplerOptions;
}

/**
 * The management port: the HTTP API (JSON), Prometheus `/metrics` and the web dashboard at
 * `/`. spec/management.md lists the endpoints; administrators only (see guard.ts and authenticate).
 */
export class ManagementServer {
  readonly sampler: RateSampler;
  private readonly server: Server;
  private readonly router: Router;
  private readonly log: Logger;
  private host = '127.0.0.1';

  constructor(
    private readonly broker: Broker,
    options: ManagementServerOptions = {},
  ) {
    this.log = broker.logger.child({ component: 'management' });
    this.sampler = new RateSampler(
      function* () {
        for (const v of broker.allVhosts()) yield* v.allQueues();
      },
      () => broker.stats.published,
      options.sampling,
    );
    this.router = createRoutes(broker, this.sampler, new StaticFiles());
    // A request has the handshake timeout for its headers and a minute in all (a definitions
    // import is the largest body); an idle socket is dropped, whether it ever sent a byte or not.
    this.server = createListener(
      broker.options,
      (req, res) => void this.handle(req, res),
      MANAGEMENT_REQUEST_TIMEOUT_MS,
    );
    // Keep-alive sockets from the dashboard must not hold shutdown up.
    this.server.keepAliveTimeout = 5_000;
    const idleMs = broker.options.handshakeTimeoutMs;
    if (idleMs > 0) {
      // Before the first request only; then the request timeouts and keepAliveTimeout apply
      // (a slow handler must not lose its socket).
      this.server.on(socketEvent(broker.options), (socket: Socket) =>
        socket.setTimeout(idleMs, () => socket.destroy()),
      );
      this.server.on('request', (req: IncomingMessage) => req.socket.setTimeout(0));
    }
    watchAcceptErrors(this.server, 'management', this.log);
  }

  get port(): number | undefined {
    return (this.server.address() as AddressInfo | null)?.port;
  }

  async listen(port: number, host: string): Promise<void> {
    this.host = host;
    await listenOn(this.server, port, host, 'management');
    this.sampler.start();
  }

  close(): Promise<void> {
    this.sampler.stop();
    if (!this.server.listening) return Promise.resolve();
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const method = req.method ?? 'GET';
    const url = new URL(req.url ?? '/', 'http://localhost');
    try {
      checkRequest(req, this.host);
      if (url.pathname !== '/metrics' && url.pathname !== '/metrics/per-object' && url.pathname !== '/api/health')
        await this.authenticate(req);
      const { handler, params } = this.router.match(method, url.pathname);
      const reply = await handler({ req, params, query: url.searchParams, body: () => readJsonBody(req) });
      if ('json' in reply) sendJson(res, reply.status ?? 200, reply.json);
      else if ('text' in reply) sendText(res, reply.status ?? 200, reply.contentType, reply.text);
      else if ('stream' in reply) {
        res.writeHead(reply.status ?? 200, { 'content-type': reply.contentType, ...SECURITY_HEADERS });
        if (method !== 'HEAD' && !(await streamTo(res, reply.stream))) return;
        res.end();
      } else sendNoContent(res);
      // Topology and admin actions at info; per-message actions (publish, get) only at debug.
      if (method !== 'GET' && method !== 'HEAD') {
        const perMessage = url.pathname.endsWith('/publish') || url.pathname.endsWith('/get');
        this.log.log(perMessage ? 'debug' : 'info', 'management action', {
          method,
          path: url.pathname,
          status: res.statusCode,
        });
      }
    } catch (err) {
      const e = toHttpError(err);
      if (e.status >= 500)
        this.log.error('management request failed', {
          method,
          path: url.pathname,
          error: err instanceof Error ? err.stack : String(err),
        });
      else
        this.log.debug('management request refused', {
          method,
          path: url.pathname,
          status: e.status,
          error: e.message,
        });
      if (e.status === 401) res.setHeader('www-authenticate', 'Basic realm="switchyard"');
      if (e.status === 429) res.setHeader('retry-after', String(e.extra.retryAfterSeconds ?? 60));
      // Drain what is left of a refused body so the connection can be reused.
      req.resume();
      if (!res.headersSent) sendJson(res, e.status, e.toJSON());
      else res.destroy();
    }
  }

  /**
   * HTTP Basic authentication of a user tagged `administrator` (guest: loopback only), on
   * every endpoint but `/metrics` and `/api/health`, which scrapers and probes read.
   */
  private async authenticate(req: IncomingMessage): Promise<void> {
    const header = req.headers.authorization;
    if (header === undefined)
      throw new HttpError(
        401,
        'unauthorized',
        'the management API needs HTTP Basic credentials of a user tagged administrator',
      );
    const m = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header);
    if (m === null) throw new HttpError(401, 'unauthorized', 'only HTTP Basic authentication is supported');
    const decoded = Buffer.from(m[1]!, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    const [user, password] = colon < 0 ? [decoded, ''] : [decoded.slice(0, colon), decoded.slice(colon + 1)];
    const access = this.broker.access;
    const peer = req.socket.remoteAddress ?? 'unknown';
    const throttle = this.broker.loginThrottle;
    const wait = throttle?.retryAfterMs(peer) ?? 0;
    // HTTP's own answer for "slow down" (RFC 6585), with the delay in Retry-After.
    if (wait > 0)
      throw new HttpError(429, 'too_many_requests', throttledMessage(peer, wait), {
        retryAfterSeconds: Math.ceil(wait / 1000),
      });
    if (!(await access.checkPassword(user, password))) {
      throttle?.failed(peer);
      throw new HttpError(401, 'unauthorized', `login refused: user '${clip(user)}' - invalid credentials`);
    }
    throttle?.succeeded(peer);
    if (!access.isAdministrator(user))
      throw new HttpError(403, 'access_refused', `user '${user}' is not tagged administrator`);
    if (!access.mayLogInFrom(user, req.socket.remoteAddress)) {
      throw new HttpError(403, 'access_refused', `user '${user}' can only connect via localhost`);
    }
  }
}

/**
 * Runs a streamed body: each chunk is written, then the event loop runs (setImmediate, or the
 * socket's drain when its buffer is full) before the next. False if the client went away.
 */
async function streamTo(
  res: ServerResponse,
  body: (write: (chunk: string) => Promise<void>) => Promise<void>,
): Promise<boolean> {
  const write = (chunk: string): Promise<void> =>
    new Promise((resolve, reject) => {
      if (res.destroyed) return reject(new ClientGone());
      if (chunk === '' || res.write(chunk)) return void setImmediate(resolve);
      const done = (): void => {
        res.off('drain', done);
        res.off('close', done);
        if (res.destroyed) reject(new ClientGone());
        else resolve();
      };
      res.on('drain', done);
      res.on('close', done);
    });
  try {
    await body(write);
    return true;
  } catch (err) {
    if (err instanceof ClientGone) return false;
    throw err;
  }
}

class ClientGone extends Error {}
