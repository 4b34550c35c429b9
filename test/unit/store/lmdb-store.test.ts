import { expect } from 'chai';
import { open, type Database } from 'lmdb';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { LmdbStore, STORE_FORMAT_VERSION, messageKey, encodeRecord } from '@switchyard/broker/internal';
import { makeTmpDir } from '../../helpers/tmp.js';
import { META, record } from './crash-scenarios.js';
import { storeContract } from './store.contract.js';

const CRASH_CHILD = fileURLToPath(new URL('./crash-child.ts', import.meta.url));

// A location is a data directory; a crash is a child process that writes and then SIGKILLs
// itself without closing the environment (crash-child.ts).
storeContract('LmdbStore', async () => {
  const tmp = await makeTmpDir('store');
  return {
    open: () => LmdbStore.open({ path: tmp.dir }),
    crash: (scenario) =>
      new Promise<void>((resolve, reject) => {
        const child = spawn(process.execPath, ['--import', 'tsx', CRASH_CHILD, tmp.dir, scenario], {
          stdio: ['ignore', 'ignore', 'pipe'],
        });
        let stderr = '';
        child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
        child.on('error', reject);
        child.on('exit', (code, signal) =>
          signal === 'SIGKILL' ? resolve() : reject(new Error(`crash child ended with ${code ?? signal}: ${stderr}`)),
        );
      }),
    dispose: () => tmp.remove(),
  };
});

/** Opens the environment the way LmdbStore lays it out, to write what older brokers wrote. */
async function rawEnv(
  dir: string,
  edit: (dbs: { meta: Database; messages: Database<Buffer, Buffer>; deliveries: Database }) => void,
): Promise<void> {
  const root = open({ path: join(dir, 'switchyard.mdb'), maxDbs: 8 });
  edit({
    meta: root.openDB({ name: 'meta', encoding: 'msgpack' }),
    messages: root.openDB({ name: 'messages', encoding: 'binary', keyEncoding: 'binary' }),
    deliveries: root.openDB({ name: 'deliveries', encoding: 'msgpack', keyEncoding: 'binary' }),
  });
  await root.flushed;
  await root.close();
}

