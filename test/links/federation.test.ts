import { expect } from 'chai';
import { connect } from '@switchyard/client';
import { startBroker, type TestBroker } from '../helpers/broker.js';
import { closeAll, sleep, type Channel, type Connection } from '../helpers/client.js';
import { api, V } from '../helpers/http.js';
import { runCli } from '../helpers/run-cli.js';
import { TcpProxy } from '../helpers/tcp-proxy.js';
import { collect, range, waitForCount } from './helpers.js';

const port = (url: string): number => Number(new URL(url).port);

interface FedRow {
  upstream: string;
  exchange: string;
  state: string;
  messagesMoved: number;
  dropped: number;
  inFlight: number;
  lastError: string | undefined;
  nextAttemptAt: string | undefined;
}

interface BindingRow {
  source: string;
  destination: string;
  routingKey: string;
}

async function fedRow(tb: TestBroker, upstream: string): Promise<FedRow | undefined> {
  const r = await api<FedRow[]>(tb, 'GET', '/api/federation-links');
  return r.body.find((x) => x.upstream === upstream);
}

async function until<T>(what: string, f: () => Promise<T | undefined | false>, ms = 20_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

const waitFed = (tb: TestBroker, upstream: string, state: string): Promise<FedRow> =>
  until(`federation link ${upstream} ${state}`, async () => {
    const row = await fedRow(tb, upstream);
    return row?.state === state ? row : undefined;
  });

/** The routing keys the federation queue on `upstream` is bound with. */
async function upstreamKeys(upstream: TestBroker): Promise<string[]> {
  const r = await api<BindingRow[]>(upstream, 'GET', '/api/bindings');
  return r.body
    .filter((b) => b.destination.startsWith('federation: fx -> '))
    .map((b) => b.routingKey)
    .sort();
}

describe('Federated exchanges', function () {
  this.timeout(90_000);
  const brokers: TestBroker[] = [];
  const conns: Connection[] = [];
  const proxies: TcpProxy[] = [];

  afterEach(async () => {
    await closeAll(conns);
    await Promise.all(proxies.splice(0).map((p) => p.close()));
    await Promise.all(brokers.splice(0).map((b) => b.stop()));
  });

  const broker = async (): Promise<TestBroker> => {
    const tb = await startBroker({ noSync: true });
    brokers.push(tb);
    return tb;
  };
  const openCh = async (url: string): Promise<Channel> => {
    const c = await connect(url);
    conns.push(c);
    return c.createChannel();
  };
  /** Declares topic exchange fx and a queue bound to it with the keys on a broker. */
  const topology = async (tb: TestBroker, queue: string, keys: string[]): Promise<Channel> => {
    const ch = await openCh(tb.url);
    await ch.assertExchange('fx', 'topic', { durable: true, arguments: { 'x-deduplication-window': 60_000 } });
    await ch.assertQueue(queue, { durable: true });
    for (const k of keys) await ch.bindQueue(queue, 'fx', k);
    return ch;
  };
  /** Makes `down`'s fx federated from `up` (through `viaPort` when given). */
  const federate = async (
    down: TestBroker,
    name: string,
    upPort: number,
    more: Record<string, unknown> = {},
  ): Promise<void> => {
    const u = await api(down, 'PUT', `/api/parameters/federation-upstream/${V}/${name}`, {
      value: { uri: `ws://guest:guest@127.0.0.1:${upPort}`, 'reconnect-delay': 0.2, ...more },
    });
    expect(u.status, JSON.stringify(u.body)).to.equal(201);
    const p = await api(down, 'PUT', `/api/policies/${V}/fed-${name}`, {
      pattern: '^fx$',
      'apply-to': 'exchanges',
      definition: { 'federation-upstream': name },
    });
    expect(p.status, JSON.stringify(p.body)).to.equal(201);
  };

  it("moves what is published upstream into the downstream exchange, for the downstream's bindings only, as they change", async () => {
    const a = await broker(); // upstream
    const b = await broker(); // downstream
    const pubA = await topology(a, 'qa', []);
    const chB = await topology(b, 'qb', ['red.*']);
    await federate(b, 'a', port(a.url));
    await waitFed(b, 'a', 'running');
    expect(await upstreamKeys(a)).to.deep.equal(['red.*']);
    const { got } = await collect(b.url, 'qb', conns);
    await pubA.publish('fx', 'blue.1', Buffer.from('blue-1'));
    await pubA.publish('fx', 'red.1', Buffer.from('red-1'));
    await waitForCount(got, 1);
    await chB.bindQueue('qb', 'fx', 'blue.*');
    await chB.unbindQueue('qb', 'fx', 'red.*');
    await until('bindings propagated', async () => JSON.stringify(await upstreamKeys(a)) === '["blue.*"]');
    await pubA.publish('fx', 'red.2', Buffer.from('red-2'));
    await pubA.publish('fx', 'blue.2', Buffer.from('blue-2'));
    await waitForCount(got, 2);
    await sleep(200);
    // blue.1 went before blue.* was bound, red.2 after red.* was unbound: neither crossed
    expect(got).to.deep.equal(['red-1', 'blue-2']);
    const row = await until('moved counted', async () => {
      const r = await fedRow(b, 'a');
      return r !== undefined && r.messagesMoved === 2 ? r : undefined;
    });
    expect(row).to.include({ exchange: 'fx', state: 'running', inFlight: 0 });
    const metrics = await fetch(`${b.broker.managementUrl!}/metrics`).then((r) => r.text());
    expect(metrics).to.include(
      'switchyard_federation_link_state{vhost="/",exchange="fx",upstream="a",state="running"} 1',
    );
    expect(metrics).to.include(
      'switchyard_federation_link_messages_moved_total{vhost="/",exchange="fx",upstream="a"} 2',
    );
    // the parameters and policy export in definitions
    const defs = await api<{ parameters: unknown[]; policies: unknown[] }>(b, 'GET', '/api/definitions');
    expect(defs.body.parameters).to.have.length(1);
    expect(defs.body.policies).to.deep.equal([
      {
        vhost: '/',
        name: 'fed-a',
        pattern: '^fx$',
        'apply-to': 'exchanges',
        priority: 0,
        definition: { 'federation-upstream': 'a' },
      },
    ]);
    // deleting the policy stops the link
    expect((await api(b, 'DELETE', `/api/policies/${V}/fed-a`)).status).to.equal(204);
    expect(await fedRow(b, 'a')).to.equal(undefined);
    // imported into another broker, with a RabbitMQ policy of another kind skipped, it runs there
    const c = await broker();
    await topology(c, 'qc', ['#']);
    const r = await api<{ parameters: number; policies: number; skipped: string[] }>(c, 'POST', '/api/definitions', {
      parameters: defs.body.parameters,
      policies: [...defs.body.policies, { vhost: '/', name: 'ha', pattern: '.*', definition: { 'ha-mode': 'all' } }],
    });
    expect(r.body).to.include({ parameters: 1, policies: 1 });
    expect(r.body.skipped.join()).to.include('ha-mode');
    await waitFed(c, 'a', 'running');
  });

  it('stops a loop between two exchanges federated from each other: each message arrives once on each side', async () => {
    const a = await broker();
    const b = await broker();
    const chA = await topology(a, 'qa', ['#']);
    const chB = await topology(b, 'qb', ['#']);
    await federate(a, 'b', port(b.url));
    await federate(b, 'a', port(a.url));
    await waitFed(a, 'b', 'running');
    await waitFed(b, 'a', 'running');
    await until(
      'both upstream queues bound',
      async () => (await upstreamKeys(a)).length > 0 && (await upstreamKeys(b)).length > 0,
    );
    const inA = await collect(a.url, 'qa', conns);
    const inB = await collect(b.url, 'qb', conns);
    for (let i = 0; i < 20; i++) {
      await chA.publish('fx', 'k', Buffer.from(`a${i}`));
      await chB.publish('fx', 'k', Buffer.from(`b${i}`));
    }
    await waitForCount(inA.got, 40);
    await waitForCount(inB.got, 40);
    // every copy that could loop back has been dropped once both links have counted it
    await until('loop copies dropped', async () => {
      const ra = await fedRow(a, 'b');
      const rb = await fedRow(b, 'a');
      return ra!.dropped === 20 && rb!.dropped === 20 && ra!.inFlight === 0 && rb!.inFlight === 0;
    });
    await sleep(200);
    expect([...inA.got].sort()).to.deep.equal(
      [...range(0, 20).map((m) => `a${m.slice(1)}`), ...range(0, 20).map((m) => `b${m.slice(1)}`)].sort(),
    );
    expect([...inB.got].sort()).to.deep.equal([...inA.got].sort());
  });

  it('drops a message that has crossed max-hops brokers (a chain of three)', async () => {
    const a = await broker();
    const b = await broker();
    const c = await broker();
    const chA = await topology(a, 'qa', []);
    await topology(b, 'qb', ['#']);
    await topology(c, 'qc', ['#']);
    await federate(b, 'a', port(a.url)); // b <- a
    await federate(c, 'b', port(b.url), { 'max-hops': 1 }); // c <- b, one hop only
    await waitFed(b, 'a', 'running');
    await waitFed(c, 'b', 'running');
    // c's binding reaches b's fx through the federation queue's binding, and from there a
    await until('bindings propagated to a', async () => (await upstreamKeys(a)).includes('#'));
    const inB = await collect(b.url, 'qb', conns);
    const inC = await collect(c.url, 'qc', conns);
    const chB = await openCh(b.url);
    await chA.publish('fx', 'k', Buffer.from('from-a')); // two hops to c: dropped there
    await waitForCount(inB.got, 1);
    await chB.publish('fx', 'k', Buffer.from('from-b')); // one hop to c
    await waitForCount(inC.got, 1);
    await until('c dropped the two-hop copy', async () => (await fedRow(c, 'b'))!.dropped === 1);
    expect(inC.got).to.deep.equal(['from-b']);
    expect(inB.got).to.deep.equal(['from-a', 'from-b']);
  });

  it('reports reconnecting with the last error while the upstream is cut, then runs again and delivers each message once', async () => {
    const a = await broker();
    const b = await broker();
    const pubA = await topology(a, 'qa', []);
    await topology(b, 'qb', ['#']);
    const toA = await TcpProxy.start(port(a.url));
    proxies.push(toA);
    await federate(b, 'a', toA.port);
    await waitFed(b, 'a', 'running');
    const { got } = await collect(b.url, 'qb', conns);
    toA.hold(); // acks to the upstream are lost: the cut makes it redeliver what b already stored
    for (let i = 0; i < 50; i++) await pubA.publish('fx', 'k', Buffer.from(`m${i}`), { persistent: true });
    await waitForCount(got, 50);
    // Down until the test has seen the link say so (a fixed outage could end before a
    // management poll on a loaded machine sees it).
    toA.refuseUntilRetarget();
    toA.cut();
    const down = await until('reconnecting', async () => {
      const r = await fedRow(b, 'a');
      return r?.state === 'reconnecting' ? r : undefined;
    });
    expect(down.lastError).to.be.a('string');
    expect(down.nextAttemptAt).to.be.a('string');
    toA.retarget(port(a.url));
    await waitFed(b, 'a', 'running');
    for (let i = 50; i < 100; i++) await pubA.publish('fx', 'k', Buffer.from(`m${i}`), { persistent: true });
    await waitForCount(got, 100);
    await until('upstream queue drained', async () => {
      const q = await api<{ name: string; messages: number }[]>(a, 'GET', '/api/queues');
      const fq = q.body.find((x) => x.name.startsWith('federation: fx'));
      return fq !== undefined && fq.messages === 0 && (await fedRow(b, 'a'))!.inFlight === 0;
    });
    await sleep(200);
    expect(got).to.deep.equal(range(0, 100));
  });

  it('keeps the link across a restart of the downstream broker: what was published meanwhile arrives', async () => {
    const a = await broker();
    let b = await broker();
    await topology(a, 'qa', []);
    await topology(b, 'qb', ['#']);
    await federate(b, 'a', port(a.url));
    await waitFed(b, 'a', 'running');
    await until('bound', async () => (await upstreamKeys(a)).length === 1);
    const idx = brokers.indexOf(b);
    await closeAll(conns);
    b = await b.restart();
    brokers[idx] = b;
    const pubA2 = await openCh(a.url);
    for (let i = 0; i < 20; i++) await pubA2.publish('fx', 'k', Buffer.from(`m${i}`), { persistent: true });
    await waitFed(b, 'a', 'running');
    const { got } = await collect(b.url, 'qb', conns);
    await waitForCount(got, 20);
    expect(got).to.deep.equal(range(0, 20));
  });

  it('federates from the upstreams of a named upstream set only, and follows the set as it changes', async () => {
    const a = await broker(); // upstream in the set
    const c = await broker(); // upstream not in the set (at first)
    const b = await broker(); // downstream
    const pubA = await topology(a, 'qa', []);
    const pubC = await topology(c, 'qc', []);
    await topology(b, 'qb', ['#']);
    for (const [name, up] of [
      ['a', a],
      ['c', c],
    ] as const) {
      const r = await api(b, 'PUT', `/api/parameters/federation-upstream/${V}/${name}`, {
        value: { uri: `ws://guest:guest@127.0.0.1:${port(up.url)}`, 'reconnect-delay': 0.2 },
      });
      expect(r.status, JSON.stringify(r.body)).to.equal(201);
    }
    const putSet = (value: unknown): ReturnType<typeof api> =>
      api(b, 'PUT', `/api/parameters/federation-upstream-set/${V}/s`, { value });
    // the set's entry overrides the upstream's own max-hops for this set
    expect((await putSet([{ upstream: 'a', 'max-hops': 2 }, { upstream: 'missing' }])).status).to.equal(201);
    const p = await api(b, 'PUT', `/api/policies/${V}/fed-set`, {
      pattern: '^fx$',
      'apply-to': 'exchanges',
      definition: { 'federation-upstream-set': 's' },
    });
    expect(p.status, JSON.stringify(p.body)).to.equal(201);
    await waitFed(b, 'a', 'running');
    expect(await fedRow(b, 'c')).to.equal(undefined);
    expect(await fedRow(b, 'missing')).to.equal(undefined);
    const got = await api<{ value: unknown }>(b, 'GET', `/api/parameters/federation-upstream-set/${V}/s`);
    expect(got.body).to.deep.include({
      component: 'federation-upstream-set',
      value: [{ upstream: 'a', 'max-hops': 2 }, { upstream: 'missing' }],
    });
    const { got: received } = await collect(b.url, 'qb', conns);
    await pubC.publish('fx', 'k', Buffer.from('from-c'));
    await pubA.publish('fx', 'k', Buffer.from('from-a'));
    await waitForCount(received, 1);
    // the set now names c instead of a: a's link stops, c's starts
    expect((await putSet([{ upstream: 'c' }])).status).to.equal(204);
    await waitFed(b, 'c', 'running');
    await until('link from a stopped', async () => (await fedRow(b, 'a')) === undefined);
    // and no longer consumes its queue on a (which stays, as RabbitMQ's does)
    await until('upstream queue on a unconsumed', async () => {
      const qs = await api<{ name: string; consumers: number }[]>(a, 'GET', '/api/queues');
      const fq = qs.body.find((q) => q.name.startsWith('federation: fx -> '));
      return fq !== undefined && fq.consumers === 0;
    });
    await pubA.publish('fx', 'k', Buffer.from('from-a-2'));
    await pubC.publish('fx', 'k', Buffer.from('from-c-2'));
    await waitForCount(received, 2);
    await sleep(200);
    expect(received).to.deep.equal(['from-a', 'from-c-2']);
    const exported = await api<{ parameters: { component: string; name: string }[]; policies: unknown[] }>(
      b,
      'GET',
      '/api/definitions',
    );
    expect(exported.body.parameters.map((x) => `${x.component}/${x.name}`)).to.include('federation-upstream-set/s');
    // imported into another broker, the set applies there too
    const d = await broker();
    await topology(d, 'qd', ['#']);
    const imported = await api<{ parameters: number; policies: number }>(d, 'POST', '/api/definitions', {
      parameters: exported.body.parameters,
      policies: exported.body.policies,
    });
    expect(imported.body).to.include({ parameters: 3, policies: 1 });
    await waitFed(d, 'c', 'running');
    expect(await fedRow(d, 'a')).to.equal(undefined);
    expect((await api(b, 'DELETE', `/api/parameters/federation-upstream-set/${V}/s`)).status).to.equal(204);
    await until('link from c stopped', async () => (await fedRow(b, 'c')) === undefined);
  });

  it('is managed from the CLI (upstream add/list/delete, policy set/delete, links, restart)', async () => {
    const a = await broker();
    const b = await broker();
    await topology(a, 'qa', []);
    await topology(b, 'qb', ['#']);
    const mgmt = ['--url', b.broker.managementUrl!];
    const add = await runCli(['federation', 'upstream', 'add', 'a', ...mgmt, '-p', `uri=${a.url}`, '-p', 'max-hops=2']);
    expect(add.code, add.stderr).to.equal(0);
    const set = await runCli(['federation', 'policy', 'set', 'fed', ...mgmt, '--pattern', '^fx$']);
    expect(set.code, set.stderr).to.equal(0);
    await waitFed(b, 'a', 'running');
    const ups = await runCli(['federation', 'upstream', 'list', ...mgmt]);
    expect(ups.stdout, ups.stdout).to.match(/a\s+ws:\/\/127\.0\.0\.1:\d+\s+\S*\s*2/);
    const links = await runCli(['federation', 'links', ...mgmt]);
    expect(links.stdout).to.match(/fx\s+a\s+running/);
    expect((await runCli(['federation', 'restart', 'a', ...mgmt])).code).to.equal(0);
    await waitFed(b, 'a', 'running');
    expect((await runCli(['federation', 'policy', 'delete', 'fed', ...mgmt])).code).to.equal(0);
    expect(await fedRow(b, 'a')).to.equal(undefined);
    const setAdd = await runCli(['federation', 'upstream-set', 'add', 'eu', 'a', ...mgmt, '-p', 'a.max-hops=3']);
    expect(setAdd.code, setAdd.stderr).to.equal(0);
    const sets = await runCli(['federation', 'upstream-set', 'list', ...mgmt]);
    expect(sets.stdout).to.match(/eu\s+a/);
    expect((await api(b, 'GET', `/api/parameters/federation-upstream-set/${V}/eu`)).body).to.deep.include({
      value: [{ upstream: 'a', 'max-hops': 3 }],
    });
    const policyFlags = ['--pattern', '^fx$', '--upstream-set', 'eu'];
    const bySet = await runCli(['federation', 'policy', 'set', 'fed', ...mgmt, ...policyFlags]);
    expect(bySet.code, bySet.stderr).to.equal(0);
    await waitFed(b, 'a', 'running');
    expect((await runCli(['federation', 'upstream-set', 'delete', 'eu', ...mgmt])).code).to.equal(0);
    await until('link stopped with its set', async () => (await fedRow(b, 'a')) === undefined);
    expect((await runCli(['federation', 'policy', 'delete', 'fed', ...mgmt])).code).to.equal(0);
    expect((await runCli(['federation', 'upstream', 'delete', 'a', ...mgmt])).code).to.equal(0);
    expect((await api(b, 'GET', `/api/parameters/federation-upstream/${V}`)).body).to.deep.equal([]);
  });

  it('refuses bad upstreams and policies with 400 naming the field', async () => {
    const a = await broker();
    const put = (value: unknown): ReturnType<typeof api> =>
      api(a, 'PUT', `/api/parameters/federation-upstream/${V}/x`, { value });
    expect((await put({ uri: 'http://x' })).body).to.include({ field: 'uri' });
    expect((await put({ uri: 'ws://h', 'max-hops': 0 })).body).to.include({ field: 'max-hops' });
    expect((await put({ uri: 'ws://h', queue: 'q' })).body).to.include({ field: 'queue' });
    expect((await put({ uri: 'ws://h', bogus: 1 })).body).to.include({ field: 'bogus' });
    const pol = (body: unknown): ReturnType<typeof api> => api(a, 'PUT', `/api/policies/${V}/p`, body);
    expect((await pol({ pattern: '(', definition: { 'federation-upstream-set': 'all' } })).status).to.equal(400);
    expect((await pol({ pattern: '.*', definition: { 'ha-mode': 'all' } })).body).to.include({
      field: 'definition.ha-mode',
    });
    expect((await pol({ pattern: '.*', definition: { 'federation-upstream-set': 'all' } })).status).to.equal(201);
    const set = (value: unknown): ReturnType<typeof api> =>
      api(a, 'PUT', `/api/parameters/federation-upstream-set/${V}/s`, { value });
    expect((await set({ upstream: 'x' })).body).to.include({ field: 'value' });
    expect((await set([{ upstream: 'x' }, {}])).body).to.include({ field: 'value[1].upstream' });
    expect((await set([{ upstream: 'x', 'max-hops': 0 }])).body).to.include({ field: 'value[0].max-hops' });
    expect((await api(a, 'PUT', `/api/parameters/federation-upstream-sets/${V}/s`, { value: [] })).status).to.equal(
      404,
    );
  });
});
