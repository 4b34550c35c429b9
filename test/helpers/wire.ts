/**
 * A wrapped Node transport the test can cut, silence, hold or inject frames into (to
 * simulate network failures and broker flow control without a special broker).
 */
import {
  createNodeTransport,
  nodePlatform,
  openConnection,
  type Platform,
  type Transport,
  type TransportHandlers,
} from '@switchyard/client/internal';
import { decodeAll, encodeFrame, type Frame } from '@switchyard/client/protocol';
import type { ConnectOptions, Connection } from './client.js';

/** One socket of a wired connection, under the test's control. */
export class Wire implements Transport {
  /** Frames the client sent through this socket, decoded (when `record` is on). */
  readonly sent: Frame[] = [];
  /** Frames received from the broker, decoded (when `record` is on). */
  readonly received: Frame[] = [];
  /** Drop everything the client sends (a client that stopped talking). */
  muted = false;
  /** Time the last message actually left. */
  lastSentAt = 0;
  private inner!: Transport;
  private held: (Uint8Array | string)[] | undefined;

  constructor(
    private readonly handlers: TransportHandlers,
    private readonly record: boolean,
  ) {}

  /** @internal */
  attach(inner: Transport): this {
    this.inner = inner;
    return this;
  }

  /** The handlers the real transport calls: records and holds incoming messages. */
  readonly innerHandlers: TransportHandlers = {
    onOpen: () => this.handlers.onOpen(),
    onMessage: (data) => {
      if (this.record && typeof data !== 'string') this.received.push(...decodeAll(new Uint8Array(data)));
      if (this.held !== undefined) this.held.push(typeof data === 'string' ? data : Uint8Array.from(data));
      else this.handlers.onMessage(data);
    },
    onClose: (code, reason, error) => this.handlers.onClose(code, reason, error),
  };

  send(bytes: Uint8Array): void {
    if (this.record) this.sent.push(...decodeAll(bytes));
    if (this.muted) return;
    this.lastSentAt = Date.now();
    this.inner.send(bytes);
  }

  close(code?: number, reason?: string): void {
    this.inner.close(code, reason);
  }

  terminate(): void {
    this.inner.terminate();
  }

  /** When set, reported as the socket's buffered amount (a socket that looks backed up). */
  bufferedOverride: number | undefined;

  get bufferedAmount(): number {
    return this.bufferedOverride ?? this.inner.bufferedAmount;
  }

  /** Cuts the socket abruptly, as a network failure would (the client sees code 1006). */
  kill(): void {
    this.inner.terminate();
  }

  /** Holds incoming messages (the broker's confirms, deliveries ...) until `release()`. */
  hold(): void {
    this.held ??= [];
  }

  /** Delivers what was held, in order, and stops holding. */
  release(): void {
    const held = this.held ?? [];
    this.held = undefined;
    for (const data of held) this.handlers.onMessage(data);
  }

  /** Hands the client a frame as if the broker had sent it. */
  inject(frame: Frame): void {
    this.handlers.onMessage(encodeFrame(frame));
  }

  /** Frames of type `type` the client sent. */
  sentOf<T extends Frame['type']>(type: T): Extract<Frame, { type: T }>[] {
    return this.sent.filter((f): f is Extract<Frame, { type: T }> => f.type === type);
  }
}

/** A Node platform whose sockets are Wires; `wires` lists them, newest last. */
export function wiredPlatform(record = false): { platform: Platform<Buffer>; wires: Wire[]; current: () => Wire } {
  const wires: Wire[] = [];
  const platform: Platform<Buffer> = {
    ...nodePlatform,
    createTransport: (url, handlers) => {
      const wire = new Wire(handlers, record);
      wire.attach(createNodeTransport(url, wire.innerHandlers));
      wires.push(wire);
      return wire;
    },
  };
  return { platform, wires, current: () => wires[wires.length - 1]! };
}

/** Connects through a wired platform. */
export async function wiredConnect(
  url: string,
  options?: ConnectOptions,
  record = false,
): Promise<{ conn: Connection; wires: Wire[]; wire: () => Wire }> {
  const { platform, wires, current } = wiredPlatform(record);
  const conn: Connection = await openConnection(platform, url, options);
  return { conn, wires, wire: current };
}
