import type { Socket } from 'node:net';
import type { Logger } from '../../logging.js';

/**
 * Sockets on the client port that have not logged in yet: TCP connected, maybe upgraded to
 * WebSocket, `hello` not yet accepted. They are bounded on their own (maxPendingConnections),
 * so sockets that never say hello cannot take the places of real clients (maxConnections
 * counts only logged-in connections), and each one is dropped after the handshake timeout
 * however far it got: an HTTP request that never ends its headers, an upgrade that never
 * completes, a WebSocket that never sends hello (that last one ClientConnection times out).
 * spec/security.md §Limits.
 */
export class PendingSockets {
  private readonly sockets = new Set<Socket>();
  private refusedLogged = 0;

  constructor(
    private readonly max: number,
    private readonly timeoutMs: number,
    private readonly log: Logger,
  ) {}

  get size(): number {
    return this.sockets.size;
  }

  /** A new TCP connection: refused at once beyond the limit, else timed out while idle. */
  admit(socket: Socket): void {
    if (this.sockets.size >= this.max) {
      const now = Date.now();
      if (now - this.refusedLogged > 10_000) {
        this.refusedLogged = now;
        this.log.warn('too many connections waiting to log in: refusing new sockets (maxPendingConnections)', {
          component: 'broker',
          pending: this.sockets.size,
          limit: this.max,
        });
      }
      socket.destroy();
      return;
    }
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
    // Idle time before the upgrade; ws clears this timeout once it owns the socket, and the
    // connection's own handshake timer takes over until hello.
    if (this.timeoutMs > 0) {
      socket.setTimeout(this.timeoutMs);
      socket.once('timeout', () => socket.destroy());
    }
  }

  /** The socket's connection logged in: it no longer counts as pending. */
  settle(socket: Socket): void {
    this.sockets.delete(socket);
  }
}
