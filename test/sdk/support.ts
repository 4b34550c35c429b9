/**
 * Test support for the SDK suites: a wrapped Node transport the test can cut, silence,
 * hold or inject frames into (to simulate network failures and broker flow control
 * without a special broker), and an in-process broker that restarts on the same port.
 */
import { connect } from '@switchyard/client';
import { createNodeTransport, nodePlatform, openConnection, type Platform, type Transport, type TransportHandlers } from '@switchyard/client/internal';
import { decodeAll, encodeFrame, type Frame } from '@switchyard/client/protocol';
import { startBroker, type TestBroker } from '../helpers/broker.js';
import { makeTmpDir } from '../helpers/tmp.js';
import type { BrokerOptions } from '@switchyard/broker';

export type Connection = Awaited<ReturnType<typeof connect>>;
export type Channel = Awaited<ReturnType<Connection['createChannel']>>;
export type ConnectOptions = NonNullable<Parameters<typeof connect>[1]>;

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

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

  get bufferedAmount(): number {
    return this.inner.bufferedAmount;
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
export async function wiredConnect(url: string, options?: ConnectOptions, record = false): Promise<{ conn: Connection; wires: Wire[]; wire: () => Wire }> {
  const { platform, wires, current } = wiredPlatform(record);
  const conn = (await openConnection(platform, url, options)) as Connection;
  return { conn, wires, wire: current };
}

/** Resolves when `predicate` holds, polling; rejects after `ms` naming `what`. */
export async function waitFor(predicate: () => boolean, what: string, ms = 5_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

/** The next `event` of `emitter`, with a timeout. */
export function nextEvent<T = unknown>(emitter: { once(event: string, fn: (arg: T) => void): unknown }, event: string, ms = 5_000): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out waiting for '${event}'`)), ms);
    emitter.once(event, (arg: T) => {
      clearTimeout(timer);
      resolve(arg);
    });
  });
}

/**
 * An in-process broker that can be stopped and started again on the same port and data
 * directory, so that clients with `reconnect` find it again.
 */
export class RestartableBroker {
  private tb: TestBroker | undefined;

  private constructor(
    readonly port: number,
    private readonly dataDir: string,
    private readonly options: BrokerOptions,
    private readonly removeDir: () => Promise<void>,
  ) {}

  static async start(options: BrokerOptions = {}): Promise<RestartableBroker> {
    const tmp = await makeTmpDir('sdk');
    const opts = { noSync: true, ...options };
    const tb = await startBroker(opts, tmp.dir);
    const rb = new RestartableBroker(tb.broker.port, tmp.dir, opts, tmp.remove);
    rb.tb = tb;
    return rb;
  }

  get url(): string {
    return `ws://127.0.0.1:${this.port}`;
  }

  get broker(): TestBroker['broker'] {
    if (this.tb === undefined) throw new Error('the broker is stopped');
    return this.tb.broker;
  }

  get running(): boolean {
    return this.tb !== undefined;
  }

  /** Graceful stop (clients get 320 CONNECTION_FORCED); the data directory is kept. */
  async stop(): Promise<void> {
    const tb = this.tb;
    this.tb = undefined;
    await tb?.stop();
  }

  /** Starts again on the same port and directory. */
  async start(): Promise<void> {
    this.tb ??= await startBroker({ ...this.options, port: this.port }, this.dataDir);
  }

  /** Stops the broker and removes its data directory. */
  async dispose(): Promise<void> {
    await this.stop();
    await this.removeDir().catch(() => undefined);
  }
}
