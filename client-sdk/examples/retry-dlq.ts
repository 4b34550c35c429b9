/**
 * Retry with a dead-letter queue, the RabbitMQ way:
 *
 *   producer ──► jobs.exchange ──(job)──► jobs ──► worker ──ok──► ack
 *                     ▲                    │          │
 *                     │                    │          ├─ failed, attempts left: copy to jobs.retry
 *        (TTL expires, dead-lettered back) │          │   (attempt + 1), then ack
 *                     └──── jobs.retry ◄───┘          └─ failed, no attempts left: reject
 *                                                         without requeue ──► jobs.dlx ──► jobs.dead
 *
 * `jobs` has `x-dead-letter-exchange: jobs.dlx`, so a message rejected without requeue is
 * dead-lettered into `jobs.dead` with an `x-death` header saying why. `jobs.retry` has a
 * message TTL and dead-letters expired messages back to `jobs.exchange`: a delayed retry
 * without plugins.
 *
 *   npx tsx client-sdk/examples/retry-dlq.ts [ws://127.0.0.1:5680]
 */
import { connect, type ConsumeMessage, type FieldTable } from '@switchyard/client';
import { runIfMain } from './run-main.js';

export interface RetryDlqOptions {
  /** Jobs to run; job `id` fails for good if id % 5 === 0, once if id % 3 === 0. */
  jobs?: number;
  /** Attempts before a job is dead-lettered. */
  maxAttempts?: number;
  /** Delay before a retry, in ms (the retry queue's TTL). */
  retryDelayMs?: number;
  /** Prefix of every exchange and queue name. */
  prefix?: string;
}

export interface RetryDlqResult {
  /** Jobs that succeeded, with the attempt that did it. */
  succeeded: { id: number; attempt: number }[];
  /** Jobs dead-lettered, with the x-death reason and the queue they died in. */
  dead: { id: number; attempt: number; reason: unknown; queue: unknown }[];
}

const ATTEMPT = 'retry-attempt';

/** Runs a producer, a worker and a dead-letter consumer until every job has an outcome. */
export async function retryWithDlq(url: string, options: RetryDlqOptions = {}): Promise<RetryDlqResult> {
  const { jobs = 10, maxAttempts = 3, retryDelayMs = 50, prefix = 'example.' } = options;
  const names = {
    exchange: `${prefix}jobs.exchange`,
    jobs: `${prefix}jobs`,
    retry: `${prefix}jobs.retry`,
    dlx: `${prefix}jobs.dlx`,
    dead: `${prefix}jobs.dead`,
  };
  const result: RetryDlqResult = { succeeded: [], dead: [] };
  let outcomes = 0;
  let finish!: () => void;
  const finished = new Promise<void>((resolve) => (finish = resolve));
  const outcome = (): void => {
    if (++outcomes === jobs) finish();
  };

  const conn = await connect(url, { reconnect: true });
  const ch = await conn.createChannel();
  await ch.assertExchange(names.exchange, 'direct', { durable: true });
  await ch.assertExchange(names.dlx, 'direct', { durable: true });
  await ch.assertQueue(names.jobs, { durable: true, deadLetterExchange: names.dlx, deadLetterRoutingKey: 'dead' });
  await ch.bindQueue(names.jobs, names.exchange, 'job');
  await ch.assertQueue(names.retry, {
    durable: true,
    messageTtl: retryDelayMs,
    deadLetterExchange: names.exchange,
    deadLetterRoutingKey: 'job',
  });
  await ch.assertQueue(names.dead, { durable: true });
  await ch.bindQueue(names.dead, names.dlx, 'dead');

  // The worker.
  const attemptOf = (msg: ConsumeMessage): number => Number(msg.properties.headers?.[ATTEMPT] ?? 1);
  await ch.prefetch(10);
  await ch.consume(names.jobs, async (msg) => {
    if (msg === null) return;
    const { id } = msg.json<{ id: number }>();
    const attempt = attemptOf(msg);
    try {
      if (id % 5 === 0) throw new Error(`job ${id} is broken`);
      if (id % 3 === 0 && attempt === 1) throw new Error(`job ${id} failed transiently`);
      result.succeeded.push({ id, attempt });
      msg.ack();
      outcome();
    } catch {
      if (attempt < maxAttempts) {
        // Retry later: a copy with the next attempt number waits out the retry queue's TTL.
        const headers: FieldTable = { ...msg.properties.headers, [ATTEMPT]: attempt + 1 };
        await ch.sendToQueue(names.retry, msg.content, { ...msg.properties, headers, persistent: true });
        msg.ack();
      } else {
        msg.nack({ requeue: false }); // dead-lettered to jobs.dead
      }
    }
  });

  // The dead-letter consumer: where an operator (or an alert) looks.
  await ch.consume(names.dead, (msg) => {
    if (msg === null) return;
    const death = (msg.properties.headers?.['x-death'] as FieldTable[] | undefined)?.[0];
    result.dead.push({
      id: msg.json<{ id: number }>().id,
      attempt: attemptOf(msg),
      reason: death?.['reason'],
      queue: death?.['queue'],
    });
    msg.ack();
    outcome();
  });

  for (let id = 0; id < jobs; id++) void ch.publishJson(names.exchange, 'job', { id }, { persistent: true });
  await ch.waitForConfirms();
  await finished;

  for (const q of [names.jobs, names.retry, names.dead]) await ch.deleteQueue(q);
  for (const x of [names.exchange, names.dlx]) await ch.deleteExchange(x);
  await conn.close();
  result.succeeded.sort((a, b) => a.id - b.id);
  result.dead.sort((a, b) => a.id - b.id);
  return result;
}

runIfMain(import.meta.url, (url) => retryWithDlq(url));
