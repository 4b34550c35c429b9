import { Broker, createLogger, type BrokerOptions } from '@switchyard/broker';
import { closeAll, type Connection } from './client.js';
import { GUEST_AUTH } from './http.js';
import { makeTmpDir } from './tmp.js';

export interface TestBroker {
  broker: Broker;
  url: string;
  dataDir: string;
  /** Closes the broker and removes its data directory. */
  stop: () => Promise<void>;
  /** Closes the broker and starts a new one on the same data directory. */
  restart: () => Promise<TestBroker>;
}

/** Logs only when LOG_LEVEL is set, so test output stays readable. */
export const testLogger = (): ReturnType<typeof createLogger> =>
  createLogger({
    level: (process.env['LOG_LEVEL'] as 'debug' | undefined) ?? 'error',
    silent: process.env['LOG_LEVEL'] === undefined,
    format: 'pretty',
  });

/** A real broker on an ephemeral port with a temporary LMDB directory. */
export async function startBroker(options: BrokerOptions = {}, existingDir?: string): Promise<TestBroker> {
  const tmp = existingDir === undefined ? await makeTmpDir('broker') : undefined;
  const dataDir = existingDir ?? tmp!.dir;
  const broker = await Broker.start({
    port: 0,
    managementPort: 0,
    amqpPort: 0,
    dataDir,
    logger: testLogger(),
    ...options,
  });
  const remove = async (): Promise<void> => {
    if (tmp !== undefined) await tmp.remove();
  };
  const handle: TestBroker = {
    broker,
    url: broker.url,
    dataDir,
    stop: async () => {
      await broker.close();
      await remove();
    },
    restart: async () => {
      await broker.close();
      const next = await startBroker(options, dataDir);
      // the restarted broker owns the directory's removal now
      const nextStop = next.stop;
      next.stop = async () => {
        await nextStop();
        await remove();
      };
      return next;
    },
  };
  return handle;
}

/** GET on the broker's management API as the default administrator (guest/guest); parsed JSON. */
export async function managementGet<T = unknown>(tb: TestBroker, path: string): Promise<T> {
  const res = await fetch(`${tb.broker.managementUrl}${path}`, { headers: { authorization: GUEST_AUTH } });
  if (!res.ok) throw new Error(`GET ${path}: HTTP ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

/** A broker for the tests of a suite, and the client connections to close after them. */
export interface BrokerFixture {
  /** The current broker (reassign after `restart()`). */
  tb: TestBroker;
  /** Connections opened by the tests; closed when the broker is stopped. */
  readonly conns: Connection[];
  /** Starts the broker with `options` over the fixture's (for `{ start: 'test' }`: the test calls it). */
  start: (options?: BrokerOptions) => Promise<TestBroker>;
  /** Closes the connections and stops the broker; the fixture's hooks call it, and a test may. */
  stop: () => Promise<void>;
}

export interface UseBrokerOptions {
  /**
   * `'test'` (default): a fresh broker for each test (beforeEach/afterEach). `'suite'`: one
   * broker for every test of the enclosing `describe` (before/after), for suites whose tests
   * use their own names and do not depend on a clean broker.
   */
  per?: 'test' | 'suite';
  /**
   * `'hook'` (default): the fixture starts the broker. `'test'`: each test starts it with
   * `fx.start(options)`, for suites whose tests need different broker options; the fixture
   * still stops it.
   */
  start?: 'hook' | 'test';
}

/**
 * Registers mocha hooks that start a broker (an ephemeral port, a temporary data directory)
 * before each test, or before the suite, and close its connections and stop it afterwards.
 * Hooks a suite registers before this call run before these ones.
 */
export function useBroker(
  options: BrokerOptions = { noSync: true },
  { per = 'test', start = 'hook' }: UseBrokerOptions = {},
): BrokerFixture {
  const fixture: BrokerFixture = {
    tb: undefined as unknown as TestBroker,
    conns: [],
    start: async (more = {}) => (fixture.tb = await startBroker({ ...options, ...more })),
    stop: async () => {
      await closeAll(fixture.conns);
      const tb = fixture.tb as TestBroker | undefined; // undefined when not started (or skipped)
      fixture.tb = undefined as unknown as TestBroker;
      await tb?.stop();
    },
  };
  const startHook = async (): Promise<void> => {
    if (start === 'hook') await fixture.start();
  };
  if (per === 'suite') {
    before(startHook);
    after(fixture.stop);
  } else {
    beforeEach(startHook);
    afterEach(fixture.stop);
  }
  return fixture;
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
