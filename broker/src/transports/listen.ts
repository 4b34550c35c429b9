import { readFileSync } from 'node:fs';
import { createServer, type RequestListener, type Server } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { Server as NetServer } from 'node:net';
import type { ResolvedOptions } from '../config.js';
import type { Logger } from '../logging.js';

// HTTP(S) listening shared by the WebSocket transport and the management server: TLS,
// request timeouts, accept errors and clear start-up errors, once.

/**
 * An HTTP request (or WebSocket upgrade) must have sent its headers within the handshake
 * timeout and the whole request within `requestTimeoutMs`: a socket that sends half a request
 * and then nothing would otherwise hold a file descriptor for good. Node checks these every
 * `connectionsCheckingInterval`, so that interval follows the timeout.
 */
function httpTimeouts(
  o: ResolvedOptions,
  requestTimeoutMs: number,
): { headersTimeout: number; requestTimeout: number; connectionsCheckingInterval: number } {
  const headersTimeout = o.handshakeTimeoutMs > 0 ? o.handshakeTimeoutMs : 60_000;
  return {
    headersTimeout,
    requestTimeout: Math.max(headersTimeout, requestTimeoutMs),
    connectionsCheckingInterval: Math.max(50, Math.min(1_000, Math.floor(headersTimeout / 4))),
  };
}

/**
 * Out of file descriptors, accept() fails and the listening server emits `error`: logged
 * (at most every 10 s), never thrown. libuv keeps a spare descriptor to accept and close
 * what it cannot serve, so new sockets are refused while existing connections go on.
 */
export function watchAcceptErrors(server: NetServer, what: string, log: Logger): void {
  let lastLogged = 0;
  server.on('error', (err: NodeJS.ErrnoException) => {
    if (!server.listening) return; // listenOn reports start-up errors (EADDRINUSE ...)
    const now = Date.now();
    if (now - lastLogged < 10_000) return;
    lastLogged = now;
    log.warn(
      `cannot accept ${what} connections: ${err.code === 'EMFILE' || err.code === 'ENFILE' ? 'out of file descriptors; raise the limit (ulimit -n)' : err.message}`,
      { component: 'broker', code: err.code },
    );
  });
}

/** The server event that hands over each new socket as requests will see it. */
export function socketEvent(o: ResolvedOptions): 'connection' | 'secureConnection' {
  return o.tls === undefined ? 'connection' : 'secureConnection';
}

/** A plain HTTP server, or HTTPS when TLS files are configured (wss:// then). */
export function createListener(o: ResolvedOptions, handler: RequestListener, requestTimeoutMs = 0): Server {
  const timeouts = httpTimeouts(o, requestTimeoutMs);
  if (o.tls === undefined) return createServer(timeouts, handler);
  try {
    return createTlsServer(
      {
        ...timeouts,
        // The TLS handshake itself, before any HTTP: same budget.
        handshakeTimeout: timeouts.headersTimeout,
        cert: readFileSync(o.tls.certFile),
        key: readFileSync(o.tls.keyFile),
        ...(o.tls.caFile !== undefined ? { ca: readFileSync(o.tls.caFile) } : {}),
      },
      handler,
    );
  } catch (err) {
    throw new Error(`cannot load TLS files: ${(err as Error).message}`, { cause: err });
  }
}

/**
 * Listens, turning EADDRINUSE and friends into errors that say which port and what to do;
 * `otherwise` extends the advice for a port in use (e.g. `(--amqp-port) or turn AMQP off`).
 */
export function listenOn(server: NetServer, port: number, host: string, what: string, otherwise = ''): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException): void => {
      server.off('listening', onListening);
      const reason =
        err.code === 'EADDRINUSE'
          ? `port ${port} on ${host} is already in use; stop the other process${otherwise === '' ? ' or' : ','} choose another port${otherwise}`
          : err.code === 'EACCES'
            ? `permission denied binding port ${port} on ${host}`
            : err.message;
      reject(new Error(`cannot listen for ${what} connections: ${reason}`, { cause: err }));
    };
    const onListening = (): void => {
      server.off('error', onError);
      resolve();
    };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen(port, host);
  });
}
