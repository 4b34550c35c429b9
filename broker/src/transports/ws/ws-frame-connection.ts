import type { WebSocket } from 'ws';
import type { FrameConnection } from '../../server/frame-connection.js';

/** A `ws` WebSocket as a FrameConnection: one batch of frames per binary message. */
export class WsFrameConnection implements FrameConnection {
  constructor(
    private readonly ws: WebSocket,
    readonly remoteAddress: string,
    private readonly onAuthenticated: () => void,
  ) {
    ws.binaryType = 'nodebuffer';
  }

  get bufferedAmount(): number {
    return this.ws.bufferedAmount;
  }

  send(bytes: Uint8Array, onWritten: () => void): void {
    this.ws.send(bytes, { binary: true }, onWritten);
  }

  pause(): void {
    this.ws.pause();
  }

  resume(): void {
    this.ws.resume();
  }

  close(code: number, reason: string): void {
    this.ws.close(code, reason);
  }

  terminate(): void {
    this.ws.terminate();
  }

  authenticated(): void {
    this.onAuthenticated();
  }

  onMessage(handler: (data: Buffer, binary: boolean) => void): void {
    this.ws.on('message', handler);
  }

  onClose(handler: (code: number, reason: string) => void): void {
    this.ws.on('close', (code: number, reason: Buffer) => handler(code, reason.toString()));
  }

  onError(handler: (err: Error) => void): void {
    this.ws.on('error', handler);
  }
}
