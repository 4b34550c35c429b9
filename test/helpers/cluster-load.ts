// Load helpers of the cluster tests (test/cluster): confirming publishers and waiting for a
// node to learn a queue declared on another node.
import { open, type Channel, type Connection } from './client.js';

/** Polls node `url` (a fresh channel per try: a 404 closes the channel) until it has queue `name`. */
export async function waitForQueueOn(url: string, name: string, conns: Connection[], ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    const { conn, ch } = await open(url, conns);
    const found = await ch.checkQueue(name).then(
      () => true,
      () => false,
    );
    await conn.close().catch(() => undefined);
    if (found) return;
    if (Date.now() > deadline) throw new Error(`node ${url} never saw queue '${name}'`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Confirming publishers running until `stop()`: which numbers were confirmed, and the longest gap. */
export interface ConfirmedLoad {
  readonly confirmed: Set<number>;
  longestStallMs(): number;
  stop(): Promise<void>;
}

/**
 * `parallel` publishers on `ch`, each publishing the next number as a persistent message to
 * `queue` and waiting for its confirm; a nacked publish is not counted.
 */
export function confirmingPublishers(ch: Channel, queue: string, parallel: number): ConfirmedLoad {
  const confirmed = new Set<number>();
  let next = 0;
  let stopped = false;
  let lastConfirmAt = Date.now();
  let longest = 0;
  const publisher = async (): Promise<void> => {
    while (!stopped) {
      const n = next++;
      try {
        await ch.publish('', queue, Buffer.from(String(n)), { persistent: true });
        confirmed.add(n);
        longest = Math.max(longest, Date.now() - lastConfirmAt);
        lastConfirmAt = Date.now();
      } catch {
        // Nacked (or the channel is closing): not confirmed, may or may not be consumed. A
        // rejected publish settles in a microtask, so without this pause a closed channel turns
        // the loop into a spin on promises that starves every timer of the test process.
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  };
  const running = Array.from({ length: parallel }, publisher);
  return {
    confirmed,
    longestStallMs: () => longest,
    stop: async () => {
      stopped = true;
      await Promise.all(running);
    },
  };
}
