// Which compare-and-set writes have exactly one winner among concurrent writers on the
// nats-server we run (Debian's 2.9.10), and that the cluster store's create (kv-create.ts) has
// one winner also where @nats-io/kv's create has not: re-creating a deleted key.
// spec/cluster.md §Compare-and-set on 2.9.10.
import { expect } from 'chai';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import { Kvm, type KV } from '@nats-io/kv';
import { createKey } from '../../broker/src/cluster/kv-create.js';
import { skipWithoutNatsServer, startJetStreamCluster, type JetStreamCluster } from '../helpers/jetstream-cluster.js';

const ROUNDS = 25;
/** Writers per connection and round; two connections, to two different servers. */
const PER_CONNECTION = 8;
const BUCKET = 'cas';

interface Side {
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
  kv: KV;
}

/** True from nats-server 2.9.21, which checks an expected subject sequence > 0 at apply (PR #4319). */
function serializesSubjectSequence(version: string): boolean {
  const [major = 0, minor = 0, patch = 0] = version.split('.').map((n) => Number.parseInt(n, 10));
  return major > 2 || (major === 2 && (minor > 9 || (minor === 9 && patch >= 21)));
}

describe('cluster: compare-and-set under concurrent writers (real nats-server R3)', function () {
  this.timeout(120_000);
  let cluster: JetStreamCluster | undefined;
  const sides: Side[] = [];

  /** Runs `write(side, i)` for 2 × PER_CONNECTION writers at once; resolves with how many succeeded. */
  async function race(write: (side: Side, i: number) => Promise<unknown>): Promise<number> {
    const writers = Array.from({ length: 2 * PER_CONNECTION }, (_, i) => write(sides[i % 2]!, i));
    const settled = await Promise.allSettled(writers);
    return settled.filter((s) => s.status === 'fulfilled' && s.value !== false).length;
  }

  before(async function () {
    skipWithoutNatsServer(this, 'the compare-and-set race tests');
    cluster = await startJetStreamCluster();
    for (const url of cluster.urls.slice(0, 2)) {
      const nc = await connect({ servers: url });
      const kvm = new Kvm(nc);
      const kv = sides.length === 0 ? await kvm.create(BUCKET, { replicas: 3, history: 1 }) : await kvm.open(BUCKET);
      sides.push({ nc, js: jetstream(nc), jsm: await jetstreamManager(nc), kv });
    }
  });

  after(async () => {
    for (const s of sides) await s.nc.close();
    await cluster?.stop();
  });

  it('KV create of a key that never existed (expected subject sequence 0): one winner in every round', async () => {
    for (let r = 0; r < ROUNDS; r++) {
      const winners = await race((s, i) => s.kv.create(`new${r}`, `v${i}`));
      expect(winners, `round ${r}`).to.equal(1);
    }
  });

  it('publish with the stream-wide expected last sequence: one winner in every round', async () => {
    const { jsm } = sides[0]!;
    for (let r = 0; r < ROUNDS; r++) {
      const last = (await jsm.streams.info(`KV_${BUCKET}`)).state.last_seq;
      // Different keys: the check is on the whole stream, not the subject.
      const winners = await race((s, i) =>
        s.js.publish(`$KV.${BUCKET}.seq${r}.${i}`, 'x', { expect: { lastSequence: last } }),
      );
      expect(winners, `round ${r}`).to.equal(1);
    }
  });

  it('KV update(revision) and create over a deleted key: one winner only from 2.9.21 (measured, logged)', async function () {
    const version = sides[0]!.nc.info?.version ?? '0.0.0';
    let updateDoubles = 0;
    let recreateDoubles = 0;
    for (let r = 0; r < ROUNDS; r++) {
      const kv = sides[0]!.kv;
      const rev = await kv.create(`upd${r}`, 'first');
      if ((await race((s, i) => s.kv.update(`upd${r}`, `v${i}`, rev))) > 1) updateDoubles++;
      await kv.create(`del${r}`, 'first');
      await kv.delete(`del${r}`);
      if ((await race((s, i) => s.kv.create(`del${r}`, `v${i}`))) > 1) recreateDoubles++;
    }
    this.test!.title += ` [${version}: update ${updateDoubles}/${ROUNDS}, re-create ${recreateDoubles}/${ROUNDS} rounds with more than one winner]`;
    if (serializesSubjectSequence(version)) {
      expect(updateDoubles).to.equal(0);
      expect(recreateDoubles).to.equal(0);
    }
  });

  it('createKey: one winner in every round, for new keys and over delete markers; the losers see its value', async () => {
    for (let r = 0; r < ROUNDS; r++) {
      for (const key of [`ck${r}`, `ck${r}`]) {
        const outcomes = await Promise.all(
          Array.from({ length: 2 * PER_CONNECTION }, (_, i) => {
            const s = sides[i % 2]!;
            return createKey(s.js, s.jsm, BUCKET, key, `v${i}`);
          }),
        );
        const winners = outcomes.filter((o) => o.created);
        expect(winners, `round ${r}`).to.have.length(1);
        // Read from the stream leader (a direct KV get may come from a follower not yet there).
        const stands = (await sides[0]!.jsm.streams.getMessage(`KV_${BUCKET}`, {
          last_by_subj: `$KV.${BUCKET}.${key}`,
        }))!.string();
        for (const o of outcomes) if (!o.created) expect(o.value).to.equal(stands);
        // The second pass re-creates over this delete marker.
        await sides[1]!.kv.delete(key);
      }
    }
  });
});
