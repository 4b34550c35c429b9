import { Broker, createLogger, type BrokerOptions } from '@switchyard/broker';
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
  createLogger({ level: (process.env['LOG_LEVEL'] as 'debug' | undefined) ?? 'error', silent: process.env['LOG_LEVEL'] === undefined, format: 'pretty' });

/** A real broker on an ephemeral port with a temporary LMDB directory. */
export async function startBroker(options: BrokerOptions = {}, existingDir?: string): Promise<TestBroker> {
  const tmp = existingDir === undefined ? await makeTmpDir('broker') : undefined;
  const dataDir = existingDir ?? tmp!.dir;
  const broker = await Broker.start({ port: 0, managementPort: 0, dataDir, logger: testLogger(), ...options });
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
