// JetStream failovers under confirmed load through Switchyard (spec/cluster.md §Failover):
// kill -9 of the nats-server leading the queue's stream, of the one leading its consumer, and
// of all three at once (then restarted). Each time every confirmed message is consumed
// afterwards and publishing resumes by itself. Real nats-server processes, real kill -9.
import { expect } from 'chai';
import { connect as natsConnect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { Broker } from '@switchyard/broker';
import { queueAddress } from '@switchyard/broker/internal';
import { closeAll, open, text, waitFor, type Connection } from '../helpers/client.js';
import { testLogger } from '../helpers/broker.js';
import { confirmingPublishers, waitForQueueOn } from '../helpers/cluster-load.js';
import { makeTmpDir } from '../helpers/tmp.js';
import { skipWithoutNatsServer, startJetStreamCluster, type JetStreamCluster } from '../helpers/jetstream-cluster.js';

describe('Switchyard cluster failover (kill -9 of JetStream servers under confirmed load)', function () {
  this.timeout(180_000);
  let cluster: JetStreamCluster | undefined;
  const nodes: Broker[] = [];
  const conns: Connection[] = [];
  const dirs: { remove: () => Promise<void> }[] = [];

  before(async function () {
    skipWithoutNatsServer(this, 'the Switchyard cluster failover test');
    cluster = await startJetStreamCluster();
    await cluster.waitForMetaLeader();
    for (const name of ['a', 'b']) {
      const tmp = await makeTmpDir('cluster-node');
      dirs.push(tmp);
      nodes.push(
        await Broker.start({
          port: 0,
          managementPort: false,
          amqpPort: false,
          dataDir: tmp.dir,
          logger: testLogger(),
          // A short ack-wait: messages lost in transit during the failover come back sooner.
          cluster: { servers: cluster.urls, nodeName: name, ackWaitMs: 5_000 },
        }),
      );
    }
  });

  after(async () => {
    await closeAll(conns);
    for (const b of nodes.splice(0)) await b.close().catch(() => undefined);
    await cluster?.stop();
    for (const d of dirs) await d.remove();
  });

  /**
   * The nats-server leading `queue`'s stream (or its consumer). A Raft group just created (or
   * one that just lost its leader) reports no leader until its election ends: ask again.
   */
  async function leaderOf(queue: string, what: 'stream' | 'consumer'): Promise<number> {
    const addr = queueAddress('/', queue, 8);
    const nc = await natsConnect({ servers: cluster!.urls });
    try {
      const jsm = await jetstreamManager(nc);
      const deadline = Date.now() + 30_000;
      for (;;) {
        const info =
          what === 'stream'
            ? await jsm.streams.info(addr.stream)
            : await jsm.consumers.info(addr.stream, addr.consumer);
        const leader = info.cluster?.leader ? cluster!.serverByName(info.cluster.leader) : undefined;
        if (leader) return leader.index;
        if (Date.now() > deadline) throw new Error(`no ${what} leader elected for '${queue}' within 30 s`);
        await new Promise((r) => setTimeout(r, 200));
      }
    } finally {
      await nc.close();
    }
  }

  /**
   * Publishes with confirms via node A (20 in flight) to `queue`, consumed and acked via
   * node B; runs `kill` after 500 confirms; waits for 500 more; then for every confirmed
   * message to be consumed. Returns the longest gap between two confirms.
   */
  async function underLoad(queue: string, kill: () => Promise<void>): Promise<void> {
    const [a, b] = nodes as [Broker, Broker];
    const { ch: pub } = await open(a.url, conns);
    await pub.assertQueue(queue, { durable: true });
    // Right after a failover the declare's write may wait for JetStream (retried for 20 s,
    // spec/cluster.md §Definitions): wait up to 60 s.
    await waitForQueueOn(b.url, queue, conns, 60_000);
    const consumed = new Map<number, number>();
    const { ch: sub } = await open(b.url, conns);
    await sub.prefetch(100);
    await sub.consume(queue, (m) => {
      if (m === null) return;
      const n = Number(text(m));
      consumed.set(n, (consumed.get(n) ?? 0) + 1);
      sub.ack(m);
    });
    const load = confirmingPublishers(pub, queue, 20);
    const confirmed = load.confirmed;
    await waitFor(() => confirmed.size >= 500, '500 confirms before the kill', 30_000);
    await kill();
    const atKill = confirmed.size;
    // Publishing resumes by itself.
    await waitFor(() => confirmed.size >= atKill + 500, '500 more confirms after the kill', 90_000);
    await load.stop();
    // Messages in transit during the failover come back after ack-wait.
    await waitFor(() => [...confirmed].every((n) => consumed.has(n)), 'every confirmed message consumed', 90_000);
    const duplicates = [...consumed.values()].filter((c) => c > 1).length;
    console.log(
      `      ${queue}: ${confirmed.size} confirmed, ${consumed.size} consumed, ${duplicates} delivered twice, longest confirm stall ${load.longestStallMs()} ms`,
    );
    expect([...confirmed].filter((n) => !consumed.has(n))).to.deep.equal([]);
  }

  it('kill -9 of the stream leader: every confirmed message consumed, publishing resumes', async () => {
    let victim = -1;
    await underLoad('ha-stream', async () => {
      victim = await leaderOf('ha-stream', 'stream');
      await cluster!.kill(victim, 'SIGKILL');
    });
    await cluster!.restart(victim);
    await cluster!.waitForMetaLeader();
  });

  it('kill -9 of the consumer leader: every confirmed message consumed, publishing resumes', async () => {
    let victim = -1;
    await underLoad('ha-consumer', async () => {
      victim = await leaderOf('ha-consumer', 'consumer');
      await cluster!.kill(victim, 'SIGKILL');
    });
    await cluster!.restart(victim);
    await cluster!.waitForMetaLeader();
  });

  it('kill -9 of all three servers at once, then restart: every confirmed message consumed', async () => {
    await underLoad('ha-all', async () => {
      await Promise.all([0, 1, 2].map((i) => cluster!.kill(i, 'SIGKILL')));
      await Promise.all([0, 1, 2].map((i) => cluster!.restart(i)));
    });
  });
});
