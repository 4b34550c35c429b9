/**
 * RPC over queues: the server consumes a request queue and answers each request by
 * publishing to the request's `replyTo` with the same `correlationId`; the client matches
 * replies to calls by correlationId (RabbitMQ's RPC tutorial, with promises).
 *
 * The client uses direct reply-to: it consumes from the pseudo-queue
 * `amq.rabbitmq.reply-to` (noAck) and sends requests with that `replyTo` on the same
 * channel; the broker rewrites it to a name that routes the reply straight back to this
 * channel, with no reply queue to declare. Replies are at most once (a reply to a
 * requester that went away is dropped), hence the timeout on every call. Replies that must
 * survive the requester's brief disconnects need a real reply queue: a named, non-exclusive
 * one the requester keeps consuming from.
 *
 *   npx tsx client-sdk/examples/rpc.ts [ws://127.0.0.1:5680]
 */
import { connect } from '@switchyard/client';
import { runIfMain } from './run-main.js';

// In Node, message bodies are Buffers: Connection<Buffer>, Channel<Buffer>.
type Connection = Awaited<ReturnType<typeof connect>>;
type Channel = Awaited<ReturnType<Connection['createChannel']>>;

/** RabbitMQ's direct reply-to pseudo-queue. */
const REPLY_TO = 'amq.rabbitmq.reply-to';

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

/** Calls the server; replies come back through direct reply-to, matched by correlationId. */
export class FibClient {
  private readonly pending = new Map<
    string,
    { resolve: (v: number) => void; reject: (e: Error) => void; timer: ReturnType<typeof setTimeout> }
  >();
  private next = 0;

  private constructor(
    private readonly conn: Connection,
    private readonly ch: Channel,
    private readonly queue: string,
  ) {}

  static async connect(url: string, queue: string): Promise<FibClient> {
    const conn = await connect(url, { reconnect: true });
    const ch = await conn.createChannel();
    const client = new FibClient(conn, ch, queue);
    // Direct reply-to: consume (noAck) before publishing requests on this same channel.
    await ch.consume(
      REPLY_TO,
      (msg) => msg && client.onReply(msg.properties.correlationId, msg.json<{ result: number }>().result),
      { noAck: true },
    );
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
      this.ch.sendToQueueJson(this.queue, { n }, { replyTo: REPLY_TO, correlationId }).catch((err: Error) => {
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
