import type { Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { WebSocketServer } from 'ws';
import type { ResolvedOptions } from '../../config.js';
import type { Logger } from '../../logging.js';
import type { FrameConnection } from '../../server/frame-connection.js';
import { createListener, listenOn, socketEvent, watchAcceptErrors } from '../listen.js';
import { isOriginAllowed } from './origin-policy.js';
import { PendingSockets } from './pending-sockets.js';
import { WsFrameConnection } from './ws-frame-connection.js';

/**
 * The client port for our frame protocol over WebSocket (spec/protocol.md §1. Transport): HTTP(S)
 * upgrade, origin policy, the pre-login socket bound and timeouts (spec/security.md §Limits).
 * Each accepted WebSocket is handed over as a FrameConnection; what runs on it is not this
 * file's business.
 */
export class WsListener {
  private constructor(
    private readonly server: Server,
    private readonly wss: WebSocketServer,
  ) {}

  /** Starts listening; `accept` receives every upgraded connection. */
  static async listen(o: ResolvedOptions, log: Logger, accept: (conn: FrameConnection) => void): Promise<WsListener> {
    const server = createListener(o, (_req, res) => {
      res
        .writeHead(426, { 'content-type': 'text/plain' })
        .end('Switchyard speaks WebSocket on this port: connect with @switchyard/client\n');
    });
    const pending = new PendingSockets(o.maxPendingConnections, o.handshakeTimeoutMs, log);
    // With TLS, the socket that requests and ws see (and that logs in) is the TLS one.
    server.on(socketEvent(o), (socket: Socket) => pending.admit(socket));
    watchAcceptErrors(server, 'client', log);
    // One WebSocket message may batch several frames; a single frame is checked against
    // maxFrameBytes by the codec, which answers with a clear FRAME_ERROR.
    const wss = new WebSocketServer({
      server,
      maxPayload: o.maxFrameBytes * 2,
      perMessageDeflate: false,
      verifyClient: (info, done) => {
        if (isOriginAllowed(info.origin, o.allowedOrigins)) return done(true);
        log.warn('websocket upgrade refused: origin not allowed', {
          component: 'broker',
          origin: info.origin,
          peer: info.req.socket.remoteAddress,
        });
        done(false, 403, `origin ${info.origin} is not in allowedOrigins`);
      },
    });
    // The http server's errors (EADDRINUSE) are reported by listenOn; ws re-emits them here.
    wss.on('error', () => undefined);
    wss.on('connection', (ws, req) => {
      const socket = req.socket;
      accept(new WsFrameConnection(ws, socket.remoteAddress ?? 'unknown', () => pending.settle(socket)));
    });
    const listener = new WsListener(server, wss);
    try {
      await listenOn(server, o.port, o.host, 'client');
    } catch (err) {
      await listener.close();
      throw err;
    }
    return listener;
  }

  /** The port actually bound (useful with `port: 0`). */
  get port(): number {
    return (this.server.address() as AddressInfo | null)?.port ?? 0;
  }

  /** Stops accepting new connections; open ones carry on until `close`. */
  stopAccepting(): void {
    this.server.close();
  }

  /** Drops whatever is still connected and closes the listener. */
  async close(): Promise<void> {
    this.server.close();
    for (const client of this.wss.clients) client.terminate();
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
    this.server.closeAllConnections();
  }
}
