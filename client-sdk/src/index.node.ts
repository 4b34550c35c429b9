/**
 * Node entry of @switchyard/client: `connect()` over the `ws` package, message bodies as
 * Buffers. `import { connect } from '@switchyard/client'` resolves here in Node.
 */
import { Buffer } from 'node:buffer';
import process from 'node:process';
import type { ConnectOptions } from './core/connect-options.js';
import { openConnection } from './core/connect.js';
import type { Connection } from './core/connection.js';
import type { Platform } from './core/platform.js';
import { createNodeTransport } from './transport/node.js';

export * from './exports.js';

/** The Node platform: `ws` transport, setImmediate flushes, Buffer bodies. */
const nodePlatform: Platform<Buffer> = {
  createTransport: createNodeTransport,
  // setImmediate runs after the current I/O callbacks, so everything a turn produces (e.g.
  // publishes triggered by a batch of confirms) leaves in one WebSocket message.
  schedule: (fn) => {
    setImmediate(fn);
  },
  // Decoded bodies are views into the received message; wrap, never copy.
  wrapContent: (view) =>
    Buffer.isBuffer(view) ? view : Buffer.from(view.buffer, view.byteOffset, view.byteLength),
  name: `Node.js ${process.version}`,
};

/**
 * Connects to a Switchyard broker (`ws://host:port`) and completes the handshake.
 *
 * Resolves with the open Connection. Rejects with BrokerError if the broker refuses
 * (403 ACCESS_REFUSED for bad credentials or vhost, 505 for a protocol version mismatch),
 * ConnectionClosedError if the socket cannot be opened or drops, TimeoutError after
 * `connectTimeoutMs`, TypeError/RangeError for invalid arguments. `reconnect` is accepted
 * but automatic recovery is not implemented yet.
 */
export function connect(url: string | URL, options?: ConnectOptions): Promise<Connection<Buffer>> {
  return openConnection(nodePlatform, url, options);
}
