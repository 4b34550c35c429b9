import { connect } from '@switchyard/client';
import type { TestBroker } from '../helpers/broker.js';
import { sleep, type Channel, type Connection } from '../helpers/client.js';
import { api, V } from '../helpers/http.js';

/** A status row of GET /api/shovels. */
export interface ShovelRow {
  name: string;
  state: string;
  messagesMoved: number;
  inFlight: number;
  lag: number | undefined;
  lastError: string | undefined;
  nextAttemptAt: string | undefined;
}

export async function putShovel(tb: TestBroker, name: string, value: Record<string, unknown>): Promise<number> {
  const r = await api(tb, 'PUT', `/api/parameters/shovel/${V}/${encodeURIComponent(name)}`, { value });
  if (r.status >= 300) throw new Error(`PUT shovel ${name}: ${r.status} ${JSON.stringify(r.body)}`);
  return r.status;
}

export async function shovelRow(tb: TestBroker, name: string): Promise<ShovelRow | undefined> {
  const r = await api<ShovelRow[]>(tb, 'GET', '/api/shovels');
  return r.body.find((s) => s.name === name);
}

/** Polls a shovel's state in the background; `states` lists each change. */
export function watchStates(tb: () => TestBroker, name: string): { states: string[]; stop: () => void } {
  const states: string[] = [];
  let on = true;
  void (async () => {
    while (on) {
      const row = await shovelRow(tb(), name).catch(() => undefined);
      if (row !== undefined && states[states.length - 1] !== row.state) states.push(row.state);
      await sleep(15);
    }
  })();
  return { states, stop: () => (on = false) };
}

export async function waitForState(tb: TestBroker, name: string, state: string, ms = 15_000): Promise<ShovelRow> {
  const deadline = Date.now() + ms;
  for (;;) {
    const row = await shovelRow(tb, name);
    if (row?.state === state) return row;
    if (Date.now() > deadline) throw new Error(`shovel ${name} not ${state} in ${ms} ms: ${JSON.stringify(row)}`);
    await sleep(20);
  }
}

/** Collects the bodies arriving on a queue, in order. */
export async function collect(
  url: string,
  queue: string,
  conns: Connection[],
): Promise<{ got: string[]; ch: Channel }> {
  const conn = await connect(url);
  conns.push(conn);
  const ch = await conn.createChannel();
  const got: string[] = [];
  await ch.consume(
    queue,
    (m) => {
      if (m === null) return;
      got.push(Buffer.from(m.content).toString());
      ch.ack(m);
    },
    { noAck: false },
  );
  return { got, ch };
}

export async function waitForCount(got: string[], n: number, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (got.length < n) {
    if (Date.now() > deadline) throw new Error(`got ${got.length} of ${n} messages`);
    await sleep(10);
  }
}

export const range = (from: number, n: number): string[] => Array.from({ length: n }, (_, i) => `m${from + i}`);

/** Publishes persistent messages m{from}..m{from+n-1} to a queue, confirmed. */
export async function publishRange(ch: Channel, queue: string, from: number, n: number): Promise<void> {
  await Promise.all(range(from, n).map((body) => ch.sendToQueue(queue, Buffer.from(body), { persistent: true })));
}

/** A destination queue that deduplicates within 60 s, as a shovel's destination should. */
export const DEDUP_ARGS = { 'x-deduplication-window': 60_000 };

/** Gets every message left on `queue` (no ack), as text bodies in order. */
export async function drainBodies(ch: Channel, queue: string): Promise<string[]> {
  const got: string[] = [];
  for (;;) {
    const m = await ch.get(queue, { noAck: true });
    if (m === false) return got;
    got.push(Buffer.from(m.content).toString());
  }
}
