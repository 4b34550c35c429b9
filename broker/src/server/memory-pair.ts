import { decodeAll, encodeFrames, type Frame } from '@switchyard/client/protocol';
import type { FrameConnection } from './frame-connection.js';

/**
 * An in-process connection pair (as aedes' duplexPair or amqplib's socketPair): the server
 * end is a FrameConnection a session runs on, the client end sends and records frames.
 * No sockets, so unit tests can drive sessions (prefetch, consumer timeouts, blocking,
 * channel errors) directly. The peer can stall, to make the server end back up.
 */
export function createMemoryPair(remoteAddress = '127.0.0.1'): { server: MemoryFrameConnection; client: MemoryPeer } {
  const server = new MemoryFrameConnection(remoteAddress);
  return { server, client: server.peer };
}

/** The server end of a memory pair. */
export class MemoryFrameConnection implements FrameConnection {
  readonly peer: MemoryPeer;
  /** True while the session does not read (blocked, or logging in). */
  paused = false;
  /** True once the session accepted the peer's login. */
  isAuthenticated = false;
  closed: { code: number; reason: string } | undefined;
  private messageHandler: ((data: Buffer, binary: boolean) => void) | undefined;
  private closeHandler: ((code: number, reason: string) => void) | undefined;
  private readonly inbound: Array<{ data: Buffer; binary: boolean }> = [];
  /** Sent by the session and not taken by the peer yet. */
  private readonly outbound: Array<{ bytes: Uint8Array; onWritten: () => void }> = [];
  private outboundBytes = 0;

  constructor(readonly remoteAddress: string) {
    this.peer = new MemoryPeer(this);
  }

  get bufferedAmount(): number {
    return this.outboundBytes;
  }

  send(bytes: Uint8Array, onWritten: () => void): void {
    if (this.closed !== undefined) return;
    this.outbound.push({ bytes, onWritten });
    this.outboundBytes += bytes.length;
    setImmediate(() => this.flushToPeer());
  }

  /** Hands what was sent to the peer, unless it stalls. */
  flushToPeer(): void {
    while (!this.peer.stalled && this.outbound.length > 0) {
      const { bytes, onWritten } = this.outbound.shift()!;
      this.outboundBytes -= bytes.length;
      this.peer.receive(bytes);
      onWritten();
    }
  }

  pause(): void {
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
    setImmediate(() => this.deliverInbound());
  }

  close(code: number, reason: string): void {
    // What was sent before the close still reaches the peer, as a WebSocket close would.
    this.flushToPeer();
    this.end(code, reason);
  }

  terminate(): void {
    this.end(1006, '');
  }

  authenticated(): void {
    this.isAuthenticated = true;
  }

  onMessage(handler: (data: Buffer, binary: boolean) => void): void {
    this.messageHandler = handler;
  }

  onClose(handler: (code: number, reason: string) => void): void {
    const previous = this.closeHandler;
    this.closeHandler =
      previous === undefined ? handler : (code, reason) => (previous(code, reason), handler(code, reason));
  }

  onError(_handler: (err: Error) => void): void {
    // An in-memory pipe has no transport errors.
  }

  /** A message from the peer: read now, or when the session resumes reading. */
  fromPeer(data: Buffer, binary: boolean): void {
    if (this.closed !== undefined) return;
    this.inbound.push({ data, binary });
    if (!this.paused) this.deliverInbound();
  }

  private deliverInbound(): void {
    while (!this.paused && this.closed === undefined && this.inbound.length > 0) {
      const { data, binary } = this.inbound.shift()!;
      this.messageHandler?.(data, binary);
    }
  }

  /** Closes both ends (the peer closed, or the session did). */
  end(code: number, reason: string): void {
    if (this.closed !== undefined) return;
    this.closed = { code, reason };
    this.outbound.length = 0;
    this.outboundBytes = 0;
    this.peer.closed = { code, reason };
    setImmediate(() => this.closeHandler?.(code, reason));
  }
}

/** The client end of a memory pair: sends frames, records what the session sent. */
export class MemoryPeer {
  /** Every frame received, in order. */
  readonly frames: Frame[] = [];
  closed: { code: number; reason: string } | undefined;
  /** While true, the peer reads nothing and the server end's buffered amount grows. */
  stalled = false;

  constructor(private readonly server: MemoryFrameConnection) {}

  /** Sends frames as one message (a batch). */
  send(...frames: Frame[]): void {
    this.server.fromPeer(Buffer.from(encodeFrames(frames)), true);
  }

  /** Sends raw bytes, e.g. to test malformed input. */
  sendRaw(data: Buffer, binary = true): void {
    this.server.fromPeer(data, binary);
  }

  receive(bytes: Uint8Array): void {
    this.frames.push(...decodeAll(bytes));
  }

  /** Stops reading; `drain` reads again. */
  stall(): void {
    this.stalled = true;
  }

  drain(): void {
    this.stalled = false;
    this.server.flushToPeer();
  }

  /** Closes the connection from the peer's side, as a socket drop would. */
  disconnect(): void {
    this.server.end(1006, '');
  }

  /** Frames received so far that match. */
  all<T extends Frame['type']>(type: T): Array<Extract<Frame, { type: T }>> {
    return this.frames.filter((f): f is Extract<Frame, { type: T }> => f.type === type);
  }

  /** The first frame received that matches, waiting up to `ms` for it. */
  async waitFor<T extends Frame['type']>(
    type: T,
    pred: (f: Extract<Frame, { type: T }>) => boolean = () => true,
    ms = 3_000,
  ): Promise<Extract<Frame, { type: T }>> {
    const deadline = Date.now() + ms;
    for (;;) {
      const f = this.all(type).find(pred);
      if (f !== undefined) return f;
      if (Date.now() > deadline)
        throw new Error(`no '${type}' frame within ${ms} ms; got ${JSON.stringify(this.frames.map((x) => x.type))}`);
      await new Promise((r) => setTimeout(r, 5));
    }
  }
}
