import { expect } from 'chai';
import { connect } from '@switchyard/client';
import { startBroker, type TestBroker } from '../helpers/broker.js';
import { closeAll, sleep, type Channel, type Connection } from '../helpers/client.js';
import { api, V } from '../helpers/http.js';
import { runCli } from '../helpers/run-cli.js';
import { TcpProxy } from '../helpers/tcp-proxy.js';
import {
  collect,
  DEDUP_ARGS,
  publishRange,
  putShovel,
  range,
  shovelRow,
  waitForCount,
  waitForState,
  watchStates,
} from './helpers.js';

const port = (url: string): number => Number(new URL(url).port);

describe('Shovel', function () {
  this.timeout(60_000);
  let a: TestBroker; // source
  let b: TestBroker; // destination
  const conns: Connection[] = [];
  const proxies: TcpProxy[] = [];

  beforeEach(async () => {
    a = await startBroker({ noSync: true });
    b = await startBroker({ noSync: true });
    const ca = await connect(a.url);
    const cb = await connect(b.url);
    conns.push(ca, cb);
    await (await ca.createChannel()).assertQueue('src', { durable: true });
    await (await cb.createChannel()).assertQueue('dst', { durable: true, arguments: DEDUP_ARGS });
  });
  afterEach(async () => {
    await closeAll(conns);
    await Promise.all(proxies.splice(0).map((p) => p.close()));
    await a.stop();
    await b.stop();
  });

  const openCh = async (url: string): Promise<Channel> => {
    const c = await connect(url);
    conns.push(c);
    return c.createChannel();
  };
  const proxyTo = async (url: string): Promise<TcpProxy> => {
    const p = await TcpProxy.start(port(url));
    proxies.push(p);
    return p;
  };
  const shovel = (srcPort: number, destPort: number, more: Record<string, unknown> = {}): Record<string, unknown> => ({
    'src-uri': `ws://guest:guest@127.0.0.1:${srcPort}`,
    'src-queue': 'src',
    'dest-uri': `ws://guest:guest@127.0.0.1:${destPort}`,
    'dest-queue': 'dst',
    'reconnect-delay': 0.2,
    ...more,
  });

  it('moves every message from a queue on one broker to a queue on another, in order, and reports it', async () => {
    expect(await putShovel(a, 'move', shovel(port(a.url), port(b.url)))).to.equal(201);
    await waitForState(a, 'move', 'running');
    const pub = await openCh(a.url);
    await publishRange(pub, 'src', 0, 300);
    const { got } = await collect(b.url, 'dst', conns);
    await waitForCount(got, 300);
    expect(got).to.deep.equal(range(0, 300));
    // the destination may deliver before its confirm reaches the shovel, which counts on confirm
    const deadline = Date.now() + 10_000;
    while ((await shovelRow(a, 'move'))!.messagesMoved < 300 && Date.now() < deadline) await sleep(10);
    const row = await shovelRow(a, 'move');
    expect(row).to.include({ state: 'running', messagesMoved: 300 });
    const params = await api(a, 'GET', `/api/parameters/shovel/${V}`);
    expect(params.body).to.deep.equal([
      { component: 'shovel', vhost: '/', name: 'move', value: shovel(port(a.url), port(b.url)) },
    ]);
    expect((await api(a, 'DELETE', `/api/parameters/shovel/${V}/move`)).status).to.equal(204);
    expect(await shovelRow(a, 'move')).to.equal(undefined);
  });

  it('delivers exactly once when the link to the source drops after the destination confirmed but before the ack arrived', async () => {
    const toA = await proxyTo(a.url);
    await putShovel(b, 'cut-src', shovel(toA.port, port(b.url)));
    await waitForState(b, 'cut-src', 'running');
    const watch = watchStates(() => b, 'cut-src');
    const { got } = await collect(b.url, 'dst', conns);
    const pub = await openCh(a.url);
    toA.hold(); // the link's acks to the source are lost from here on
    await publishRange(pub, 'src', 0, 100);
    await waitForCount(got, 100);
    toA.cut(500); // the source requeues the 100 unacked messages; the link redelivers them
    await waitForState(b, 'cut-src', 'reconnecting');
    await waitForState(b, 'cut-src', 'running');
    await publishRange(pub, 'src', 100, 100);
    await waitForCount(got, 200);
    // the redelivered copies reach the destination before the new ones, so once the new ones are
    // in, any duplicate would be too; wait for the source to be empty to be sure
    for (;;) {
      const q = await pub.checkQueue('src');
      if (q.messageCount === 0 && (await shovelRow(b, 'cut-src'))!.inFlight === 0) break;
      await sleep(20);
    }
    await sleep(200);
    watch.stop();
    expect(got).to.deep.equal(range(0, 200));
    expect(watch.states).to.include.ordered.members(['running', 'reconnecting', 'running']);
    const row = await shovelRow(b, 'cut-src');
    expect(row!.lastError).to.equal(undefined);
  });

  it('delivers exactly once and in order when the link to the destination is cut mid-flow', async () => {
    const toB = await proxyTo(b.url);
    await putShovel(a, 'cut-dst', shovel(port(a.url), toB.port, { 'src-prefetch-count': 50 }));
    await waitForState(a, 'cut-dst', 'running');
    const watch = watchStates(() => a, 'cut-dst');
    const { got } = await collect(b.url, 'dst', conns);
    const pub = await openCh(a.url);
    const publishing = publishRange(pub, 'src', 0, 2000);
    await waitForCount(got, 200);
    toB.cut(300);
    await waitForCount(got, 600);
    toB.cut(0);
    await publishing;
    await waitForCount(got, 2000);
    await sleep(300);
    watch.stop();
    expect(got.length).to.equal(2000);
    expect(got).to.deep.equal(range(0, 2000));
    expect(watch.states).to.include.ordered.members(['running', 'reconnecting', 'running']);
  });

  it('reports reconnecting with the last error and the next attempt while the destination is unreachable', async () => {
    const toB = await proxyTo(b.url);
    await putShovel(a, 'down', shovel(port(a.url), toB.port));
    await waitForState(a, 'down', 'running');
    toB.cut(3_000);
    const row = await waitForState(a, 'down', 'reconnecting');
    expect(row.lastError).to.be.a('string').and.not.equal('');
    expect(Date.parse(row.nextAttemptAt!)).to.be.greaterThan(Date.now() - 1_000);
    await waitForState(a, 'down', 'running');
  });

  it('reports failed (and keeps retrying) while the source queue does not exist, then runs once it does', async () => {
    await putShovel(a, 'missing', { ...shovel(port(a.url), port(b.url)), 'src-queue': 'not-yet' });
    const row = await waitForState(a, 'missing', 'failed');
    expect(row.lastError).to.match(/not-yet/);
    const ch = await openCh(a.url);
    await ch.assertQueue('not-yet', { durable: true });
    // an operator who fixed the cause need not wait for the backoff
    expect((await api(a, 'DELETE', `/api/shovels/vhost/${V}/missing/restart`)).status).to.equal(204);
    await waitForState(a, 'missing', 'running');
  });

  it('survives a restart of the broker that runs it (parameters persist) and of the source broker', async () => {
    const toA = await proxyTo(a.url);
    const toB = await proxyTo(b.url); // b restarts on another port: its own shovel follows through this
    await putShovel(b, 'durable', shovel(toA.port, toB.port));
    await waitForState(b, 'durable', 'running');
    let pub = await openCh(a.url);
    await publishRange(pub, 'src', 0, 50);
    b = await b.restart(); // the shovel lives on b: it comes back from the data directory
    toB.retarget(port(b.url));
    const { got } = await collect(b.url, 'dst', conns);
    await waitForCount(got, 50);
    a = await a.restart(); // the source restarts on another port: the proxy follows it
    toA.retarget(port(a.url));
    pub = await openCh(a.url);
    await publishRange(pub, 'src', 50, 50);
    await waitForCount(got, 100);
    await sleep(200);
    expect(got).to.deep.equal(range(0, 100));
    await waitForState(b, 'durable', 'running');
  });

  it('moves messages over amqp:// (the AMQP listener) with amqplib and forward headers', async () => {
    const amqpOf = (tb: TestBroker): string => tb.broker.amqpUrl!.replace('amqp://', 'amqp://guest:guest@');
    await putShovel(a, 'amqp', {
      'src-uri': amqpOf(a),
      'src-queue': 'src',
      'dest-uri': amqpOf(b),
      'dest-queue': 'dst',
      'dest-add-forward-headers': true,
      'dest-add-timestamp-header': true,
    });
    await waitForState(a, 'amqp', 'running');
    const pub = await openCh(a.url);
    await publishRange(pub, 'src', 0, 20);
    const cb = await connect(b.url);
    conns.push(cb);
    const ch = await cb.createChannel();
    const got: string[] = [];
    let headers: Record<string, unknown> = {};
    await ch.consume('dst', (m) => {
      if (m === null) return;
      got.push(Buffer.from(m.content).toString());
      headers = m.properties.headers;
      ch.ack(m);
    });
    await waitForCount(got, 20);
    expect(got).to.deep.equal(range(0, 20));
    expect(headers['x-shovelled']).to.be.an('array').with.length(1);
    expect(headers['x-shovelled-timestamp']).to.be.a('number');
    expect(headers['x-deduplication-header']).to.be.a('string');
  });

  it('refuses bad parameters with 400 naming the field, and keeps serving', async () => {
    const bad: [Record<string, unknown>, string][] = [
      [{ ...shovel(1, 2), 'src-uri': 'http://x' }, 'src-uri'],
      [{ ...shovel(1, 2), 'ack-mode': 'sometimes' }, 'ack-mode'],
      [{ ...shovel(1, 2), 'src-prefetch-count': -1 }, 'src-prefetch-count'],
      [{ ...shovel(1, 2), 'src-exchange': 'x' }, 'src-queue'],
      [{ ...shovel(1, 2), ['x'.repeat(50)]: 1 }, 'x'.repeat(50)],
      [{ ...shovel(1, 2), 'dest-queue': 'q'.repeat(300) }, 'dest-queue'],
    ];
    for (const [value, field] of bad) {
      const r = await api<{ field: string }>(a, 'PUT', `/api/parameters/shovel/${V}/bad`, { value });
      expect(r.status, JSON.stringify(r.body)).to.equal(400);
      expect(r.body.field).to.equal(field);
    }
    expect((await api(a, 'PUT', `/api/parameters/shovel/${V}/bad`, { value: 'nope' })).status).to.equal(400);
    expect((await api(a, 'PUT', `/api/parameters/shovel/nope/x`, { value: shovel(1, 2) })).status).to.equal(404);
    expect((await api(a, 'GET', '/api/shovels')).body).to.deep.equal([]);
  });

  it('exports shovels in definitions and imports them into another broker', async () => {
    await putShovel(a, 'exported', shovel(port(a.url), port(b.url)));
    const defs = await api<{ parameters: unknown[] }>(a, 'GET', '/api/definitions');
    expect(defs.body.parameters).to.have.length(1);
    await api(a, 'DELETE', `/api/parameters/shovel/${V}/exported`);
    const r = await api<{ parameters: number }>(b, 'POST', '/api/definitions', { parameters: defs.body.parameters });
    expect(r.body.parameters).to.equal(1);
    await waitForState(b, 'exported', 'running');
  });

  it('is managed from the CLI (add, list, restart, delete) and shows in /metrics', async () => {
    const mgmt = ['--url', a.broker.managementUrl!];
    const add = await runCli([
      'shovel',
      'add',
      'cli',
      ...mgmt,
      '-p',
      `src-uri=${a.url}`,
      '-p',
      'src-queue=src',
      '-p',
      `dest-uri=${b.url}`,
      '-p',
      'dest-queue=dst',
      '-p',
      'src-prefetch-count=10',
    ]);
    expect(add.code, add.stderr).to.equal(0);
    await waitForState(a, 'cli', 'running');
    const list = await runCli(['shovel', 'list', ...mgmt]);
    expect(list.stdout).to.match(/cli\s+running/);
    const metrics = await (await fetch(`${a.broker.managementUrl}/metrics`)).text();
    expect(metrics).to.include('switchyard_shovel_state{vhost="/",shovel="cli",state="running"} 1');
    expect(metrics).to.include('switchyard_shovel_messages_moved_total{vhost="/",shovel="cli"} 0');
    expect((await runCli(['shovel', 'restart', 'cli', ...mgmt])).code).to.equal(0);
    const bad = await runCli([
      'shovel',
      'add',
      'bad',
      ...mgmt,
      '-p',
      'src-uri=nope',
      '-p',
      'src-queue=q',
      '-p',
      'dest-uri=ws://h:1',
    ]);
    expect(bad.code).to.not.equal(0);
    expect(bad.stderr).to.match(/src-uri/);
    expect((await runCli(['shovel', 'delete', 'cli', ...mgmt])).code).to.equal(0);
    expect((await runCli(['shovel', 'list', '--json', ...mgmt])).stdout.trim()).to.equal('[]');
  });
});
