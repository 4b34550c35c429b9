// A shovel defined on one node of a cluster runs on exactly one node (the holder of its lease
// in sy_leases), and moves to the other node when the holder is kill -9ed: every message
// arrives once, in order (spec/cluster.md §Links). Real nats-servers, real broker processes.
import { expect } from 'chai';
import { connect } from '@switchyard/client';
import { startBroker, type TestBroker } from '../helpers/broker.js';
import { killHard, spawnBroker, type BrokerProcess } from '../helpers/broker-process.js';
import { closeAll, sleep, type Connection } from '../helpers/client.js';
import { api, V } from '../helpers/http.js';
import { makeTmpDir } from '../helpers/tmp.js';
import { skipWithoutNatsServer, startJetStreamCluster, type JetStreamCluster } from '../helpers/jetstream-cluster.js';
import {
  DEDUP_ARGS,
  drainBodies,
  publishRange,
  putShovel,
  range,
  shovelRow,
  type ShovelRow,
} from '../links/helpers.js';

async function waitFor(predicate: () => Promise<boolean>, what: string, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

/** The links helpers take a TestBroker; they only use its management URL. */
const asTestBroker = (p: BrokerProcess): TestBroker => ({ broker: { managementUrl: p.managementUrl } }) as TestBroker;

describe('Switchyard cluster: a shovel runs on one node and moves when that node dies', function () {
  this.timeout(180_000);
  let cluster: JetStreamCluster | undefined;
  const nodes: BrokerProcess[] = [];
  const dirs: { remove: () => Promise<void> }[] = [];
  let src: TestBroker | undefined;
  let dst: TestBroker | undefined;
  const conns: Connection[] = [];

  before(async function () {
    skipWithoutNatsServer(this, 'the cluster link lease test');
    cluster = await startJetStreamCluster();
    await cluster.waitForMetaLeader();
    for (const name of ['a', 'b']) {
      const tmp = await makeTmpDir('cluster-links');
      dirs.push(tmp);
      nodes.push(
        await spawnBroker(tmp.dir, [
          '--cluster',
          cluster.urls.join(','),
          '--node-name',
          name,
          '--lease-ttl-ms',
          '3000',
        ]),
      );
    }
    src = await startBroker({ noSync: true });
    dst = await startBroker({ noSync: true });
  });

  after(async () => {
    await closeAll(conns);
    for (const p of nodes) if (p.child.exitCode === null) await killHard(p);
    await cluster?.stop();
    await src?.stop();
    await dst?.stop();
    for (const d of dirs) await d.remove();
  });

  /** Each live node's row for the shovel (undefined where it does not run). */
  const rows = async (live: BrokerProcess[]): Promise<(ShovelRow | undefined)[]> =>
    Promise.all(live.map((n) => shovelRow(asTestBroker(n), 'x').catch(() => undefined)));

  it('runs once while both nodes live, moves on kill -9, delivers every message once and in order', async () => {
    const [a, b] = nodes as [BrokerProcess, BrokerProcess];
    const cs = await connect(src!.url);
    const cd = await connect(dst!.url);
    conns.push(cs, cd);
    const pub = await cs.createChannel();
    await pub.assertQueue('src', { durable: true });
    await (await cd.createChannel()).assertQueue('dst', { durable: true, arguments: DEDUP_ARGS });

    await putShovel(asTestBroker(a), 'x', {
      'src-uri': src!.url,
      'src-queue': 'src',
      'dest-uri': dst!.url,
      'dest-queue': 'dst',
      'src-prefetch-count': 100,
      'reconnect-delay': 0.2,
    });
    // The parameter is the cluster's: node b lists it too.
    await waitFor(
      async () =>
        (await api<{ name: string }[]>(asTestBroker(b), 'GET', `/api/parameters/shovel/${V}`)).body.some(
          (p) => p.name === 'x',
        ),
      'the shovel parameter on node b',
      15_000,
    );
    await waitFor(async () => (await rows(nodes)).some((r) => r?.state === 'running'), 'the shovel running', 30_000);
    // Exactly one node runs it, and keeps running it alone (several renewals).
    for (let i = 0; i < 10; i++) {
      expect((await rows(nodes)).filter((r) => r !== undefined).length, 'nodes running the shovel').to.equal(1);
      await sleep(300);
    }
    const holderIndex = (await rows(nodes)).findIndex((r) => r !== undefined);
    const holder = nodes[holderIndex]!;
    const other = nodes[1 - holderIndex]!;

    const N = 2000;
    const publishing = publishRange(pub, 'src', 0, N);
    await waitFor(async () => ((await rows([holder]))[0]?.messagesMoved ?? 0) >= 300, '300 moved', 30_000);
    await killHard(holder);
    await waitFor(async () => (await rows([other]))[0]?.state === 'running', 'the other node running it', 60_000);
    await publishing;
    for (;;) {
      const row = (await rows([other]))[0];
      if (row?.state === 'running' && (await pub.checkQueue('src')).messageCount === 0 && row.inFlight === 0) break;
      await sleep(50);
    }
    const ch = await cd.createChannel();
    const got = await drainBodies(ch, 'dst');
    expect(got.length).to.equal(N);
    expect(got).to.deep.equal(range(0, N));

    // Deleted through the surviving node: the shovel stops there.
    const del = await api(asTestBroker(other), 'DELETE', `/api/parameters/shovel/${V}/x`);
    expect(del.status).to.be.lessThan(300);
    await waitFor(async () => (await rows([other]))[0] === undefined, 'the shovel stopped', 15_000);
  });
});
