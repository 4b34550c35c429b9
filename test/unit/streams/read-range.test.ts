import { expect } from 'chai';
import { LmdbStore } from '../../../broker/src/store/lmdb-store.js';
import { ScopedStore } from '../../../broker/src/store/scoped-store.js';
import { MemoryStore } from '../../../broker/src/store/memory-store.js';
import type { QueueStore } from '../../../broker/src/store/store.js';
import { makeTmpDir } from '../../helpers/tmp.js';

const meta = { expiresAt: 0, priority: 0 };
const body = (seq: number, size: number): Uint8Array => new Uint8Array(size).fill(seq % 256);

/** Stores seq 1..n (size bytes each) except `skip`, committed. */
async function fill(store: QueueStore, n: number, size: number, skip: Set<number>): Promise<void> {
  for (let seq = 1; seq <= n; seq++)
    if (!skip.has(seq))
      store.enqueue(7, seq, { exchange: 'x', routingKey: `k${seq}`, properties: null, content: body(seq, size) }, meta);
  await store.durable();
}

describe('QueueStore.readRange (stream replay reads a chunk at a time)', () => {
  let tmp: { dir: string; remove: () => Promise<void> };
  beforeEach(async () => (tmp = await makeTmpDir('read-range')));
  afterEach(async () => tmp.remove());

  for (const kind of ['lmdb', 'scoped memory (per-message fallback)'] as const) {
    it(`${kind}: messages fromSeq..toSeq in order, bodies kept intact, bounded by count and bytes`, async () => {
      const store: QueueStore =
        kind === 'lmdb' ? LmdbStore.open({ path: tmp.dir }) : new ScopedStore(MemoryStore.open(), '/');
      try {
        await fill(store, 50, 100, new Set([5, 6]));
        const got = store.readRange!(7, 3, 20, 10, 1 << 20);
        expect(got.map((m) => m.seq)).to.deep.equal([3, 4, 7, 8, 9, 10, 11, 12, 13, 14]);
        // Bodies are the messages' own, still intact after further reads.
        store.readRange!(7, 30, 50, 100, 1 << 20);
        for (const m of got) {
          expect(m.record.routingKey).to.equal(`k${m.seq}`);
          expect([...m.record.content]).to.deep.equal([...body(m.seq, 100)]);
        }
        expect(store.readRange!(7, 45, 60, 100, 1 << 20).map((m) => m.seq)).to.deep.equal([45, 46, 47, 48, 49, 50]);
        // Stops once past maxBytes (at least one message).
        expect(store.readRange!(7, 1, 50, 100, 250)).to.have.length(3);
        expect(store.readRange!(7, 1, 50, 100, 1)).to.have.length(1);
      } finally {
        await (store as { close?: () => Promise<void> }).close?.();
      }
    });
  }
});
