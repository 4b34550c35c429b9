import { readFileSync } from 'node:fs';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import type { ResolvedOptions } from '../../config.js';
import type { Logger } from '../../logging.js';
import { listenOn, watchAcceptErrors } from '../listen.js';
import { PendingSockets } from '../ws/pending-sockets.js';

/**
 * The AMQP 0-9-1 port (plain TCP, or TLS for amqps:// with the broker's `tls` files). Sockets
 * that have not logged in yet are bounded and timed out as on the WebSocket port
 * (spec/security.md §Limits); each accepted socket is handed over with a callback that marks
 * it logged in. spec/amqp.md.
 */
export class AmqpListener {
  private readonly sockets = new Set<Socket>();

  private constructor(private readonly server: Server) {}

  static async listen(
    o: ResolvedOptions,
    port: number,
    tls: boolean,
    log: Logger,
    accept: (socket: Socket, authenticated: () => void) => void,
  ): Promise<AmqpListener> {
    let server: Server;
    if (tls) {
      const t = o.tls!;
      try {
        server = createTlsServer({
          cert: readFileSync(t.certFile),
          key: readFileSync(t.keyFile),
          ...(t.caFile !== undefined ? { ca: readFileSync(t.caFile) } : {}),
          handshakeTimeout: o.handshakeTimeoutMs > 0 ? o.handshakeTimeoutMs : 60_000,
        });
      } catch (err) {
        throw new Error(`cannot load TLS files: ${(err as Error).message}`, { cause: err });
      }
    } else server = createServer();
    const listener = new AmqpListener(server);
    const pending = new PendingSockets(o.maxPendingConnections, o.handshakeTimeoutMs, log);
    server.on(tls ? 'secureConnection' : 'connection', (socket: Socket) => {
      pending.admit(socket);
      if (socket.destroyed) return;
      listener.sockets.add(socket);
      socket.once('close', () => listener.sockets.delete(socket));
      accept(socket, () => {
        pending.settle(socket);
        socket.setTimeout(0);
      });
    });
    // A TLS handshake that fails is the peer's problem, not the listener's.
    server.on('tlsClientError', () => undefined);
    watchAcceptErrors(server, tls ? 'amqps' : 'amqp', log);
    await listenOn(server, port, o.host, tls ? 'amqps' : 'amqp', ' (--amqp-port) or turn AMQP off (--no-amqp)');
    return listener;
  }

  /** The port actually bound (useful with port 0). */
  get port(): number {
    return (this.server.address() as AddressInfo | null)?.port ?? 0;
  }

  stopAccepting(): void {
    this.server.close();
  }

  /** Drops whatever is still connected and closes the listener. */
  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
