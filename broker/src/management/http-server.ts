import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Broker } from '../broker.js';
import { listenOn } from '../broker.js';
import { describeConnections, describeExchanges, describeOverview, describeQueues } from './views.js';

/**
 * The management HTTP API (JSON) on the management port. spec/management.md lists the
 * endpoints. Loopback-only by default until users and authentication exist.
 */
export class ManagementServer {
  private readonly server: Server;

  constructor(private readonly broker: Broker) {
    this.server = createServer((req, res) => this.handle(req, res));
  }

  get port(): number | undefined {
    return (this.server.address() as AddressInfo | null)?.port;
  }

  listen(port: number, host: string): Promise<void> {
    return listenOn(this.server, port, host, 'management');
  }

  close(): Promise<void> {
    if (!this.server.listening) return Promise.resolve();
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (req.method !== 'GET') return send(res, 405, { error: 'method_not_allowed', reason: `${req.method} is not supported on ${url.pathname}` });
    switch (url.pathname) {
      case '/api/overview':
        return send(res, 200, describeOverview(this.broker));
      case '/api/queues':
        return send(res, 200, describeQueues(this.broker));
      case '/api/exchanges':
        return send(res, 200, describeExchanges(this.broker));
      case '/api/connections':
        return send(res, 200, describeConnections(this.broker));
      case '/api/health':
        return send(res, 200, { status: 'ok' });
      default:
        return send(res, 404, { error: 'not_found', reason: `no endpoint ${url.pathname}; see spec/management.md` });
    }
  }
}

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}
