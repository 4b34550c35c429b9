/**
 * Publish/subscribe: a publisher sends to a fanout exchange; every subscriber declares its
 * own server-named, exclusive queue (deleted when the subscriber goes away) bound to it,
 * so each subscriber gets every message published while it listens.
 *
 *   npx tsx client-sdk/examples/pub-sub.ts [ws://127.0.0.1:5680]
 */
import { connect } from '@switchyard/client';
import { runIfMain } from './run-main.js';

export interface PubSubOptions {
  exchange?: string;
  subscribers?: number;
  messages?: number;
}

/** Resolves with what each subscriber received, in order. */
export async function pubSub(
  url: string,
  options: PubSubOptions = {},
): Promise<{ received: Record<string, string[]> }> {
  const { exchange = 'example.logs', subscribers = 3, messages = 5 } = options;
  const received: Record<string, string[]> = {};
  let expected = subscribers * messages;
  let allReceived!: () => void;
  const done = new Promise<void>((resolve) => (allReceived = resolve));

  const subConns = await Promise.all(Array.from({ length: subscribers }, () => connect(url, { reconnect: true })));
  await Promise.all(
    subConns.map(async (conn, i) => {
      const name = `subscriber-${i + 1}`;
      received[name] = [];
      const ch = await conn.createChannel();
      await ch.assertExchange(exchange, 'fanout', { durable: false });
      // '' = let the broker name it; exclusive = this connection's alone. With `reconnect`
      // the SDK re-declares it after a drop (under a new name) and re-binds it.
      const { queue } = await ch.assertQueue('', { exclusive: true });
      await ch.bindQueue(queue, exchange, '');
      await ch.consume(
        queue,
        (msg) => {
          if (msg === null) return;
          received[name]!.push(msg.content.toString());
          if (--expected === 0) allReceived();
        },
        { noAck: true }, // a log line may be lost with its subscriber; no acks needed
      );
    }),
  );

  const publisher = await connect(url, { reconnect: true });
  const ch = await publisher.createChannel();
  await ch.assertExchange(exchange, 'fanout', { durable: false });
  for (let i = 0; i < messages; i++) await ch.publish(exchange, '', Buffer.from(`log line ${i}`));

  await done;
  await ch.deleteExchange(exchange);
  await Promise.all([publisher, ...subConns].map((c) => c.close()));
  return { received };
}

runIfMain(import.meta.url, (url) => pubSub(url));
