/** The platform-independent `connect()`: options, Connection, handshake. */
import type { ConnectOptions } from './connect-options.js';
import { resolveConnectOptions, splitUrlCredentials, urlString } from './connect-options.js';
import { Connection } from './connection.js';
import { deferred } from './deferred.js';
import { BrokerError } from '../protocol/errors.js';
import type { Platform } from './platform.js';

/**
 * Opens a connection over `platform`'s transport and completes the handshake. Resolves with
 * the open Connection; rejects with BrokerError if the broker refuses (403 ACCESS_REFUSED,
 * 505 version mismatch ...), ConnectionClosedError if the socket fails, TimeoutError after
 * `connectTimeoutMs`, or TypeError/RangeError for invalid arguments. The first connect is
 * not retried, even with `reconnect`.
 * @internal index.node.ts and index.browser.ts wrap this as `connect()`.
 */
export async function openConnection<C extends Uint8Array>(
  platform: Platform<C>,
  url: string | URL | readonly (string | URL)[],
  options?: ConnectOptions,
): Promise<Connection<C>> {
  const urls = Array.isArray(url) ? (url as readonly (string | URL)[]) : [url as string | URL];
  if (urls.length === 0) throw new TypeError('connect() needs at least one broker URL');
  // Several URLs (cluster nodes): each is tried once, in order, until one answers; a refusal
  // by a broker (bad credentials, unknown vhost) is final. Reconnects go round the list.
  const targets = urls.map((u) => splitUrlCredentials(urlString(u)));
  for (let i = 0; ; i++) {
    try {
      return await openOne(
        platform,
        targets.map((t) => t.url),
        i,
        targets[0]!,
        options,
      );
    } catch (err) {
      const refused = err instanceof BrokerError || err instanceof TypeError || err instanceof RangeError;
      if (refused || i === targets.length - 1) throw err;
    }
  }
}

function openOne<C extends Uint8Array>(
  platform: Platform<C>,
  urls: string[],
  index: number,
  target: { username?: string; password?: string },
  options?: ConnectOptions,
): Promise<Connection<C>> {
  const handshake = deferred<Connection<C>>();
  try {
    // Credentials in the (first) URL log in (as with amqplib's amqp://user:pass@host); options win.
    const o = options ?? {};
    const withCredentials: ConnectOptions | undefined =
      target.username === undefined || typeof o !== 'object'
        ? options
        : { ...o, username: o.username ?? target.username, password: o.password ?? target.password };
    const resolved = resolveConnectOptions(withCredentials, platform.name);
    // The Connection settles `handshake` itself (helloOk, close, socket failure or timeout).
    new Connection<C>(platform, urls[index]!, resolved, handshake, urls);
  } catch (err) {
    return Promise.reject(err);
  }
  return handshake.promise;
}
