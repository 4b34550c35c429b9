/**
 * Work queue (competing consumers): a producer puts tasks in a durable queue; several
 * workers take them one at a time (prefetch 1), so a slow worker never hoards tasks, and
 * acknowledge each when done, so a task a crashed worker held is given to another.
 *
 *   npx tsx client-sdk/examples/work-queue.ts [ws://127.0.0.1:5680]
 */
import { connect, type ConsumeMessage } from '@switchyard/client';
import { runIfMain } from './run-main.js';

/** A task: how long it takes to do, in ms. */
export interface Task {
  id: number;
  workMs: number;
}

export interface WorkQueueOptions {
  queue?: string;
  tasks?: number;
  workers?: number;
}

/** Runs the producer and the workers; resolves with which worker did which task. */
export async function workQueue(
  url: string,
  options: WorkQueueOptions = {},
): Promise<{ doneBy: Record<string, number[]> }> {
  const { queue = 'example.tasks', tasks = 12, workers = 3 } = options;
  const doneBy: Record<string, number[]> = {};
  let done = 0;
  let allDone!: () => void;
  const finished = new Promise<void>((resolve) => (allDone = resolve));

  // Workers: each on its own connection, as separate processes would be.
  const workerConns = await Promise.all(Array.from({ length: workers }, () => connect(url, { reconnect: true })));
  await Promise.all(
    workerConns.map(async (conn, w) => {
      const name = `worker-${w + 1}`;
      doneBy[name] = [];
      const ch = await conn.createChannel();
      await ch.assertQueue(queue, { durable: true });
      await ch.prefetch(1); // one unacknowledged task per worker at a time
      await ch.consume(queue, async (msg: ConsumeMessage | null) => {
        if (msg === null) return; // the queue was deleted
        const task = msg.json<Task>();
        await new Promise((r) => setTimeout(r, task.workMs)); // "work"
        doneBy[name]!.push(task.id);
        msg.ack(); // only now may the broker forget the task
        if (++done === tasks) allDone();
      });
    }),
  );

  // Producer: persistent messages in a durable queue survive a broker restart.
  const producer = await connect(url, { reconnect: true });
  const ch = await producer.createChannel();
  await ch.assertQueue(queue, { durable: true });
  for (let id = 0; id < tasks; id++) {
    void ch.sendToQueueJson(queue, { id, workMs: 5 + (id % 4) * 5 } satisfies Task, { persistent: true });
  }
  await ch.waitForConfirms(); // every task is safely stored

  await finished;
  await ch.deleteQueue(queue);
  await Promise.all([producer, ...workerConns].map((c) => c.close()));
  return { doneBy };
}

runIfMain(import.meta.url, (url) => workQueue(url));
