/** The platform-independent `connect()`: options, Connection, handshake. */
import type { ConnectOptions } from './connect-options.js';
import { resolveConnectOptions, urlString } from './connect-options.js';
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
    const resolved = resolveConnectOptions(options, platform.name);
    // The Connection settles `handshake` itself (helloOk, close, socket failure or timeout).
    new Connection<C>(platform, urlString(url), resolved, handshake);
  } catch (err) {
    return Promise.reject(err);
  }
  return handshake.promise;
}
