import { expect } from 'chai';
import { connect } from '@switchyard/client';
import { startBroker, type TestBroker } from '../helpers/broker.js';
import { killHard, spawnBroker, useBrokerProcess, type BrokerProcess } from '../helpers/broker-process.js';
import { closeAll, sleep, type Connection } from '../helpers/client.js';
import { GUEST_AUTH, V } from '../helpers/http.js';
import { TcpProxy } from '../helpers/tcp-proxy.js';

// spec/links.md §Federated exchanges, §Deduplication: a broker at either end of a federation
// link is kill -9ed under a confirmed publish stream; every confirmed message arrives once,
// in order.

const port = (url: string): number => Number(new URL(url).port);
const N = 1500;

interface FedRow {
  upstream: string;
  state: string;
  messagesMoved: number;
  inFlight: number;
}

/** A management GET on a broker, in-process or spawned. */
async function get<T>(managementUrl: string, path: string): Promise<T> {
  const res = await fetch(managementUrl + path, { headers: { authorization: GUEST_AUTH } });
  return (await res.json()) as T;
}

async function put(managementUrl: string, path: string, body: unknown): Promise<void> {
  const res = await fetch(managementUrl + path, {
    method: 'PUT',
    headers: { authorization: GUEST_AUTH, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  if (res.status >= 300) throw new Error(`PUT ${path}: ${res.status} ${await res.text()}`);
}

const fedRow = async (mgmt: string): Promise<FedRow | undefined> =>
  (await get<FedRow[]>(mgmt, '/api/federation-links').catch(() => [] as FedRow[])).find((r) => r.upstream === 'up');

async function until(what: string, f: () => Promise<boolean>, ms = 60_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await f().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

/** Polls the link's state on the broker `mgmt()` names; `states` lists each change. */
function watchFed(mgmt: () => string): { states: string[]; stop: () => void } {
  const states: string[] = [];
  let on = true;
  void (async () => {
    while (on) {
      const row = await fedRow(mgmt());
      if (row !== undefined && states[states.length - 1] !== row.state) states.push(row.state);
      await sleep(15);
    }
  })();
  return { states, stop: () => (on = false) };
}

/** Declares topic exchange fx (dedup window) and, downstream, queue qb bound with '#'. */
async function topology(url: string, downstream: boolean): Promise<void> {
  const c = await connect(url);
  const ch = await c.createChannel();
  await ch.assertExchange('fx', 'topic', { durable: true, arguments: { 'x-deduplication-window': 600_000 } });
  if (downstream) {
    await ch.assertQueue('qb', { durable: true });
    await ch.bindQueue('qb', 'fx', '#');
  }
  await c.close();
}

async function federate(downMgmt: string, upUrl: string): Promise<void> {
  await put(downMgmt, `/api/parameters/federation-upstream/${V}/up`, {
    // A window much wider than what is unacked at any moment: once the downstream test holds
    // the link's acks, the upstream still has room to deliver (with 100, acks sent in batches
    // could leave it full, and nothing more would move).
    value: { uri: upUrl.replace('ws://', 'ws://guest:guest@'), 'reconnect-delay': 0.2, 'prefetch-count': 1000 },
  });
  await put(downMgmt, `/api/policies/${V}/fed`, {
    pattern: '^fx$',
    'apply-to': 'exchanges',
    definition: { 'federation-upstream': 'up' },
  });
}

/**
 * Publishes m0..m{N-1} to fx on the broker `url()` names, 20 at a time with confirms,
 * recording the confirmed ones. A lost connection (the broker was killed) is not retried
 * for the messages it took down: they may or may not have been stored. The publisher
 * reconnects (to the restarted broker) and goes on with the next number.
 */
async function publishStream(url: () => string, confirmed: Set<number>, conns: Connection[]): Promise<void> {
  let next = 0;
  while (next < N) {
    let c: Connection;
    try {
      c = await connect(url(), { reconnect: false });
    } catch {
      await sleep(50);
      continue;
    }
    conns.push(c);
    const ch = await c.createChannel();
    while (next < N) {
      const batch = Array.from({ length: Math.min(20, N - next) }, (_, k) => next + k);
      next += batch.length;
      const results = await Promise.allSettled(
        batch.map((i) => ch.publish('fx', 'k', Buffer.from(`m${i}`), { persistent: true })),
      );
      results.forEach((r, k) => r.status === 'fulfilled' && confirmed.add(batch[k]!));
      if (results.some((r) => r.status === 'rejected')) break;
    }
    await c.close().catch(() => undefined);
  }
}

/** Reads every message from qb; checks exactly once, in order, for every confirmed one. */
async function expectExactlyOnceInOrder(url: string, confirmed: Set<number>, conns: Connection[]): Promise<void> {
  const c = await connect(url);
  conns.push(c);
  const ch = await c.createChannel();
  const got: number[] = [];
  for (;;) {
    const m = await ch.get('qb', { noAck: true });
    if (m === false) break;
    got.push(Number(Buffer.from(m.content).toString().slice(1)));
  }
  expect(new Set(got).size, 'no duplicates').to.equal(got.length);
  expect(got, 'in order').to.deep.equal([...got].sort((x, y) => x - y));
  const missing = [...confirmed].filter((i) => !got.includes(i));
  expect(missing, 'confirmed upstream, missing downstream').to.deep.equal([]);
  expect(confirmed.size).to.be.greaterThan(N / 2);
}

/** The upstream federation queue is drained and nothing is in flight. */
const drained = async (upMgmt: string, downMgmt: string): Promise<boolean> => {
  const qs = await get<{ name: string; messages: number }[]>(upMgmt, '/api/queues');
  const fq = qs.find((q) => q.name.startsWith('federation: fx'));
  const row = await fedRow(downMgmt);
  return fq !== undefined && fq.messages === 0 && row?.state === 'running' && row.inFlight === 0;
};

describe('Federated exchange across a kill -9', function () {
  this.timeout(180_000);
  const fx = useBrokerProcess('fed-crash');
  let other: TestBroker | undefined;
  let proxy: TcpProxy | undefined;
  const conns: Connection[] = [];
  afterEach(async () => {
    await closeAll(conns);
    await proxy?.close();
    await other?.stop();
    other = undefined;
    proxy = undefined;
  });

  it('upstream kill -9ed and restarted mid-stream: every confirmed message arrives once, in order; running -> reconnecting -> running', async () => {
    let up: BrokerProcess = (fx.proc = await spawnBroker(fx.dir));
    await topology(up.url, false);
    proxy = await TcpProxy.start(port(up.url));
    const down = (other = await startBroker({ noSync: true }));
    const downMgmt = down.broker.managementUrl!;
    await topology(down.url, true);
    await federate(downMgmt, `ws://127.0.0.1:${proxy.port}`);
    await until('link running', async () => (await fedRow(downMgmt))?.state === 'running');
    const watch = watchFed(() => downMgmt);
    const confirmed = new Set<number>();
    const publishing = publishStream(() => up.url, confirmed, conns);
    await until('300 moved', async () => ((await fedRow(downMgmt))?.messagesMoved ?? 0) >= 300);
    proxy.refuseUntilRetarget(); // the dead broker's port may be taken by another process meanwhile
    await killHard(up);
    await until('link reconnecting', async () => (await fedRow(downMgmt))?.state === 'reconnecting');
    up = fx.proc = await spawnBroker(fx.dir);
    proxy.retarget(port(up.url));
    await publishing;
    await until('drained', () => drained(up.managementUrl!, downMgmt));
    watch.stop();
    await expectExactlyOnceInOrder(down.url, confirmed, conns);
    expect(watch.states).to.include.ordered.members(['running', 'reconnecting', 'running']);
  });

  it('downstream kill -9ed and restarted mid-stream: every confirmed message arrives once, in order; the link runs again', async () => {
    const up = (other = await startBroker({ noSync: true }));
    const upMgmt = up.broker.managementUrl!;
    await topology(up.url, false);
    let down: BrokerProcess = (fx.proc = await spawnBroker(fx.dir));
    await topology(down.url, true);
    proxy = await TcpProxy.start(port(up.url));
    await federate(down.managementUrl!, `ws://127.0.0.1:${proxy.port}`);
    await until('link running', async () => (await fedRow(down.managementUrl!))?.state === 'running');
    const confirmed = new Set<number>();
    const publishing = publishStream(() => up.url, confirmed, conns);
    await until('300 moved', async () => ((await fedRow(down.managementUrl!))?.messagesMoved ?? 0) >= 300);
    // From here the link's acks never reach the upstream: what it stores downstream now is
    // redelivered after the crash, and only the dedup window keeps it from arriving twice.
    proxy.hold();
    const held = (await fedRow(down.managementUrl!))!.messagesMoved;
    await until(
      'moved with acks held',
      async () => ((await fedRow(down.managementUrl!))?.messagesMoved ?? 0) >= held + 50,
    );
    await killHard(down);
    proxy.cut(); // the upstream sees the link's connection close and requeues what was unacked
    down = fx.proc = await spawnBroker(fx.dir);
    const watch = watchFed(() => down.managementUrl!);
    await publishing;
    await until('drained', () => drained(upMgmt, down.managementUrl!));
    watch.stop();
    await expectExactlyOnceInOrder(down.url, confirmed, conns);
    expect(confirmed.size, 'the upstream stayed up: every publish confirmed').to.equal(N);
    expect(watch.states[watch.states.length - 1]).to.equal('running');
  });
});
