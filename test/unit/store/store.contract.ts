import { expect } from 'chai';
import { ScopedStore, queueDedupScope } from '@switchyard/broker/internal';
import { META, queueDef, record, type ContractStore, type CrashScenario } from './crash-scenarios.js';

/** One store location per test; what a store implementation gives the contract suite. */
export interface StoreHarness {
  /** Opens a store on this location: empty the first time, then whatever was left there. */
  open(): ContractStore;
  /**
   * Runs a crash scenario against a store on this location whose writer then dies without
   * closing it (see crash-scenarios.ts). Resolves once the writer is gone.
   */
  crash(scenario: CrashScenario): Promise<void>;
  /** Removes the location. */
  dispose(): Promise<void>;
}

const body = (store: ContractStore, queueId: number, seq: number): string | undefined => {
  const r = store.read(queueId, seq);
  return r === undefined ? undefined : Buffer.from(r.content).toString();
};

async function reopen(h: StoreHarness, store: ContractStore): Promise<ContractStore> {
  await store.close();
  const next = h.open();
  next.loadAccess();
  next.loadDefinitions();
  return next;
}

/**
 * The behaviour every QueueStore implementation shares (as nats-server runs each store test
 * on every implementation). Run it, unchanged, from each implementation's test file.
 */
export function storeContract(name: string, makeHarness: () => Promise<StoreHarness>): void {
  describe(`${name}: QueueStore contract`, () => {
    let h: StoreHarness;
    let store: ContractStore | undefined;
    beforeEach(async () => {
      h = await makeHarness();
      store = undefined;
    });
    afterEach(async () => {
      await store?.close();
      await h.dispose();
    });
    const open = (): ContractStore => (store = h.open());

    it('stores messages and reads them back after reopening, in sequence order', async () => {
      let s = open();
      s.putQueue(queueDef('q', s.allocateQueueId()));
      for (let seq = 1; seq <= 5; seq++) s.enqueue(1, seq, record(`m${seq}`), META);
      s.ack(1, 2, 0, 2);
      await s.durable();
      s = store = await reopen(h, s);
      expect(s.loadDefinitions().queues.map((q) => q.name)).to.deep.equal(['q']);
      const entries = s.recover(1);
      expect(entries.map((x) => x.seq)).to.deep.equal([1, 3, 4, 5]);
      expect(entries[0]!.size).to.equal(2);
      expect(body(s, 1, 3)).to.equal('m3');
      expect(s.read(1, 3)!.properties).to.deep.equal({ persistent: true, headers: { h: 1 } });
      expect(s.allocateQueueId()).to.equal(2);
    });

    it('keeps a copy of the body: the caller may reuse its buffer', async () => {
      const s = open();
      const buf = Buffer.from('abc');
      s.enqueue(1, 1, { ...record(''), content: buf }, META);
      s.delayed('/').put(1, { ...record(''), content: buf }, 5);
      buf.fill(0x7a);
      await s.durable();
      expect(body(s, 1, 1)).to.equal('abc');
      expect(Buffer.from(s.delayed('/').read(1)!.content).toString()).to.equal('abc');
    });

    it('treats the publish id as stable: enqueueing the same id again keeps one message', async () => {
      const s = open();
      s.enqueue(1, 1, record('first'), META);
      s.enqueue(1, 1, record('again'), META);
      await s.durable();
      expect(s.recover(1).map((e) => e.seq)).to.deep.equal([1]);
      expect(s.stats(1)).to.deep.equal({ messages: 1, bytes: 5 });
    });

    it('recovers delivery counts of claims in publish order and of redeliveries', async () => {
      let s = open();
      for (let seq = 1; seq <= 4; seq++) s.enqueue(7, seq, record('b'), META);
      const l1 = s.claim(7, 1, 1, true);
      s.claim(7, 2, 1, true);
      s.release(7, 1, 1, 0, l1);
      const l2 = s.claim(7, 1, 2, true);
      s.release(7, 1, 2, 0, l2);
      s.claim(7, 1, 3, true);
      await s.durable();
      s = store = await reopen(h, s);
      expect(s.recover(7).map((e) => [e.seq, e.deliveries, e.readyAt])).to.deep.equal([
        [1, 3, 0],
        [2, 1, 0],
        [3, 0, 0],
        [4, 0, 0],
      ]);
    });

    it('recovers claims out of publish order (priority queues) without marking earlier messages', async () => {
      let s = open();
      for (let seq = 1; seq <= 3; seq++) s.enqueue(8, seq, record('p'), { expiresAt: 0, priority: seq });
      s.claim(8, 3, 1, false);
      await s.durable();
      s = store = await reopen(h, s);
      expect(s.recover(8).map((e) => [e.seq, e.deliveries, e.priority])).to.deep.equal([
        [1, 0, 1],
        [2, 0, 2],
        [3, 1, 3],
      ]);
    });

    it('holds a released message back until readyAt, and clears that when the delay ends', async () => {
      let s = open();
      s.enqueue(3, 1, record('x'), { expiresAt: 123456, priority: 7 });
      s.enqueue(3, 2, record('y'), META);
      const lease = s.claim(3, 1, 1, true);
      s.release(3, 1, 1, 999999, lease);
      await s.durable();
      s = store = await reopen(h, s);
      const [first] = s.recover(3);
      expect(first).to.deep.equal({
        seq: 1,
        size: 1,
        deliveries: 1,
        readyAt: 999999,
        expiresAt: 123456,
        priority: 7,
        lease: first!.lease,
      });
      s.release(3, 1, 1, 0, first!.lease);
      await s.durable();
      s = store = await reopen(h, s);
      expect(s.recover(3).map((e) => [e.seq, e.deliveries, e.readyAt])).to.deep.equal([
        [1, 1, 0],
        [2, 0, 0],
      ]);
    });

    it('removes a message and all it had on ack, drop and purge, with the lease it handed out', async () => {
      let s = open();
      for (let seq = 1; seq <= 4; seq++) s.enqueue(5, seq, record('z'), META);
      const a = s.claim(5, 1, 2, true); // a redelivery: a record of its own where the store keeps one
      const b = s.release(5, 2, 1, 5000, s.claim(5, 2, 1, false));
      await s.durable();
      s = store = await reopen(h, s);
      const leases = new Map(s.recover(5).map((e) => [e.seq, e.lease]));
      s.ack(5, 1, leases.get(1) ?? a, 1);
      s.drop(5, 2, leases.get(2) ?? b, 1);
      s.purge(5, [{ seq: 3, lease: leases.get(3)!, size: 1 }]);
      await s.durable();
      expect(s.recover(5).map((e) => e.seq)).to.deep.equal([4]);
      // Nothing of the removed messages lingers: the same ids come back as new messages.
      s.enqueue(5, 1, record('z'), META);
      s.enqueue(5, 2, record('z'), META);
      await s.durable();
      s = store = await reopen(h, s);
      expect(s.recover(5).map((e) => [e.seq, e.deliveries, e.readyAt])).to.deep.equal([
        [1, 0, 0],
        [2, 0, 0],
        [4, 0, 0],
      ]);
    });

    it('leaves a claimed message in place when its lease is touched', async () => {
      const s = open();
      s.enqueue(1, 1, record('t'), META);
      const lease = s.claim(1, 1, 1, true);
      s.touch(1, 1, lease);
      await s.durable();
      expect(s.recover(1).map((e) => [e.seq, e.deliveries])).to.deep.equal([[1, 1]]);
    });

    it('counts stored messages and body bytes per queue', async () => {
      const s = open();
      s.enqueue(1, 1, record('abc'), META);
      s.enqueue(1, 2, record('de'), META);
      s.enqueue(2, 1, record('f'), META);
      await s.durable();
      expect(s.stats(1)).to.deep.equal({ messages: 2, bytes: 5 });
      s.ack(1, 1, 0, 3);
      await s.durable();
      expect(s.stats(1)).to.deep.equal({ messages: 1, bytes: 2 });
      expect(s.stats(3)).to.deep.equal({ messages: 0, bytes: 0 });
    });

    it('keeps counts and the last sequence across a reopen, and after every message is acked', async () => {
      let s = open();
      for (let seq = 1; seq <= 5; seq++) s.enqueue(4, seq, record('x'.repeat(seq)), META);
      s.ack(4, 1, s.claim(4, 1, 1, true), 1);
      await s.durable();
      s = store = await reopen(h, s);
      expect(s.position(4)).to.deep.equal({ messages: 4, bytes: 14, lastSeq: 5 });
      for (let seq = 2; seq <= 5; seq++) s.drop(4, seq, 0, seq);
      await s.durable();
      s = store = await reopen(h, s);
      // Empty, but new messages still continue after the last sequence ever used.
      expect(s.position(4)).to.deep.equal({ messages: 0, bytes: 0, lastSeq: 5 });
      expect(s.position(6)).to.deep.equal({ messages: 0, bytes: 0, lastSeq: 0 });
    });

    it('scans a queue in chunks from a sequence on, with delivery counts and delays', async () => {
      let s = open();
      for (let seq = 1; seq <= 10; seq++) s.enqueue(2, seq, record(`m${seq}`), { expiresAt: seq, priority: 0 });
      s.enqueue(3, 1, record('other'), META);
      s.release(2, 7, 1, 99_999, s.claim(2, 7, 1, false));
      await s.durable();
      s = store = await reopen(h, s);
      s.position(2);
      expect(s.scan(2, 0, 4).map((e) => e.seq)).to.deep.equal([1, 2, 3, 4]);
      const next = s.scan(2, 5, 4);
      expect(next.map((e) => [e.seq, e.deliveries, e.readyAt, e.expiresAt, e.size])).to.deep.equal([
        [5, 0, 0, 5, 2],
        [6, 0, 0, 6, 2],
        [7, 1, 99_999, 7, 2],
        [8, 0, 0, 8, 2],
      ]);
      expect(s.scan(2, 9, 4).map((e) => e.seq)).to.deep.equal([9, 10]);
      expect(s.scan(2, 11, 4)).to.deep.equal([]);
    });

    it('drops the tail of a queue from a sequence on, counts included', async () => {
      let s = open();
      for (let seq = 1; seq <= 6; seq++) s.enqueue(2, seq, record('ab'), META);
      await s.durable();
      s.dropFrom(2, 3, { messages: 4, bytes: 8 });
      await s.durable();
      s = store = await reopen(h, s);
      expect(s.recover(2).map((e) => e.seq)).to.deep.equal([1, 2]);
      expect(s.position(2)).to.deep.equal({ messages: 2, bytes: 4, lastSeq: 6 });
    });

    it('keeps queues apart and removes a whole queue, even messages written in the same turn', async () => {
      const s = open();
      const def = queueDef('a', 1);
      s.putQueue(def);
      s.enqueue(1, 1, record('a1'), META);
      s.enqueue(2, 1, record('b1'), META);
      s.putDedup('q:1', 'gone', 10);
      s.removeQueue(def);
      await s.durable();
      expect(s.recover(1)).to.deep.equal([]);
      expect(s.recover(2).map((e) => e.seq)).to.deep.equal([1]);
      expect(s.loadDefinitions().queues).to.deep.equal([]);
      expect(s.loadDedup('q:1')).to.deep.equal([]);
    });

    it("forgets a queue's dedup ids when a vhost's scoped view removes the queue", async () => {
      const s = open();
      const scoped = new ScopedStore(s, 'other');
      const def = queueDef('a', 7);
      scoped.putQueue(def);
      scoped.putDedup(queueDedupScope(7), 'id', 10);
      await s.durable();
      expect(scoped.loadDedup(queueDedupScope(7))).to.deep.equal([['id', 10]]);
      scoped.removeQueue(def);
      await s.durable();
      expect(scoped.loadDedup(queueDedupScope(7))).to.deep.equal([]);
    });

    it('keeps dedup ids across a reopen, ordered by expiry', async () => {
      let s = open();
      s.putDedup('q:3', 'id-a', 5000);
      s.putDedup('q:3', 'id-b', 4000);
      s.putDedup('q:3', 'id-c', 4500);
      s.putDedup('q:4', 'other', 4000);
      s.removeDedup('q:3', 'id-c');
      await s.durable();
      s = store = await reopen(h, s);
      expect(s.loadDedup('q:3')).to.deep.equal([
        ['id-b', 4000],
        ['id-a', 5000],
      ]);
    });

    it('reads back definitions and access records with long names and control characters', async () => {
      const odd = 'n\u0000a\u0001m\ne-'.repeat(30);
      let s = open();
      s.putExchange({ name: odd, type: 'topic', durable: true, autoDelete: false, internal: false, arguments: {} });
      s.putQueue({ name: odd, id: 9, durable: true, autoDelete: false, arguments: { 'x-max-length': 1 } });
      s.putBinding(odd, { source: odd, destination: odd, destinationKind: 'queue', routingKey: odd, arguments: {} });
      s.putUser({ name: odd, passwordHash: 'h', tags: [] });
      s.putVhost({ name: odd });
      s.putPermission({ user: odd, vhost: odd, configure: '.*', write: '', read: '' });
      s.putDedup('q:9', odd, 1234);
      await s.durable();
      s = store = await reopen(h, s);
      const defs = s.loadDefinitions();
      expect(defs.exchanges.map((x) => x.name)).to.deep.equal([odd]);
      expect(defs.queues.map((q) => q.name)).to.deep.equal([odd]);
      expect(defs.bindings.map((b) => b.routingKey)).to.deep.equal([odd]);
      const access = s.loadAccess();
      expect(access.users.map((u) => u.name)).to.deep.equal([odd]);
      expect(access.vhosts.map((v) => v.name)).to.deep.equal([odd]);
      s.putVhost({ name: odd }); // put again: same vhost, its delayed messages stay where they are
      expect(access.permissions.map((p) => p.vhost)).to.deep.equal([odd]);
      expect(s.loadDedup('q:9')).to.deep.equal([[odd, 1234]]);
      expect(s.loadDedup('q:90')).to.deep.equal([]);
      expect(s.allocateQueueId()).to.equal(10);
      s.removeExchange(odd);
      s.removeBinding(odd);
      s.removeUser(odd);
      s.removePermission(odd, odd);
      await s.durable();
      expect(s.loadDefinitions().exchanges).to.deep.equal([]);
      expect(s.loadDefinitions().bindings).to.deep.equal([]);
      expect(s.loadAccess().users).to.deep.equal([]);
      expect(s.loadAccess().permissions).to.deep.equal([]);
    });

    it("keeps each vhost's delayed messages apart from queues and other vhosts, across a reopen", async () => {
      let s = open();
      s.loadAccess();
      s.putVhost({ name: '/' });
      s.putVhost({ name: 'v' });
      s.putQueue(queueDef('q', s.allocateQueueId()));
      s.enqueue(1, 1, record('in-q'), META);
      s.delayed('/').put(1, record('root-1'), 2000);
      s.delayed('/').put(2, record('root-2'), 1000);
      s.delayed('v').put(1, record('v-1'), 3000);
      await s.durable();
      s = store = await reopen(h, s);
      expect(s.delayed('/').recover()).to.deep.equal([
        { seq: 1, dueAt: 2000 },
        { seq: 2, dueAt: 1000 },
      ]);
      expect(s.delayed('v').recover()).to.deep.equal([{ seq: 1, dueAt: 3000 }]);
      expect(s.recover(1).map((e) => e.seq)).to.deep.equal([1]);
      expect(s.allocateQueueId()).to.not.equal(1);
      expect(Buffer.from(s.delayed('v').read(1)!.content).toString()).to.equal('v-1');
      s.delayed('/').remove(1);
      s.delayed('v').clear();
      await s.durable();
      expect(s.delayed('/').recover()).to.deep.equal([{ seq: 2, dueAt: 1000 }]);
      expect(s.delayed('v').recover()).to.deep.equal([]);
      expect(s.delayed('/').read(1)).to.equal(undefined);
    });

    it('resolves durable() in call order', async () => {
      const s = open();
      const order: number[] = [];
      s.enqueue(1, 1, record('x'), META);
      const a = s.durable().then(() => order.push(1));
      const b = s.durable().then(() => order.push(2)); // no new writes: still after a
      s.enqueue(1, 2, record('y'), META);
      const c = s.durable().then(() => order.push(3));
      await Promise.all([a, b, c]);
      expect(order).to.deep.equal([1, 2, 3]);
    });

    describe('crash-shaped: the writer dies without closing the store', () => {
      it('keeps what durable() confirmed, and an unflushed batch whole or not at all', async () => {
        await h.crash('unflushedBatch');
        const s = open();
        expect(s.loadDefinitions().queues.map((q) => q.name)).to.deep.equal(['q']);
        const seqs = s.recover(1).map((e) => e.seq);
        expect([JSON.stringify([1, 2, 3]), JSON.stringify([2, 3, 4, 5])]).to.include(JSON.stringify(seqs));
        for (const seq of seqs) expect(body(s, 1, seq)).to.equal(`m${seq}`);
        // The counts were written in the same transactions as the messages: they agree.
        const { messages, bytes } = s.position(1);
        expect({ messages, bytes }).to.deep.equal({ messages: seqs.length, bytes: 2 * seqs.length });
      });

      it('keeps everything durable() confirmed, delivery counts and delayed messages included', async () => {
        await h.crash('durableThenKilled');
        const s = open();
        s.loadAccess();
        expect(s.recover(1).map((e) => [e.seq, e.deliveries])).to.deep.equal([
          [1, 1],
          [2, 2],
          [3, 0],
          [4, 0],
        ]);
        expect(s.delayed('/').recover()).to.deep.equal([{ seq: 1, dueAt: 123456 }]);
      });

      it('never loses a dead-lettered message: the copy and the drop commit together', async () => {
        await h.crash('deadLetterInOneBatch');
        const s = open();
        const inSource = s.recover(1).length;
        const inDlq = s.recover(2).length;
        expect(inSource + inDlq).to.equal(1);
        expect(s.stats(1).messages).to.equal(inSource);
        expect(s.stats(2).messages).to.equal(inDlq);
      });
    });
  });
}
