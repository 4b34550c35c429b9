import { expect } from 'chai';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { FieldTable } from '@switchyard/client/protocol';
import {
  LmdbStore,
  Queue,
  WINDOW_MAX,
  EXPIRE_PER_TURN,
  RECOVER_CHUNK,
  type DeathReason,
  type MessageRecord,
  type QueueEntry,
} from '@switchyard/broker/internal';
import { open } from 'lmdb';
import { createServer, connect, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { FakeClock } from '../../helpers/fake-clock.js';
import { makeTmpDir } from '../../helpers/tmp.js';

/*
 * A queue at depth on a real LMDB store (spec/semantics.md §Deep backlogs): a few hundred
 * thousand persistent messages, of which only a bounded window is indexed in memory. Each
 * test would fail with every message indexed in memory (inMemoryEntries) or with the window
 * read out of order.
 */
const N = 300_000;
/** The window plus one refill chunk and what a test holds out: the most ever indexed in memory. */
const BOUND = WINDOW_MAX + 2048 + 64;

/** V8 heap in use after a full collection (gc exposed for this process at run time). */
function heapAfterGc(): number {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

interface Harness {
  clock: FakeClock;
  store: LmdbStore;
  queue: Queue;
  dead: { reason: DeathReason; n: number }[];
}

describe('deep queue: a bounded window in memory, the rest in LMDB', function () {
  this.timeout(60_000);
  let tmp: { dir: string; remove: () => Promise<void> };
  let h: Harness | undefined;
  beforeEach(async () => {
    tmp = await makeTmpDir('deep');
  });
  afterEach(async () => {
    h?.queue.stopTimers();
    await h?.store.close();
    h = undefined;
    await tmp.remove();
  });

  function openQueue(args: FieldTable = {}, clock = new FakeClock()): Harness {
    const store = LmdbStore.open({ path: tmp.dir, noSync: true });
    store.loadDefinitions();
    const dead: Harness['dead'] = [];
    const queue = new Queue(
      { name: 'deep', id: 1, durable: true, autoDelete: false, exclusiveOwner: undefined, arguments: args },
      {
        store,
        clock,
        deadLetter: (_q, record: MessageRecord, reason) => dead.push({ reason, n: numberOf(record.content) }),
        remove: () => undefined,
      },
    );
    queue.recover();
    return (h = { clock, store, queue, dead });
  }

  const body = (i: number): Buffer => {
    const b = Buffer.alloc(100, i % 251);
    b.writeUInt32BE(i, 0);
    return b;
  };
  const numberOf = (content: Uint8Array): number => Buffer.from(content).readUInt32BE(0);

  /** Publishes messages `from`..`to - 1`, letting each 10,000 commit (as a publisher awaiting confirms would). */
  async function fill(q: Harness, from: number, to: number, persistent = true): Promise<void> {
    let maxInMemory = 0;
    for (let i = from; i < to; i++) {
      q.queue.enqueue('', 'deep', { persistent }, body(i));
      if (i % 10_000 === 9_999) {
        await q.store.durable();
        maxInMemory = Math.max(maxInMemory, q.queue.inMemoryEntries);
      }
    }
    await q.store.durable();
    expect(maxInMemory, 'entries indexed in memory while filling').to.be.at.most(BOUND);
  }

  /** Takes and acks up to `max` messages, checking the window stays bounded; returns their numbers. */
  async function drain(q: Harness, max = Infinity, bounded = true): Promise<number[]> {
    const out: number[] = [];
    while (out.length < max) {
      const t = q.queue.take();
      if (t === undefined) {
        // The window may wait for a commit before it reads on.
        await q.store.durable();
        await new Promise((r) => setImmediate(r));
        if (q.queue.messageCount === 0) break;
        continue;
      }
      out.push(numberOf(t.record.content));
      q.queue.settle(t.entry);
      if (out.length % 5_000 === 0) {
        if (bounded) expect(q.queue.inMemoryEntries).to.be.at.most(BOUND);
        await q.store.durable();
      }
    }
    await q.store.durable();
    return out;
  }

  const range = (from: number, to: number): number[] => Array.from({ length: to - from }, (_, i) => from + i);

  it(`holds ${N.toLocaleString('en')} messages with a bounded window and delivers them in order; counts survive a reopen`, async () => {
    let q = openQueue();
    await fill(q, 0, N / 3);
    const heapThen = heapAfterGc();
    await fill(q, N / 3, N);
    // 200,000 more messages: an index entry each (~300 bytes) would be ~60 MB more.
    const grown = heapAfterGc() - heapThen;
    expect(grown, `heap growth ${(grown / 1048576).toFixed(1)} MiB`).to.be.below(8 * 1024 * 1024);
    expect(q.queue.messageCount).to.equal(N);
    expect(q.queue.readyBytes).to.equal(N * 100);
    expect(q.queue.inMemoryEntries).to.be.at.most(BOUND);
    expect(await drain(q, 1000)).to.deep.equal(range(0, 1000));
    // Restart: the counts are read, not the messages; the window is read again from disk.
    q.queue.stopTimers();
    await q.store.close();
    h = undefined;
    q = openQueue();
    expect(q.queue.messageCount).to.equal(N - 1000);
    expect(q.queue.readyBytes).to.equal((N - 1000) * 100);
    expect(q.store.stats(1)).to.deep.equal({ messages: N - 1000, bytes: (N - 1000) * 100 });
    // The start read the heads only; the first take reads on in full chunks.
    expect(q.queue.inMemoryEntries).to.equal(RECOVER_CHUNK);
    const rest = await drain(q);
    expect(rest.length).to.equal(N - 1000);
    expect(rest.every((n, i) => n === 1000 + i)).to.equal(true);
    expect(q.store.stats(1)).to.deep.equal({ messages: 0, bytes: 0 });
    // Sequences continue after a restart of an empty queue: nothing new looks delivered.
    q.queue.enqueue('', 'deep', { persistent: true }, body(7));
    await q.store.durable();
    const t = q.queue.take()!;
    expect(t.entry.deliveries).to.equal(0);
  });

  it('puts requeued and delayed-retry messages back at their original position, ahead of the unread tail', async () => {
    const q = openQueue();
    await fill(q, 0, N);
    const taken: QueueEntry[] = [];
    // Past the first window: the tail has been read into memory at least once.
    for (let i = 0; i < WINDOW_MAX + 100; i++) {
      const t = q.queue.take()!;
      expect(numberOf(t.record.content)).to.equal(i);
      if (i === 5 || i === WINDOW_MAX + 50) taken.push(t.entry);
      else if (i === 10) taken.push(t.entry);
      else q.queue.settle(t.entry);
    }
    await q.store.durable();
    q.queue.requeue([taken[0]!, taken[2]!]); // 5 and WINDOW_MAX + 50: immediately
    q.queue.requeue([taken[1]!], { delayMs: 1000 }); // 10: after a second
    expect(q.queue.delayedCount).to.equal(1);
    const next = q.queue.take()!;
    expect([numberOf(next.record.content), next.entry.deliveries]).to.deep.equal([5, 1]);
    q.queue.settle(next.entry);
    const after = q.queue.take()!;
    expect(numberOf(after.record.content)).to.equal(WINDOW_MAX + 50);
    q.queue.settle(after.entry);
    expect(numberOf(q.queue.peek(1)[0]!.record.content)).to.equal(WINDOW_MAX + 100);
    q.clock.advance(1000);
    const retried = q.queue.take()!;
    expect([numberOf(retried.record.content), retried.entry.deliveries]).to.deep.equal([10, 1]);
    q.queue.settle(retried.entry);
    const rest = await drain(q);
    expect(rest.length).to.equal(N - WINDOW_MAX - 100);
    expect(rest[0]).to.equal(WINDOW_MAX + 100);
    expect(rest.at(-1)).to.equal(N - 1);
  });

  /** 10,000 messages, 0..8,999 out with a consumer, 8,999 back for a delayed retry of a minute; then a restart. */
  async function delayedBeyondWindowAfterRestart(): Promise<Harness> {
    const n = 10_000;
    let q = openQueue();
    await fill(q, 0, n);
    let last: QueueEntry | undefined;
    for (let i = 0; i < 9_000; i++) {
      const t = q.queue.take()!;
      expect(numberOf(t.record.content)).to.equal(i);
      last = t.entry;
      if (i % 1000 === 999) await q.store.durable(); // lets the window read on
    }
    q.queue.requeue([last!], { delayMs: 60_000 });
    await q.store.durable();
    q.queue.stopTimers();
    await q.store.close();
    h = undefined;
    // The same time after the restart: the retry is still a minute away.
    q = openQueue({}, q.clock);
    // Counted right at once, although 8,999 is far beyond the first window.
    expect(q.queue.delayedCount).to.equal(1);
    expect(q.queue.messageCount).to.equal(n - 1);
    expect(q.queue.readyBytes).to.equal((n - 1) * 100);
    return q;
  }

  it('counts a delayed retry beyond the window as delayed the moment a restarted queue answers; it waits its time', async () => {
    const q = await delayedBeyondWindowAfterRestart();
    const got = await drain(q);
    expect(got).to.deep.equal(range(0, 10_000).filter((i) => i !== 8_999));
    expect(q.queue.delayedCount).to.equal(1);
    q.clock.advance(60_000);
    expect(q.queue.delayedCount).to.equal(0);
    const t = q.queue.take()!;
    expect([numberOf(t.record.content), t.entry.deliveries]).to.deep.equal([8_999, 1]);
  });

  it('a delayed retry beyond the window whose delay ends first waits for the window: original position', async () => {
    const q = await delayedBeyondWindowAfterRestart();
    q.clock.advance(60_000);
    expect(q.queue.delayedCount).to.equal(0);
    expect(q.queue.messageCount).to.equal(10_000);
    expect(await drain(q)).to.deep.equal(range(0, 10_000));
  });

  it('expires messages at depth by x-message-ttl and dead-letters every one of them', async () => {
    const q = openQueue({ 'x-message-ttl': 1000, 'x-dead-letter-exchange': 'dlx' });
    await fill(q, 0, N);
    q.clock.advance(1001);
    await q.store.durable();
    // Expiry reads the tail as it goes, a bounded number per turn; let it run until the queue is empty.
    for (let i = 0; i < 10_000 && q.queue.messageCount > 0; i++) {
      q.clock.advance(1);
      await q.store.durable();
      await new Promise((r) => setImmediate(r));
    }
    expect(q.queue.messageCount).to.equal(0);
    expect(q.dead.length).to.equal(N);
    expect(q.dead.every((d, i) => d.reason === 'expired' && d.n === i)).to.equal(true);
    expect(q.store.stats(1)).to.deep.equal({ messages: 0, bytes: 0 });
  });

  it('expires a deep queue a bounded number per turn: another connection is served meanwhile', async () => {
    const q = openQueue({ 'x-message-ttl': 1000 });
    await fill(q, 0, N);
    // Another connection on a real socket: an echo server and a client pinging it.
    const server = createServer((s) => s.pipe(s));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const client = connect((server.address() as AddressInfo).port, '127.0.0.1');
    try {
      await new Promise((r) => client.once('connect', r));
      q.clock.advance(1001); // every message expires now
      // The expiry timer ran: it removed at most one turn's worth, not the whole queue.
      expect(q.queue.messageCount).to.be.at.least(N - 2 * EXPIRE_PER_TURN);
      const seen: number[] = [];
      for (let i = 0; i < 100_000 && q.queue.messageCount > 0; i++) {
        const pong = new Promise((r) => client.once('data', r));
        client.write('ping');
        await pong;
        seen.push(q.queue.messageCount);
      }
      expect(q.queue.messageCount).to.equal(0);
      // The other connection got answers while the expiry was in progress, many times.
      expect(seen.filter((n) => n > 0 && n < N).length).to.be.at.least(10);
      await q.store.durable();
      expect(q.store.stats(1)).to.deep.equal({ messages: 0, bytes: 0 });
    } finally {
      client.destroy();
      await new Promise((r) => server.close(r));
    }
  });

  it('purges a deep queue: the unread tail is removed from disk, counts included', async () => {
    let q = openQueue();
    await fill(q, 0, N);
    const held = q.queue.take()!; // out with a consumer: stays
    expect(q.queue.purge()).to.equal(N - 1);
    await q.store.durable();
    expect(q.queue.messageCount).to.equal(0);
    expect(q.store.stats(1)).to.deep.equal({ messages: 1, bytes: 100 });
    q.queue.requeue([held.entry]);
    q.queue.stopTimers();
    await q.store.close();
    h = undefined;
    q = openQueue();
    expect(q.queue.messageCount).to.equal(1);
    expect(await drain(q)).to.deep.equal([0]);
  });

  it('drops from the head of a deep queue by x-max-length (drop-head), on disk too', async () => {
    const max = 200_000;
    let q = openQueue({ 'x-max-length': max });
    await fill(q, 0, N);
    expect(q.queue.messageCount).to.equal(max);
    expect(q.store.stats(1).messages).to.equal(max);
    q.queue.stopTimers();
    await q.store.close();
    h = undefined;
    q = openQueue({ 'x-max-length': max });
    expect(q.queue.messageCount).to.equal(max);
    const got = await drain(q);
    expect(got.length).to.equal(max);
    expect(got[0]).to.equal(N - max);
    expect(got.every((n, i) => n === N - max + i)).to.equal(true);
  });

  it(`windows a priority queue of ${N.toLocaleString('en')} messages: highest priority first, FIFO within a priority, requeue in place, across a reopen`, async () => {
    const args = { 'x-max-priority': 3 };
    let q = openQueue(args);
    for (let i = 0; i < N; i++) {
      q.queue.enqueue('', 'deep', { persistent: true, priority: i % 4 }, body(i));
      if (i % 10_000 === 9_999) {
        await q.store.durable();
        expect(q.queue.inMemoryEntries, 'entries indexed in memory while filling').to.be.at.most(BOUND);
      }
    }
    await q.store.durable();
    expect(q.queue.messageCount).to.equal(N);
    expect(q.queue.inMemoryEntries).to.be.at.most(BOUND);
    const expected = [3, 2, 1, 0].flatMap((p) => range(0, N / 4).map((k) => k * 4 + p));
    // Out with a consumer and requeued: back at their place within their level.
    const held = [q.queue.take()!, q.queue.take()!];
    q.queue.requeue(held.map((t) => t.entry));
    expect(await drain(q, 1000)).to.deep.equal(expected.slice(0, 1000));
    q.queue.stopTimers();
    await q.store.close();
    h = undefined;
    q = openQueue(args);
    // Per-level counts are stored: the depth is right at once, and only a window is read.
    expect(q.queue.messageCount).to.equal(N - 1000);
    expect(q.queue.readyBytes).to.equal((N - 1000) * 100);
    expect(q.queue.inMemoryEntries).to.be.at.most(BOUND);
    // A new message of the highest priority goes ahead of the whole backlog of lower ones.
    q.queue.enqueue('', 'deep', { persistent: true, priority: 3 }, body(N));
    const got = await drain(q);
    const rest = [...expected.slice(1000, N / 4), N, ...expected.slice(N / 4)];
    expect(got.length).to.equal(rest.length);
    expect(got.every((v, i) => v === rest[i])).to.equal(true);
    expect(q.store.stats(1)).to.deep.equal({ messages: 0, bytes: 0 });
  });

  it('indexes a priority queue stored without the priority index once, at first open', async () => {
    const args = { 'x-max-priority': 2 };
    let q = openQueue(args);
    const n = 20_000;
    for (let i = 0; i < n; i++) q.queue.enqueue('', 'deep', { persistent: true, priority: i % 3 }, body(i));
    await q.store.durable();
    q.queue.stopTimers();
    await q.store.close();
    h = undefined;
    // As a format-2 broker left it: no priority index, no per-level counts.
    const env = open({ path: join(tmp.dir, 'switchyard.mdb') });
    const meta = env.openDB({ name: 'meta', encoding: 'msgpack' });
    const rec = meta.get('c:MQ') as number[];
    meta.putSync('c:MQ', rec.slice(0, 3));
    env.openDB({ name: 'prio', encoding: 'binary', keyEncoding: 'binary' }).dropSync();
    await env.close();
    q = openQueue(args);
    expect(q.queue.messageCount).to.equal(n);
    expect(q.queue.inMemoryEntries).to.be.at.most(BOUND);
    const expected = [2, 1, 0].flatMap((p) => range(0, n).filter((i) => i % 3 === p));
    expect(await drain(q)).to.deep.equal(expected);
  });

  it('keeps transient messages in order among persistent ones beyond the window', async () => {
    const q = openQueue();
    await fill(q, 0, WINDOW_MAX + 10);
    q.queue.enqueue('', 'deep', { persistent: false }, body(WINDOW_MAX + 10));
    await fill(q, WINDOW_MAX + 11, WINDOW_MAX + 3000);
    q.queue.enqueue('', 'deep', { persistent: false }, body(WINDOW_MAX + 3000));
    expect(q.queue.messageCount).to.equal(WINDOW_MAX + 3001);
    expect(await drain(q)).to.deep.equal(range(0, WINDOW_MAX + 3001));
  });
});
