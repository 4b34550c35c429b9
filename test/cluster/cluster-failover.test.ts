// A JetStream failover under confirmed load through Switchyard (spec/cluster.md §Failover):
// kill -9 of the nats-server leading the queue's stream; every confirmed message is consumed
// afterwards and publishing resumes by itself. Real nats-server processes, real kill -9.
import { expect } from 'chai';
import { connect as natsConnect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { Broker } from '@switchyard/broker';
import { queueAddress } from '@switchyard/broker/internal';
import { closeAll, open, text, waitFor, type Connection } from '../helpers/client.js';
import { testLogger } from '../helpers/broker.js';
import { makeTmpDir } from '../helpers/tmp.js';
import { skipWithoutNatsServer, startJetStreamCluster, type JetStreamCluster } from '../helpers/jetstream-cluster.js';

describe('Switchyard cluster failover (kill -9 of the stream leader)', function () {
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

  it('every confirmed message is consumed after kill -9 of the stream leader; publishing resumes', async () => {
    const [a, b] = nodes as [Broker, Broker];
    const { ch: pub } = await open(a.url, conns);
    await pub.assertQueue('ha', { durable: true });
    const addr = queueAddress('/', 'ha', 8);

    const consumed = new Map<number, number>();
    const { ch: sub } = await open(b.url, conns);
    // B learns the queue by the KV watch.
    for (let i = 0; ; i++) {
      const { conn, ch } = await open(b.url, conns);
      const ok = await ch.checkQueue('ha').then(
        () => true,
        () => false,
      );
      await conn.close().catch(() => undefined);
      if (ok) break;
      if (i > 150) throw new Error('node b never saw the queue');
      await new Promise((r) => setTimeout(r, 100));
    }
    await sub.prefetch(100);
    await sub.consume('ha', (m) => {
      if (m === null) return;
      const n = Number(text(m));
      consumed.set(n, (consumed.get(n) ?? 0) + 1);
      sub.ack(m);
    });

    const confirmed = new Set<number>();
    let next = 0;
    let lastConfirmAt = Date.now();
    let longestStallMs = 0;
    let stop = false;
    const publisher = async (): Promise<void> => {
      while (!stop) {
        const n = next++;
        try {
          await pub.publish('', 'ha', Buffer.from(String(n)), { persistent: true });
          confirmed.add(n);
          const now = Date.now();
          longestStallMs = Math.max(longestStallMs, now - lastConfirmAt);
          lastConfirmAt = now;
        } catch {
          // nacked: not confirmed, may or may not be consumed
        }
      }
    };
    const publishers = Array.from({ length: 20 }, publisher);
    await waitFor(() => confirmed.size >= 500, '500 confirms before the kill', 30_000);

    const nc = await natsConnect({ servers: cluster!.urls });
    const jsm = await jetstreamManager(nc);
    const leader = (await jsm.streams.info(addr.stream)).cluster?.leader;
    await nc.close();
    const victim = cluster!.serverByName(leader!)!;
    await cluster!.kill(victim.index, 'SIGKILL');
    const killedAt = Date.now();
    const atKill = confirmed.size;
    // Publishing resumes by itself: confirms after the kill.
    await waitFor(() => confirmed.size >= atKill + 500, '500 more confirms after the kill', 60_000);
    stop = true;
    await Promise.all(publishers);
    const resumedMs = Date.now() - killedAt;

    // Every confirmed message is consumed (messages in transit during the failover come back after ack-wait).
    await waitFor(() => [...confirmed].every((n) => consumed.has(n)), 'every confirmed message consumed', 90_000);
    const duplicates = [...consumed.values()].filter((c) => c > 1).length;
    console.log(
      `      failover: ${confirmed.size} confirmed, ${consumed.size} consumed, ${duplicates} delivered twice, longest stall ${longestStallMs} ms, ${resumedMs} ms to 500 confirms after the kill`,
    );
    expect([...confirmed].filter((n) => !consumed.has(n))).to.deep.equal([]);
    await cluster!.restart(victim.index);
  });
});
