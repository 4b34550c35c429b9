import type { AccessStore, QueueStore } from '@switchyard/broker/internal';

/** A store as the contract suite drives it: queues and access records. */
export type ContractStore = QueueStore & AccessStore;

export const META = { expiresAt: 0, priority: 0 };
export const record = (
  body: string,
): {
  exchange: string;
  routingKey: string;
  properties: { persistent: true; headers: { h: number } };
  content: Buffer;
} => ({
  exchange: 'x',
  routingKey: 'k',
  properties: { persistent: true, headers: { h: 1 } },
  content: Buffer.from(body),
});
export const queueDef = (
  name: string,
  id: number,
): { name: string; id: number; durable: true; autoDelete: false; arguments: Record<string, never> } => ({
  name,
  id,
  durable: true,
  autoDelete: false,
  arguments: {},
});

const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * Writes that end with a batch issued but never awaited; the harness then kills the writer
 * without closing the store (LMDB: SIGKILL of a child process; memory: `crash()`). The same
 * functions run in the child and in-process, so both stores face the same history.
 */
export const CRASH_SCENARIOS = {
  /** Batch A durable, batch B (more messages and an ack) issued, then the crash. */
  async unflushedBatch(store: ContractStore): Promise<void> {
    store.putQueue(queueDef('q', 1));
    for (let seq = 1; seq <= 3; seq++) store.enqueue(1, seq, record(`m${seq}`), META);
    await store.durable();
    store.enqueue(1, 4, record('m4'), META);
    store.enqueue(1, 5, record('m5'), META);
    store.ack(1, 1, 0, 2);
  },
  /** Everything durable (deliveries included), then the crash before close. */
  async durableThenKilled(store: ContractStore): Promise<void> {
    store.putQueue(queueDef('q', 1));
    for (let seq = 1; seq <= 4; seq++) store.enqueue(1, seq, record(`m${seq}`), META);
    store.claim(1, 1, 1, true);
    const lease = store.claim(1, 2, 1, true);
    store.release(1, 2, 1, 0, lease);
    store.claim(1, 2, 2, true);
    store.delayed('/').put(1, record('later'), 123456);
    await store.durable();
  },
  /** A dead-letter copy and the drop of its original issued in one turn, then the crash mid-commit. */
  async deadLetterInOneBatch(store: ContractStore): Promise<void> {
    store.putQueue(queueDef('src', 1));
    store.putQueue(queueDef('dlq', 2));
    store.enqueue(1, 1, record('dead'), META);
    await store.durable();
    store.enqueue(2, 1, record('dead'), META);
    store.drop(1, 1, 0, 4);
    await turn(); // the commit may or may not have happened when the process dies
  },
} satisfies Record<string, (store: ContractStore) => Promise<void>>;

export type CrashScenario = keyof typeof CRASH_SCENARIOS;
