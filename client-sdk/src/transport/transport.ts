/**
 * The seam between the SDK core and a WebSocket implementation. The core never touches a
 * socket directly, so the same state machines run over `ws` in Node, the browser's global
 * WebSocket, or an in-memory pair in tests.
 */

/** Callbacks a transport invokes; the core supplies them when it creates the transport. */
export interface TransportHandlers {
  /** The socket is open and `send` may be called. */
  onOpen(): void;
  /**
   * One WebSocket message arrived. Binary messages come as bytes (possibly several frames);
   * a text message comes as a string, which the core treats as a protocol violation.
   */
  onMessage(data: Uint8Array | string): void;
  /**
   * The socket closed, whether it ever opened or not. Called exactly once. `error` is the
   * socket error that preceded the close, if there was one (connection refused, reset ...).
   */
  onClose(code: number, reason: string, error: Error | undefined): void;
}

/** A binary, message-oriented, ordered connection to the broker. */
export interface Transport {
  /** Queues one WebSocket binary message. Silently dropped once the socket is closing. */
  send(bytes: Uint8Array): void;
  /** Starts the WebSocket closing handshake (after everything already sent). */
  close(code?: number, reason?: string): void;
  /**
   * Drops the socket without a closing handshake, for a peer that stopped answering
   * (heartbeat timeout), where a handshake would only wait for a dead peer.
   */
  terminate(): void;
  /** Bytes queued in the socket but not yet handed to the network. */
  readonly bufferedAmount: number;
}

/**
 * Opens a transport to `url`. May throw synchronously for a malformed URL; every later
 * failure is reported through `handlers.onClose`. Handlers are never called before the
 * factory has returned.
 */
export type TransportFactory = (url: string, handlers: TransportHandlers) => Transport;
