import { expect } from 'chai';
import { open, type Database } from 'lmdb';
import { join } from 'node:path';
import { LmdbStore, STORE_FORMAT_VERSION } from '@switchyard/broker/internal';
import { makeTmpDir } from '../../helpers/tmp.js';

const META = { expiresAt: 0, priority: 0 };
const record = (body: string) => ({ exchange: 'x', routingKey: 'k', properties: { persistent: true, headers: { h: 1 } }, content: Buffer.from(body) });

describe('LmdbStore', () => {
  let tmp: { dir: string; remove: () => Promise<void> };
  beforeEach(async () => {
    tmp = await makeTmpDir('store');
  });
  afterEach(async () => {
    await tmp.remove();
  });

  it('stores messages and reads them back after reopening, in sequence order', async () => {
    let store = LmdbStore.open({ path: tmp.dir });
    store.putQueue({ name: 'q', id: store.allocateQueueId(), durable: true, autoDelete: false, arguments: {} });
    for (let seq = 1; seq <= 5; seq++) store.enqueue(1, seq, record(`m${seq}`), META);
    store.ack(1, 2, false);
    await store.durable();
    await store.close();

    store = LmdbStore.open({ path: tmp.dir });
    const defs = store.loadDefinitions();
    expect(defs.queues.map((q) => q.name)).to.deep.equal(['q']);
    const entries = store.recover(1);
    expect(entries.map((x) => x.seq)).to.deep.equal([1, 3, 4, 5]);
    expect(entries[0]!.size).to.equal(2);
    const r = store.read(1, 3)!;
    expect(Buffer.from(r.content).toString()).to.equal('m3');
    expect(r.properties).to.deep.equal({ persistent: true, headers: { h: 1 } });
    expect(store.allocateQueueId()).to.equal(2);
    await store.close();
  });

  it('recovers delivery counts: high-water mark for first deliveries, explicit counts beyond', async () => {
    let store = LmdbStore.open({ path: tmp.dir });
    for (let seq = 1; seq <= 4; seq++) store.enqueue(7, seq, record('b'), META);
    store.markDeliveredUpTo(7, 2);
    store.setDeliveryState(7, 1, 3, 0);
    await store.durable();
    await store.close();
    store = LmdbStore.open({ path: tmp.dir });
    expect(store.recover(7).map((e) => [e.seq, e.deliveries])).to.deep.equal([
      [1, 3],
      [2, 1],
      [3, 0],
      [4, 0],
    ]);
    await store.close();
  });

  it('keeps queues apart and removes a whole queue', async () => {
    const store = LmdbStore.open({ path: tmp.dir });
    const def = { name: 'a', id: 1, durable: true, autoDelete: false, arguments: {} };
    store.putQueue(def);
    store.enqueue(1, 1, record('a1'), META);
    store.enqueue(2, 1, record('b1'), META);
    store.removeQueue(def);
    await store.durable();
    expect(store.recover(1)).to.deep.equal([]);
    expect(store.recover(2).map((e) => e.seq)).to.deep.equal([1]);
    expect(store.loadDefinitions().queues).to.deep.equal([]);
    await store.close();
  });

  it('keeps scheduling facts (expiry, priority, retry time) and dedup ids across a reopen', async () => {
    let store = LmdbStore.open({ path: tmp.dir });
    store.enqueue(3, 1, record('x'), { expiresAt: 123456, priority: 7 });
    store.setDeliveryState(3, 1, 2, 999999);
    store.putDedup('q:3', 'id-a', 5000);
    store.putDedup('q:3', 'id-b', 4000);
    store.putDedup('q:4', 'other', 4000);
    await store.durable();
    await store.close();
    store = LmdbStore.open({ path: tmp.dir });
    expect(store.recover(3)).to.deep.equal([{ seq: 1, size: 1, deliveries: 2, readyAt: 999999, expiresAt: 123456, priority: 7 }]);
    expect(store.loadDedup('q:3')).to.deep.equal([
      ['id-b', 4000],
      ['id-a', 5000],
    ]);
    await store.close();
  });

  it('reads back definitions, access records and dedup ids with long names and control characters', async () => {
    const odd = 'n\u0000a\u0001m\ne-'.repeat(30); // NUL, SOH, newline, 300+ characters
    let store = LmdbStore.open({ path: tmp.dir });
    store.putExchange({ name: odd, type: 'topic', durable: true, autoDelete: false, internal: false, arguments: {} });
    store.putQueue({ name: odd, id: 9, durable: true, autoDelete: false, arguments: { 'x-max-length': 1 } });
    store.putBinding(odd, { source: odd, destination: odd, destinationKind: 'queue', routingKey: odd, arguments: {} });
    store.putUser({ name: odd, passwordHash: 'h', tags: [] });
    store.putPermission({ user: odd, vhost: odd, configure: '.*', write: '', read: '' });
    store.putDedup('q:9', odd, 1234);
    store.markDeliveredUpTo(9, 5);
    await store.durable();
    await store.close();
    store = LmdbStore.open({ path: tmp.dir });
    const defs = store.loadDefinitions();
    expect(defs.exchanges.map((x) => x.name)).to.deep.equal([odd]);
    expect(defs.queues.map((q) => q.name)).to.deep.equal([odd]);
    expect(defs.bindings.map((b) => b.routingKey)).to.deep.equal([odd]);
    const access = store.loadAccess();
    expect(access.users.map((u) => u.name)).to.deep.equal([odd]);
    expect(access.permissions.map((p) => p.vhost)).to.deep.equal([odd]);
    expect(store.loadDedup('q:9')).to.deep.equal([[odd, 1234]]);
    expect(store.loadDedup('q:90')).to.deep.equal([]);
    store.removeExchange(odd);
    store.removeBinding(odd);
    await store.durable();
    expect(store.loadDefinitions().exchanges).to.deep.equal([]);
    expect(store.loadDefinitions().bindings).to.deep.equal([]);
    await store.close();
  });

  it('resolves durable() in call order', async () => {
    const store = LmdbStore.open({ path: tmp.dir });
    const order: number[] = [];
    store.enqueue(1, 1, record('x'), META);
    const a = store.durable().then(() => order.push(1));
    const b = store.durable().then(() => order.push(2)); // no new writes: still after a
    await Promise.all([a, b]);
    expect(order).to.deep.equal([1, 2]);
    await store.close();
  });

  describe('format record', () => {
    async function rawMeta(dir: string, edit: (meta: Database) => void): Promise<void> {
      const root = open({ path: join(dir, 'switchyard.mdb'), maxDbs: 8 });
      edit(root.openDB({ name: 'meta', encoding: 'msgpack' }));
      await root.flushed;
      await root.close();
    }

    it('is written at creation and on the first open of a store that lacks it', async () => {
      await rawMeta(tmp.dir, (meta) => meta.putSync('x:eA', { name: 'x' }));
      const store = LmdbStore.open({ path: tmp.dir });
      await store.close();
      await rawMeta(tmp.dir, (meta) => expect(meta.get('f:format')).to.deep.equal({ format: 'switchyard', version: STORE_FORMAT_VERSION }));
    });

    it('refuses a store written by a newer, incompatible broker, and one that is not a Switchyard store', async () => {
      await rawMeta(tmp.dir, (meta) => meta.putSync('f:format', { format: 'switchyard', version: STORE_FORMAT_VERSION + 1 }));
      expect(() => LmdbStore.open({ path: tmp.dir })).to.throw(/has format version \d+, newer than this broker's \d+: run a newer Switchyard/);
      await rawMeta(tmp.dir, (meta) => meta.putSync('f:format', { format: 'other' }));
      expect(() => LmdbStore.open({ path: tmp.dir })).to.throw(/is damaged \(its format record is not a Switchyard one\)/);
    });
  });
});
