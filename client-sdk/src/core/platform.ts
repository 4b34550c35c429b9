import type { TransportFactory } from '../transport/transport.js';

/**
 * Everything that differs between Node and browsers, injected into the shared core by
 * index.node.ts / index.browser.ts, so that the core imports no Node built-ins.
 * The functions are properties, not methods: the core passes them around unbound.
 * `C` is the type message bodies are handed out as: Buffer in Node, Uint8Array in browsers.
 */
export interface Platform<C extends Uint8Array> {
  /** Opens the WebSocket. */
  createTransport: TransportFactory;
  /**
   * Runs `fn` once the current event-loop turn's work is done; outgoing frames are flushed
   * there, so everything one turn produces travels in as few WebSocket messages as possible.
   */
  readonly schedule: (fn: () => void) => void;
  /** Turns a decoded body (a view into the received message) into `C` without copying. */
  readonly wrapContent: (view: Uint8Array) => C;
  /** Describes the runtime in the `platform` client property, e.g. `Node.js v20.20.0`. */
  readonly name: string;
}
