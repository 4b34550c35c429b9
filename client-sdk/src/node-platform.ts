/** The Node platform (`ws` transport, setImmediate flushes, Buffer bodies). Node-only. */
import { Buffer } from 'node:buffer';
import process from 'node:process';
import type { Platform } from './core/platform.js';
import { createNodeTransport } from './transport/node.js';

/** The Node platform: `ws` transport, setImmediate flushes, Buffer bodies. */
export const nodePlatform: Platform<Buffer> = {
  createTransport: createNodeTransport,
  // setImmediate runs after the current I/O callbacks, so everything a turn produces (e.g.
  // publishes triggered by a batch of confirms) leaves in one WebSocket message.
  schedule: (fn) => {
    setImmediate(fn);
  },
  // Decoded bodies are views into the received message; wrap, never copy.
  wrapContent: (view) => (Buffer.isBuffer(view) ? view : Buffer.from(view.buffer, view.byteOffset, view.byteLength)),
  name: `Node.js ${process.version}`,
};
