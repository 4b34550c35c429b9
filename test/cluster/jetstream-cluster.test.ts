// The ground issue 15 builds on: the local JetStream cluster (scripts/cluster/jetstream-cluster.mjs)
// keeps every PubAck'ed message of an R3 WorkQueue stream through a `kill -9` of the stream
// leader (spec/cluster.md §What a confirm guarantees). Real nats-server processes, real kill -9.
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { createInterface } from 'node:readline';
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

    // A new leader took over among the two survivors. Until its election ends (about a
    // second; longer on a loaded machine) stream requests time out: ask again.
    const after = await retrying(async () => {
      const i = await jsm.streams.info(stream);
      if (!i.cluster?.leader) throw new Error('no stream leader yet');
      return i;
    });
    expect(after.cluster?.leader).to.be.a('string').and.not.equal(leaderName);

    // Consume everything: each PubAck'ed msgID must come out.
    const seen = new Map<string, number>();
    const consumer = await retrying(() => js.consumers.get(stream, 'c'));
    const deadline = Date.now() + 20_000;
    while ([...confirmed].some((id) => !seen.has(id)) && Date.now() < deadline) {
      const batch = await retrying(() => consumer.fetch({ max_messages: 500, expires: 1000 }));
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

  it('leaves no nats-server behind when the process that started the cluster is killed with kill -9', async () => {
    const moduleUrl = new URL('../../scripts/cluster/jetstream-cluster.mjs', import.meta.url).href;
    const script = `const { startJetStreamCluster } = await import(${JSON.stringify(moduleUrl)});
      const c = await startJetStreamCluster();
      await new Promise((r) => setTimeout(r, 2000));
      console.log(JSON.stringify({ pids: c.servers.map((s) => s.pid), dir: c.dir }));
      setInterval(() => {}, 1000);`;
    const parent = spawn(process.execPath, ['--input-type=module', '-e', script], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const line = await new Promise<string>((resolve, reject) => {
      createInterface({ input: parent.stdout }).once('line', resolve);
      parent.once('exit', (code) => reject(new Error(`cluster parent exited (${code})`)));
    });
    const { pids, dir } = JSON.parse(line) as { pids: number[]; dir: string };
    expect(pids.filter(running)).to.have.length(3);
    // The servers were quiet for 2 s before the kill: without the parent-death signal they
    // would live on (only a later log write to the dead parent's pipe would end them).
    parent.kill('SIGKILL');
    const deadline = Date.now() + 5000;
    while (pids.some(running) && Date.now() < deadline) await sleep(100);
    const left = pids.filter(running);
    for (const pid of left) process.kill(pid, 'SIGKILL'); // do not leave them to the next test
    rmSync(dir, { recursive: true, force: true }); // its parent had no chance to
    expect(left, 'nats-server processes left running').to.deep.equal([]);
  });
});

/** Alive and not a zombie (a reaper may be slow to collect an exited orphan). */
function running(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.[0] !== 'Z';
  } catch {
    return false;
  }
}

/** `f` again every 250 ms while it throws (a JetStream request during a leader election), up to 30 s. */
async function retrying<T>(f: () => Promise<T>, ms = 30_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      return await f();
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}
