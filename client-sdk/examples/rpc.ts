/**
 * RPC over queues: the server consumes a request queue and answers each request by
 * publishing to the request's `replyTo` queue with the same `correlationId`; the client
 * owns one exclusive, server-named reply queue and matches replies to calls by
 * correlationId (RabbitMQ's RPC tutorial, with promises).
 *
 *   npx tsx client-sdk/examples/rpc.ts [ws://127.0.0.1:5680]
 */
import { connect } from '@switchyard/client';
import { runIfMain } from './run-main.js';

// In Node, message bodies are Buffers: Connection<Buffer>, Channel<Buffer>.
type Connection = Awaited<ReturnType<typeof connect>>;
type Channel = Awaited<ReturnType<Connection['createChannel']>>;

function fib(n: number): number {
  let [a, b] = [0, 1];
  for (let i = 0; i < n; i++) [a, b] = [b, a + b];
  return a;
}

/** Serves `fib(n)` requests from `queue`. */
export class FibServer {
  private constructor(private readonly conn: Connection) {}

  static async start(url: string, queue: string): Promise<FibServer> {
    const conn = await connect(url, { reconnect: true });
    const ch = await conn.createChannel();
    await ch.assertQueue(queue, { durable: false });
    await ch.prefetch(10);
    await ch.consume(
      queue,
      async (msg) => {
        if (msg === null) return;
        const { n } = msg.json<{ n: number }>();
        const { replyTo, correlationId } = msg.properties;
        if (replyTo !== undefined) await ch.sendToQueueJson(replyTo, { n, result: fib(n) }, { correlationId });
        msg.ack(); // after the reply is confirmed: a crash in between means a retried request, never a lost one
      },
      { concurrency: 10 },
    );
    return new FibServer(conn);
  }

  close(): Promise<void> {
    return this.conn.close();
  }
}

/** Calls the server; one reply queue for all calls, replies matched by correlationId. */
export class FibClient {
  private readonly pending = new Map<string, { resolve: (v: number) => void; reject: (e: Error) => void; timer: ReturnType<typeof setTimeout> }>();
  private next = 0;

  private constructor(
    private readonly conn: Connection,
    private readonly ch: Channel,
    private readonly queue: string,
    private readonly replyQueue: string,
  ) {}

  static async connect(url: string, queue: string): Promise<FibClient> {
    const conn = await connect(url, { reconnect: true });
    const ch = await conn.createChannel();
    const { queue: replyQueue } = await ch.assertQueue('', { exclusive: true });
    const client = new FibClient(conn, ch, queue, replyQueue);
    await ch.consume(replyQueue, (msg) => msg && client.onReply(msg.properties.correlationId, msg.json<{ result: number }>().result), { noAck: true });
    return client;
  }

  /** fib(n), computed by the server; rejects after `timeoutMs`. */
  call(n: number, timeoutMs = 5_000): Promise<number> {
    const correlationId = `${process.pid}-${++this.next}`;
    return new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(correlationId);
        reject(new Error(`fib(${n}) timed out`));
      }, timeoutMs);
      this.pending.set(correlationId, { resolve, reject, timer });
      this.ch.sendToQueueJson(this.queue, { n }, { replyTo: this.replyQueue, correlationId }).catch((err: Error) => {
        clearTimeout(timer);
        this.pending.delete(correlationId);
        reject(err);
      });
    });
  }

  private onReply(correlationId: string | undefined, result: number): void {
    const call = correlationId === undefined ? undefined : this.pending.get(correlationId);
    if (call === undefined) return; // a late reply to a call that timed out
    this.pending.delete(correlationId!);
    clearTimeout(call.timer);
    call.resolve(result);
  }

  close(): Promise<void> {
    return this.conn.close();
  }
}

/** Starts a server and a client and makes a few concurrent calls. */
export async function rpc(url: string, queue = 'example.rpc.fib'): Promise<{ results: Record<number, number> }> {
  const server = await FibServer.start(url, queue);
  const client = await FibClient.connect(url, queue);
  const ns = [1, 2, 10, 20, 30, 40];
  const values = await Promise.all(ns.map((n) => client.call(n)));
  await client.close();
  await server.close();
  return { results: Object.fromEntries(ns.map((n, i) => [n, values[i]!])) };
}

runIfMain(import.meta.url, (url) => rpc(url));
