// kill -9 of a Switchyard cluster node with a publisher and a consumer on it: the SDK, given
// every node's URL, moves to another node, and every confirmed message is consumed there
// (spec/cluster.md §Failover). Real broker processes and nats-servers, real kill -9.
import { expect } from 'chai';
import { createServer, type AddressInfo } from 'node:net';
import { connect } from '@switchyard/client';
import { confirmingPublishers } from '../helpers/cluster-load.js';
import { killHard, spawnBroker, type BrokerProcess } from '../helpers/broker-process.js';
import { text, waitFor, type Connection } from '../helpers/client.js';
import { makeTmpDir } from '../helpers/tmp.js';
import { skipWithoutNatsServer, startJetStreamCluster, type JetStreamCluster } from '../helpers/jetstream-cluster.js';

describe('Switchyard cluster: kill -9 of a node, the SDK moves to another', function () {
  this.timeout(180_000);
  let cluster: JetStreamCluster | undefined;
  const procs: BrokerProcess[] = [];
  const dirs: { remove: () => Promise<void> }[] = [];
  let conn: Connection | undefined;

  before(async function () {
    skipWithoutNatsServer(this, 'the Switchyard node failover test');
    cluster = await startJetStreamCluster();
    await cluster.waitForMetaLeader();
    for (const name of ['a', 'b']) {
      const tmp = await makeTmpDir('cluster-node');
      dirs.push(tmp);
      procs.push(
        await spawnBroker(tmp.dir, ['--cluster', cluster.urls.join(','), '--node-name', name, '--no-management']),
      );
    }
  });

  after(async () => {
    await conn?.close().catch(() => undefined);
    for (const p of procs) if (p.child.exitCode === null) await killHard(p);
    await cluster?.stop();
    for (const d of dirs) await d.remove();
  });

  it('publisher and consumer on the killed node carry on through the other; every confirmed message is consumed', async () => {
    const [a, b] = procs as [BrokerProcess, BrokerProcess];
    conn = await connect([a.url, b.url], { reconnect: { initialDelayMs: 100, maxDelayMs: 1000 } });
    const ch = await conn.createChannel();
    await ch.assertQueue('jobs', { durable: true });
    await ch.prefetch(50);
    const consumed = new Map<number, number>();
    await ch.consume('jobs', (m) => {
      if (m === null) return;
      const n = Number(text(m));
      consumed.set(n, (consumed.get(n) ?? 0) + 1);
      ch.ack(m);
    });
    const load = confirmingPublishers(ch, 'jobs', 10);
    const confirmed = load.confirmed;
    await waitFor(() => confirmed.size >= 300, '300 confirms on node a', 30_000);
    expect(conn.url).to.equal(a.url);
    await killHard(a);
    const atKill = confirmed.size;
    await waitFor(() => confirmed.size >= atKill + 300, '300 confirms through node b', 60_000);
    expect(conn.url).to.equal(b.url);
    await load.stop();
    // What node a held unacked comes back from JetStream after ack-wait (30 s).
    await waitFor(() => [...confirmed].every((n) => consumed.has(n)), 'every confirmed message consumed', 90_000);
    const duplicates = [...consumed.values()].filter((c) => c > 1).length;
    console.log(
      `      node kill: ${confirmed.size} confirmed, ${consumed.size} consumed, ${duplicates} delivered twice, longest confirm stall ${load.longestStallMs()} ms`,
    );
    expect([...confirmed].filter((n) => !consumed.has(n))).to.deep.equal([]);
  });

  it('rolling restart of every JetStream server and every node, one at a time, under load: 0 confirmed lost', async () => {
    // Nodes on ports picked now (free at the time) and kept across their restarts, so the
    // client's URL list stays valid.
    const freePort = (): Promise<number> =>
      new Promise((resolve) => {
        const srv = createServer().listen(0, '127.0.0.1', () => {
          const { port } = srv.address() as AddressInfo;
          srv.close(() => resolve(port));
        });
      });
    const specs: { name: string; port: number; dir: string }[] = [];
    for (const name of ['r1', 'r2']) {
      const tmp = await makeTmpDir('cluster-node');
      dirs.push(tmp);
      specs.push({ name, port: await freePort(), dir: tmp.dir });
    }
    const startNode = (sp: { name: string; port: number; dir: string }): Promise<BrokerProcess> =>
      spawnBroker(
        sp.dir,
        [
          '--cluster',
          cluster!.urls.join(','),
          '--node-name',
          sp.name,
          '--no-management',
          '--port',
          String(sp.port),
          // A node restarted while a JetStream server is down waits for the cluster to accept
          // its stream and bucket creates (retried for up to 60 s; spec/cluster.md §How it runs).
        ],
        { startTimeoutMs: 60_000 },
      );
    const running = await Promise.all(specs.map(startNode));
    procs.push(...running);
    const c = await connect(
      running.map((p) => p.url),
      { reconnect: { initialDelayMs: 100, maxDelayMs: 1000, maxAttempts: 1000 } },
    );
    await conn?.close().catch(() => undefined);
    conn = c;
    const ch = await c.createChannel();
    await ch.assertQueue('rolling', { durable: true });
    await ch.prefetch(50);
    const consumed = new Set<number>();
    await ch.consume('rolling', (m) => {
      if (m === null) return;
      consumed.add(Number(text(m)));
      ch.ack(m);
    });
    const load = confirmingPublishers(ch, 'rolling', 10);
    const confirmed = load.confirmed;
    const progress = async (what: string): Promise<void> => {
      const at = confirmed.size;
      await waitFor(() => confirmed.size >= at + 200, `200 confirms after ${what}`, 60_000);
    };
    await progress('the start');
    for (let i = 0; i < cluster!.servers.length; i++) {
      await cluster!.kill(i, 'SIGTERM');
      await cluster!.restart(i);
      await cluster!.waitForMetaLeader();
      await progress(`restarting nats-server ${i}`);
    }
    for (let i = 0; i < running.length; i++) {
      await killHard(running[i]!);
      running[i] = await startNode(specs[i]!);
      procs.push(running[i]!);
      await progress(`restarting node ${specs[i]!.name}`);
    }
    await load.stop();
    await waitFor(() => [...confirmed].every((n) => consumed.has(n)), 'every confirmed message consumed', 90_000);
    expect([...confirmed].filter((n) => !consumed.has(n))).to.deep.equal([]);
    console.log(`      rolling restart: ${confirmed.size} confirmed, 0 lost`);
  });
});
