// The ground issue 15 builds on: the local JetStream cluster (scripts/cluster/jetstream-cluster.mjs)
// keeps every PubAck'ed message of an R3 WorkQueue stream through a `kill -9` of the stream
// leader (spec/cluster.md §What a confirm guarantees). Real nats-server processes, real kill -9.
import { expect } from 'chai';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstream, jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
// @ts-expect-error: plain ESM script without type declarations
import { createWorkQueue as createWorkQueueUntyped } from '../../scripts/bench/jetstream-w1.mjs';
import { sleep } from '../helpers/client.js';
import { skipWithoutNatsServer, startJetStreamCluster, type JetStreamCluster } from '../helpers/jetstream-cluster.js';

const createWorkQueue = createWorkQueueUntyped as (jsm: JetStreamManager, stream: string) => Promise<void>;

describe('JetStream cluster (local, 3 servers)', function () {
  this.timeout(60_000);
  let cluster: JetStreamCluster | undefined;
  let nc: NatsConnection | undefined;

  before(async function () {
    skipWithoutNatsServer(this, 'the JetStream cluster tests');
    cluster = await startJetStreamCluster();
    nc = await connect({ servers: cluster.urls, maxReconnectAttempts: -1, reconnectTimeWait: 200 });
  });

  after(async () => {
    await nc?.close();
    await cluster?.stop();
  });

  it('every PubAcked message of an R3 WorkQueue stream is consumed after kill -9 of the stream leader', async () => {
    const c = cluster!;
    const jsm = await jetstreamManager(nc!);
    const stream = 'KILL_LEADER';
    await createWorkQueue(jsm, stream);
    const info = await jsm.streams.info(stream);
    // Replicated for real: a leader and two followers, on three different servers.
    expect(info.config.num_replicas).to.equal(3);
    expect(info.cluster?.leader).to.be.a('string');
    expect(info.cluster?.replicas ?? []).to.have.length(2);

    const js = jetstream(nc!, { timeout: 2000 });
    const total = 3000;
    const killAfter = 1000;
    const confirmed = new Set<string>();
    let next = 0;
    let killed: Promise<void> | undefined;
    let leaderName = '';
    let retries = 0;
    const lane = async (): Promise<void> => {
      while (next < total) {
        const id = `m-${next++}`;
        // A publish whose PubAck does not come is retried with the same msgID: the stream
        // stores it once however often it arrives (duplicate window).
        for (;;) {
          try {
            await js.publish(`${stream}.q`, new TextEncoder().encode(id), { msgID: id });
            confirmed.add(id);
            break;
          } catch {
            retries++;
            await sleep(50);
          }
        }
        if (confirmed.size >= killAfter && !killed) {
          killed = (async () => {
            leaderName = (await jsm.streams.info(stream)).cluster!.leader!;
            await c.kill(c.serverByName(leaderName)!.index, 'SIGKILL');
          })();
        }
      }
    };
    await Promise.all(Array.from({ length: 200 }, lane));
    await killed;
    expect(killed, 'the leader was killed mid-load').to.not.equal(undefined);
    expect(confirmed.size).to.equal(total);

    // A new leader took over among the two survivors.
    const after = await jsm.streams.info(stream);
    expect(after.cluster?.leader).to.be.a('string').and.not.equal(leaderName);

    // Consume everything: each PubAck'ed msgID must come out.
    const seen = new Map<string, number>();
    const consumer = await js.consumers.get(stream, 'c');
    const deadline = Date.now() + 20_000;
    while ([...confirmed].some((id) => !seen.has(id)) && Date.now() < deadline) {
      const batch = await consumer.fetch({ max_messages: 500, expires: 1000 });
      for await (const m of batch) {
        const id = m.headers?.get('Nats-Msg-Id') ?? '';
        seen.set(id, (seen.get(id) ?? 0) + 1);
        m.ack();
      }
    }
    const missing = [...confirmed].filter((id) => !seen.has(id));
    expect(missing, `PubAck'ed but never consumed (${retries} publish retries)`).to.deep.equal([]);
    expect([...seen.keys()].filter((id) => !confirmed.has(id))).to.deep.equal([]);

    // The killed server comes back on its ports and store dir and rejoins the cluster.
    const idx = c.serverByName(leaderName)!.index;
    await c.restart(idx);
    await c.waitForMetaLeader();
    expect(c.servers[idx]!.pid).to.be.a('number');
  });
});
