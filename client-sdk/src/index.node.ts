/**
 * Node entry of @switchyard/client: `connect()` over the `ws` package, message bodies as
 * Buffers. `import { connect } from '@switchyard/client'` resolves here in Node.
 */
import type { Buffer } from 'node:buffer';
import type { ConnectOptions } from './core/connect-options.js';
import { openConnection } from './core/connect.js';
import type { Connection } from './core/connection.js';
import { nodePlatform } from './node-platform.js';
import { createNodeTransport, type NodeTlsOptions } from './transport/node.js';
import type { TransportHandlers } from './transport/transport.js';

export * from './exports.js';

/**
 * Connects to a Switchyard broker (`ws://host:port`) and completes the handshake. Credentials
 * in the URL (`ws://user:password@host:port`, percent-encoded) log in unless
 * `options.username`/`password` are given; an `amqp://` URL is a TypeError.
 *
 * Resolves with the open Connection. Rejects with BrokerError if the broker refuses
 * (403 ACCESS_REFUSED for bad credentials, 530 for an unknown vhost, 540 for a protocol
 * version mismatch), ConnectionClosedError if the socket cannot be opened or drops,
 * TimeoutError after `connectTimeoutMs`, TypeError/RangeError for invalid arguments.
 * For `wss://` with a private CA, pass `tls: { ca }` (Node only).
 * Several URLs (`connect(['ws://a:5680', 'ws://b:5680'])`, the nodes of a cluster): each is
 * tried once, in order, until one answers, and reconnects go round the list.
 * With `reconnect`, a connection that drops later is recovered automatically
 * (client-sdk/README.md); the first connect is never retried.
 */
export function connect(
  url: string | URL | readonly (string | URL)[],
  options?: ConnectOptions & { tls?: NodeTlsOptions },
): Promise<Connection<Buffer>> {
  const tls = options?.tls;
  const platform =
    tls === undefined
      ? nodePlatform
      : { ...nodePlatform, createTransport: (u: string, h: TransportHandlers) => createNodeTransport(u, h, tls) };
  return openConnection(platform, url, options);
}

export type { NodeTlsOptions };
