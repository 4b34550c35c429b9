/** The platform-independent `connect()`: options, Connection, handshake. */
import type { ConnectOptions } from './connect-options.js';
import { resolveConnectOptions, splitUrlCredentials, urlString } from './connect-options.js';
import { Connection } from './connection.js';
import { deferred } from './deferred.js';
import type { Platform } from './platform.js';

/**
 * Opens a connection over `platform`'s transport and completes the handshake. Resolves with
 * the open Connection; rejects with BrokerError if the broker refuses (403 ACCESS_REFUSED,
 * 505 version mismatch ...), ConnectionClosedError if the socket fails, TimeoutError after
 * `connectTimeoutMs`, or TypeError/RangeError for invalid arguments. The first connect is
 * not retried, even with `reconnect`.
 * @internal index.node.ts and index.browser.ts wrap this as `connect()`.
 */
export function openConnection<C extends Uint8Array>(
  platform: Platform<C>,
  url: string | URL,
  options?: ConnectOptions,
): Promise<Connection<C>> {
  const handshake = deferred<Connection<C>>();
  try {
    const target = splitUrlCredentials(urlString(url));
    // Credentials in the URL log in (as with amqplib's amqp://user:pass@host); options win.
    const o = options ?? {};
    const withCredentials: ConnectOptions | undefined =
      target.username === undefined || typeof o !== 'object'
        ? options
        : { ...o, username: o.username ?? target.username, password: o.password ?? target.password };
    const resolved = resolveConnectOptions(withCredentials, platform.name);
    // The Connection settles `handshake` itself (helloOk, close, socket failure or timeout).
    new Connection<C>(platform, target.url, resolved, handshake);
  } catch (err) {
    return Promise.reject(err);
  }
  return handshake.promise;
}
