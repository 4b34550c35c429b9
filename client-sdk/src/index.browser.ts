/**
 * Browser entry of @switchyard/client: `connect()` over the global WebSocket, message
 * bodies as Uint8Arrays. Must stay free of Node built-ins (the browser build fails on any).
 */
import type { ConnectOptions } from './core/connect-options.js';
import { openConnection } from './core/connect.js';
import type { Connection } from './core/connection.js';
import type { Platform } from './core/platform.js';
import { createBrowserTransport } from './transport/browser.js';

export * from './exports.js';

/** The browser platform: global WebSocket, microtask flushes, plain Uint8Array bodies. */
const browserPlatform: Platform<Uint8Array> = {
  createTransport: createBrowserTransport,
  // A microtask still collects everything one synchronous burst produces; browsers have no
  // setImmediate and setTimeout(0) is clamped to 4 ms when nested.
  schedule: (fn) => queueMicrotask(fn),
  wrapContent: (view) => view,
  name: typeof navigator === 'undefined' ? 'browser' : navigator.userAgent,
};

/**
 * Connects to a Switchyard broker (`ws://host:port` or `wss://...`) and completes the
 * handshake. Same contract as the Node entry's `connect`, with Uint8Array bodies.
 */
export function connect(
  url: string | URL | readonly (string | URL)[],
  options?: ConnectOptions,
): Promise<Connection<Uint8Array>> {
  return openConnection(browserPlatform, url, options);
}