describe('LmdbStore', () => {
  let tmp: { dir: string; remove: () => Promise<void> };
  beforeEach(async () => {
    tmp = await makeTmpDir('store');
  });
  afterEach(async () => {
    await tmp.remove();
  });

  describe('data written by earlier brokers', () => {
    it("recovers delayed messages stored as a queue under the vhost record's delayedQueueId", async () => {
      // What vhost/delayed-messages.ts wrote before the store owned delayed messages: the
      // message under (delayedQueueId, seq), its due time in the expiry field.
      await rawEnv(tmp.dir, ({ meta, messages }) => {
        meta.putSync('v:dg', { name: 'v', delayedQueueId: 4 }); // 'v' base64url-encoded
        messages.putSync(messageKey(4, 7), encodeRecord(record('late'), { expiresAt: 99999, priority: 0 }));
        messages.putSync(messageKey(0, 1), encodeRecord(record('root'), { expiresAt: 55555, priority: 0 }));
      });
      const store = LmdbStore.open({ path: tmp.dir });
      expect(store.loadAccess().vhosts).to.deep.equal([{ name: 'v', delayedQueueId: 4 }]);
      expect(store.delayed('v').recover()).to.deep.equal([{ seq: 7, dueAt: 99999 }]);
      expect(Buffer.from(store.delayed('v').read(7)!.content).toString()).to.equal('late');
      expect(store.delayed('/').recover()).to.deep.equal([{ seq: 1, dueAt: 55555 }]);
      expect(store.allocateQueueId()).to.equal(5);
      await store.close();
    });

    it('recovers a bare delivery count and the delivered high-water mark', async () => {
      await rawEnv(tmp.dir, ({ meta, messages, deliveries }) => {
        for (let seq = 1; seq <= 4; seq++) messages.putSync(messageKey(7, seq), encodeRecord(record('b'), META));
        meta.putSync('d:Nw', 2); // high-water mark of queue 7 ('7' base64url-encoded)
        deliveries.putSync(messageKey(7, 1), 3);
      });
      const store = LmdbStore.open({ path: tmp.dir });
      expect(store.recover(7).map((e) => [e.seq, e.deliveries])).to.deep.equal([
        [1, 3],
        [2, 1],
        [3, 0],
        [4, 0],
      ]);
      await store.close();
    });
  });

  describe('kept counts (format 2)', () => {
    it('upgrades a format-1 store: counts each queue by one scan at first open, then reads the record', async () => {
      await rawEnv(tmp.dir, ({ meta, messages }) => {
        meta.putSync('f:format', { format: 'switchyard', version: 1 });
        for (let seq = 1; seq <= 5; seq++) messages.putSync(messageKey(3, seq), encodeRecord(record('abc'), META));
        meta.putSync('d:Mw', 2); // delivered high-water mark of queue 3 ('3' base64url-encoded)
      });
      let store = LmdbStore.open({ path: tmp.dir });
      expect(store.position(3)).to.deep.equal({ messages: 5, bytes: 15, lastSeq: 5 });
      expect(store.scan(3, 0, 3).map((e) => [e.seq, e.deliveries])).to.deep.equal([
        [1, 1],
        [2, 1],
        [3, 0],
      ]);
      await store.close();
      await rawEnv(tmp.dir, ({ meta, messages }) => {
        expect(meta.get('f:format')).to.deep.equal({ format: 'switchyard', version: STORE_FORMAT_VERSION });
        expect(meta.get('c:Mw')).to.deep.equal([5, 15, 5]);
        // Behind the store's back: if position() scanned, it would see 4 messages now.
        messages.removeSync(messageKey(3, 5));
      });
      store = LmdbStore.open({ path: tmp.dir });
      expect(store.position(3)).to.deep.equal({ messages: 5, bytes: 15, lastSeq: 5 });
      await store.close();
    });
  });

  it('a replayed message id with another priority leaves its old level: counts and index, on disk and in the same turn', async () => {
    let store = LmdbStore.open({ path: tmp.dir });
    store.priorityLevels(7, 5);
    store.enqueue(7, 1, record('abc'), { expiresAt: 0, priority: 1 });
    store.enqueue(7, 2, record('de'), { expiresAt: 0, priority: 1 });
    store.enqueue(7, 2, record('de'), { expiresAt: 0, priority: 3 }); // replayed in the same turn
    await store.durable();
    store.enqueue(7, 1, record('abcd'), { expiresAt: 0, priority: 4 }); // replayed once on disk
    await store.durable();
    const check = (s: LmdbStore): void => {
      const levels = s.priorityLevels(7, 5);
      expect(levels.map((l) => [l.messages, l.bytes])).to.deep.equal([
        [0, 0],
        [0, 0],
        [0, 0],
        [1, 2],
        [1, 4],
        [0, 0],
      ]);
      expect(s.scanLevel(7, 1, 0, 10)).to.have.length(0);
      expect(s.scanLevel(7, 3, 0, 10).map((e) => e.seq)).to.deep.equal([2]);
      expect(s.scanLevel(7, 4, 0, 10).map((e) => e.seq)).to.deep.equal([1]);
      expect(s.position(7)).to.include({ messages: 2, bytes: 6 });
    };
    check(store);
    await store.close();
    store = LmdbStore.open({ path: tmp.dir });
    check(store);
    await store.close();
  });

  it('an idle store that has done much reopens its environment (unmapping the pages it touched) and carries on', async () => {
    let store = LmdbStore.open({ path: tmp.dir, remapWhenIdle: { everyMs: 20, afterOps: 50 } });
    let late = false;
    store.onRemapLate = () => (late = true);
    for (let seq = 1; seq <= 100; seq++) {
      store.enqueue(3, seq, record(`m${seq}`), META);
      await store.durable(); // one batch each
    }
    const until = async (done: () => boolean): Promise<void> => {
      for (let i = 0; i < 1000 && !done(); i++) await new Promise((r) => setTimeout(r, 10));
    };
    await until(() => store.remaps > 0);
    expect(store.remaps, 'reopened once idle').to.equal(1);
    // Everything still works on the reopened environment: reads, scans, writes, counts.
    expect(store.read(3, 42)?.content.toString()).to.equal('m42');
    expect(store.scan(3, 0, 1000)).to.have.length(100);
    for (let seq = 1; seq <= 50; seq++) store.ack(3, seq, 0, `m${seq}`.length);
    store.enqueue(3, 101, record('m101'), META);
    await store.durable();
    expect(store.position(3)).to.include({ messages: 51, lastSeq: 101 });
    expect(late, 'nothing ran while the environment was closed').to.equal(false);
    await store.close();
    store = LmdbStore.open({ path: tmp.dir });
    expect(store.position(3)).to.include({ messages: 51, lastSeq: 101 });
    expect(store.scan(3, 0, 1000).map((e) => e.seq)[0]).to.equal(51);
    await store.close();
  });

  it('gives a vhost record put without a delayed-message id one of its own, from the queue id sequence', async () => {
    let store = LmdbStore.open({ path: tmp.dir });
    store.loadAccess();
    store.putVhost({ name: '/' });
    const queueId = store.allocateQueueId();
    store.putVhost({ name: 'v' });
    store.putVhost({ name: 'v' });
    await store.durable();
    await store.close();
    store = LmdbStore.open({ path: tmp.dir });
    expect(store.loadAccess().vhosts).to.have.deep.members([
      { name: '/', delayedQueueId: 0 },
      { name: 'v', delayedQueueId: queueId + 1 },
    ]);
    expect(store.allocateQueueId()).to.equal(queueId + 2);
    await store.close();
  });

  describe('format record', () => {
    async function rawMeta(dir: string, edit: (meta: Database) => void): Promise<void> {
      await rawEnv(dir, ({ meta }) => edit(meta));
    }
    it('is written at creation and on the first open of a store that lacks it', async () => {
      await rawMeta(tmp.dir, (meta) => meta.putSync('x:eA', { name: 'x' }));
      const store = LmdbStore.open({ path: tmp.dir });
      await store.close();
      await rawMeta(tmp.dir, (meta) =>
        expect(meta.get('f:format')).to.deep.equal({ format: 'switchyard', version: STORE_FORMAT_VERSION }),
      );
    });

    it('anchors the permission patterns of a store from before patterns matched anywhere in a name, once', async () => {
      const perm = { user: 'alice', vhost: '/', configure: 'alice\\..*|feed', write: '.*', read: '' };
      let store = LmdbStore.open({ path: tmp.dir });
      store.putPermission(perm);
      await store.close();
      // A store of this version keeps what was written.
      store = LmdbStore.open({ path: tmp.dir });
      expect(store.loadAccess().permissions).to.deep.equal([perm]);
      await store.close();
      // One written before the change (no marker): each pattern grants what it granted then.
      await rawMeta(tmp.dir, (meta) => meta.removeSync('f:permissions-search'));
      const anchored = { ...perm, configure: '^(?:alice\\..*|feed)$' };
      for (let i = 0; i < 2; i++) {
        store = LmdbStore.open({ path: tmp.dir });
        expect(store.loadAccess().permissions).to.deep.equal([anchored]);
        await store.close();
      }
    });

    it('refuses a store written by a newer, incompatible broker, and one that is not a Switchyard store', async () => {
      await rawMeta(tmp.dir, (meta) =>
        meta.putSync('f:format', { format: 'switchyard', version: STORE_FORMAT_VERSION + 1 }),
      );
      expect(() => LmdbStore.open({ path: tmp.dir })).to.throw(
        /has format version \d+, newer than this broker's \d+: run a newer Switchyard/,
      );
      await rawMeta(tmp.dir, (meta) => meta.putSync('f:format', { format: 'other' }));
      expect(() => LmdbStore.open({ path: tmp.dir })).to.throw(
        /is damaged \(its format record is not a Switchyard one\)/,
      );
    });
  });
});
