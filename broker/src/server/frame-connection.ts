/**
 * What a session needs from the byte stream under it, whatever carries it: a WebSocket
 * today (transports/ws/), an in-memory pair in tests (memory-pair.ts), an AMQP 0-9-1
 * socket later. Sessions never see the transport's own objects, only this.
 */
export interface FrameConnection {
  /** The peer's address, for logs, the login throttle and loopback checks. */
  readonly remoteAddress: string;
  /** Bytes handed to `send` and not yet written out (backpressure). */
  readonly bufferedAmount: number;
  /**
   * Sends one encoded batch (possibly many frames) as one transport message;
   * `onWritten` runs once it has left for the peer, so backpressure can be released.
   */
  send(bytes: Uint8Array, onWritten: () => void): void;
  /** Stops reading from the peer (blocked, or waiting for a login); `resume` reads again. */
  pause(): void;
  resume(): void;
  /** Closes gracefully (what was sent still leaves); the close callback follows. */
  close(code: number, reason: string): void;
  /** Drops the connection at once (dead peer, unexpected error). */
  terminate(): void;
  /** The peer logged in: transport bounds on not-yet-authenticated peers no longer apply. */
  authenticated(): void;
  /** One transport message; `binary` is false for a text message, which our protocol refuses. */
  onMessage(handler: (data: Buffer, binary: boolean) => void): void;
  /** The connection is gone (either side); called once. */
  onClose(handler: (code: number, reason: string) => void): void;
  /** A transport error; the close callback follows. */
  onError(handler: (err: Error) => void): void;
}
