// Switchyard nodes on one JetStream cluster (spec/cluster.md): real nats-server processes,
// in-process brokers on ephemeral ports, the real SDK.
import { expect } from 'chai';
import type { Broker } from '@switchyard/broker';
import { closeAll, open, text, waitFor, type Channel, type Connection, type Message } from '../helpers/client.js';
import { waitForQueueOn } from '../helpers/cluster-load.js';
import { ClusterNodes } from '../helpers/cluster-nodes.js';
import { GUEST_AUTH } from '../helpers/http.js';
import { skipWithoutNatsServer, startJetStreamCluster, type JetStreamCluster } from '../helpers/jetstream-cluster.js';

describe('Switchyard cluster on JetStream (2 nodes, 3 nats-servers)', function () {
  this.timeout(90_000);
  let cluster: JetStreamCluster | undefined;
  const clusterNodes = new ClusterNodes(() => cluster!.urls);
  const nodes = clusterNodes.nodes;
  const conns: Connection[] = [];
  const startNode = (name: string): Promise<Broker> => clusterNodes.start(name);

  const waitForQueue = (b: Broker, name: string): Promise<void> => waitForQueueOn(b.url, name, conns);

  before(async function () {
    skipWithoutNatsServer(this, 'the Switchyard cluster tests');
    cluster = await startJetStreamCluster();
    await cluster.waitForMetaLeader();
    await startNode('a');
    await startNode('b');
  });

  after(async () => {
    await closeAll(conns);
    await clusterNodes.stopAll();
    await cluster?.stop();
  });

  it('a queue declared and bound on node A routes on node B; published via A, consumed via B, each once', async () => {
    const [a, b] = nodes as [Broker, Broker];
    const { ch: cha } = await open(a.url, conns);
    await cha.assertExchange('orders', 'direct', { durable: true });
    await cha.assertQueue('orders.eu', { durable: true });
    await cha.bindQueue('orders.eu', 'orders', 'eu');

    // Node B learns the topology from the KV watch: its publishes route to the queue.
    await waitForQueue(b, 'orders.eu');
    const { ch: chb } = await open(b.url, conns);

    const total = 200;
    // Confirmed publishes via A and via B: each confirm waited for JetStream's PubAck.
    for (let i = 0; i < total; i++) {
      const ch = i % 2 === 0 ? cha : chb;
      await ch.publish('orders', 'eu', Buffer.from(String(i)), { persistent: true });
    }

    // One consumer on B only: it gets every message, published on either node, exactly once.
    const { ch: consumer } = await open(b.url, conns);
    await consumer.prefetch(50);
    const got: Message[] = [];
    await consumer.consume('orders.eu', (m) => {
      if (m === null) return;
      got.push(m);
      consumer.ack(m);
    });
    await waitFor(() => got.length >= total, `${total} deliveries on node B`, 30_000);
    await new Promise((r) => setTimeout(r, 500));
    const bodies = got.map(text).map(Number);
    expect(new Set(bodies).size).to.equal(total);
    expect(bodies.length).to.equal(total);
  });

  it('consumers on both nodes share one queue: every message delivered once across them', async () => {
    const [a, b] = nodes as [Broker, Broker];
    const { ch: cha } = await open(a.url, conns);
    await cha.assertQueue('shared', { durable: true });
    await waitForQueue(b, 'shared');
    const { ch: chb } = await open(b.url, conns);
    const seen: number[] = [];
    for (const ch of [cha, chb]) {
      await ch.prefetch(10);
      await ch.consume('shared', (m) => {
        if (m === null) return;
        seen.push(Number(text(m)));
        ch.ack(m);
      });
    }
    const total = 300;
    for (let i = 0; i < total; i++) await cha.publish('', 'shared', Buffer.from(String(i)), { persistent: true });
    await waitFor(() => seen.length >= total, `${total} deliveries`, 30_000);
    await new Promise((r) => setTimeout(r, 500));
    expect(seen.length).to.equal(total);
    expect(new Set(seen).size).to.equal(total);
  });

  it('refuses at declare, with 406 naming the argument, what a cluster queue cannot honour', async () => {
    const { ch } = await open(nodes[0]!.url, conns);
    const err = await ch.assertQueue('prio', { durable: true, arguments: { 'x-max-priority': 5 } }).then(
      () => undefined,
      (e: Error & { code?: number }) => e,
    );
    expect(err?.code).to.equal(406);
    expect(err?.message).to.include("'x-max-priority'");
  });

  it('a declare race with different arguments on two nodes: one winner, 406 to the other, both nodes agree', async () => {
    const [a, b] = nodes as [Broker, Broker];
    const rounds = 8;
    const outcome = async (url: string, queue: string, ttl: number): Promise<number | 'ok'> => {
      const { conn, ch } = await open(url, conns);
      const result = await ch.assertQueue(queue, { durable: true, arguments: { 'x-message-ttl': ttl } }).then(
        () => 'ok' as const,
        (e: Error & { code?: number }) => {
          expect(e.message).to.include("inequivalent arg 'x-message-ttl'");
          return e.code ?? -1;
        },
      );
      await conn.close().catch(() => undefined);
      return result;
    };
    // Channels first, then both declares leave in the same turn, so the rounds are decided
    // by KV's compare-and-set rather than by one node having seen the other's definition.
    const declare = (ch: Channel, queue: string, ttl: number): Promise<number | 'ok'> =>
      ch.assertQueue(queue, { durable: true, arguments: { 'x-message-ttl': ttl } }).then(
        () => 'ok' as const,
        (e: Error & { code?: number }) => {
          expect(e.message).to.include("inequivalent arg 'x-message-ttl'");
          return e.code ?? -1;
        },
      );
    const pairs = await Promise.all(
      Array.from({ length: rounds }, async () => [(await open(a.url, conns)).ch, (await open(b.url, conns)).ch]),
    );
    const results = await Promise.all(
      pairs.map(([cha, chb], i) => Promise.all([declare(cha!, `race-${i}`, 1_000), declare(chb!, `race-${i}`, 2_000)])),
    );
    for (const [i, pair] of results.entries()) {
      expect(
        pair.filter((r) => r === 'ok'),
        `round ${i}: ${pair.join(', ')}`,
      ).to.have.length(1);
      expect(
        pair.filter((r) => r === 406),
        `round ${i}: ${pair.join(', ')}`,
      ).to.have.length(1);
      // Both nodes hold the winner's definition: its declare is accepted on each, the
      // loser's refused on each.
      const winnerTtl = pair[0] === 'ok' ? 1_000 : 2_000;
      const loserTtl = winnerTtl === 1_000 ? 2_000 : 1_000;
      for (const node of [a, b]) {
        const deadline = Date.now() + 15_000;
        while ((await outcome(node.url, `race-${i}`, loserTtl)) !== 406) {
          if (Date.now() > deadline) throw new Error(`node ${node.url} still accepts the loser's race-${i}`);
          await new Promise((r) => setTimeout(r, 100));
        }
        expect(await outcome(node.url, `race-${i}`, winnerTtl)).to.equal('ok');
      }
    }
  });

  it('dead-letters a rejected message on another node: the copy is stored before the original goes', async () => {
    const [a, b] = nodes as [Broker, Broker];
    const { ch: cha } = await open(a.url, conns);
    await cha.assertExchange('dlx', 'fanout', { durable: true });
    await cha.assertQueue('dead', { durable: true });
    await cha.bindQueue('dead', 'dlx', '');
    await cha.assertQueue('work', { durable: true, arguments: { 'x-dead-letter-exchange': 'dlx' } });
    await waitForQueue(b, 'work');
    await cha.publish('', 'work', Buffer.from('bad'), { persistent: true });
    const { ch: chb } = await open(b.url, conns);
    await chb.consume('work', (m) => m !== null && chb.nack(m, false, false));
    const dead: Message[] = [];
    await cha.consume('dead', (m) => {
      if (m === null) return;
      dead.push(m);
      cha.ack(m);
    });
    await waitFor(() => dead.length === 1, 'the dead-lettered copy on node A', 20_000);
    expect(text(dead[0]!)).to.equal('bad');
    expect(JSON.stringify(dead[0]!.properties.headers?.['x-death'])).to.include('rejected');
  });

  it('management shows the node, its JetStream server and each shard stream with leader and replicas', async () => {
    const res = await fetch(`${nodes[0]!.managementUrl!}/api/cluster`, { headers: { authorization: GUEST_AUTH } });
    expect(res.status).to.equal(200);
    const body = (await res.json()) as {
      node: string;
      serverVersion: string;
      connectedTo: string;
      streams: { name: string; leader: string | null; replicas: { name: string; current: boolean }[] }[];
    };
    expect(body.node).to.equal('a');
    expect(body.serverVersion).to.match(/^\d+\.\d+\.\d+/);
    expect(body.connectedTo).to.match(/^127\.0\.0\.1:\d+$/);
    expect(body.streams).to.have.length(8);
    for (const st of body.streams) {
      expect(st.leader, st.name).to.be.a('string');
      expect(st.replicas, st.name).to.have.length(2);
    }
  });
});
