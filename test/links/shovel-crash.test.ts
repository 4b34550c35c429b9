import { expect } from 'chai';
import { connect } from '@switchyard/client';
import { startBroker, type TestBroker } from '../helpers/broker.js';
import { killHard, spawnBroker, useBrokerProcess } from '../helpers/broker-process.js';
import { closeAll, sleep, type Connection } from '../helpers/client.js';
import { TcpProxy } from '../helpers/tcp-proxy.js';
import {
  DEDUP_ARGS,
  drainBodies,
  publishRange,
  putShovel,
  range,
  shovelRow,
  waitForState,
  watchStates,
} from './helpers.js';

const port = (url: string): number => Number(new URL(url).port);

describe('Shovel across a destination crash', function () {
  this.timeout(90_000);
  const fx = useBrokerProcess('shovel-dest');
  let a: TestBroker | undefined;
  let proxy: TcpProxy | undefined;
  const conns: Connection[] = [];
  afterEach(async () => {
    await closeAll(conns);
    await proxy?.close();
    await a?.stop();
  });

  it('delivers every message exactly once, in order, when the destination is kill -9ed and restarted mid-flow', async () => {
    fx.proc = await spawnBroker(fx.dir);
    const cb = await connect(fx.proc.url);
    await (await cb.createChannel()).assertQueue('dst', { durable: true, arguments: DEDUP_ARGS });
    await cb.close();
    proxy = await TcpProxy.start(port(fx.proc.url));
    a = await startBroker({ noSync: true });
    const ca = await connect(a.url);
    conns.push(ca);
    const pub = await ca.createChannel();
    await pub.assertQueue('src', { durable: true });
    await putShovel(a, 'crash', {
      'src-uri': a.url,
      'src-queue': 'src',
      'dest-uri': `ws://127.0.0.1:${proxy.port}`,
      'dest-queue': 'dst',
      'src-prefetch-count': 100,
      'reconnect-delay': 0.2,
    });
    await waitForState(a, 'crash', 'running');
    const watch = watchStates(() => a!, 'crash');
    const N = 3000;
    const publishing = publishRange(pub, 'src', 0, N);
    while ((await shovelRow(a, 'crash'))!.messagesMoved < 300) await sleep(5);
    // Until the new process listens, nothing answers for the destination: without this the
    // proxy would dial the dead broker's port, which another process may have taken meanwhile
    // (its 404 for 'dst' is a 'failed' link, rightly).
    proxy.refuseUntilRetarget();
    await killHard(fx.proc); // confirmed messages are durable on the destination; the rest is not acked upstream
    fx.proc = await spawnBroker(fx.dir);
    proxy.retarget(port(fx.proc.url));
    await publishing;
    for (;;) {
      const row = (await shovelRow(a, 'crash'))!;
      if (row.state === 'running' && (await pub.checkQueue('src')).messageCount === 0 && row.inFlight === 0) break;
      await sleep(50);
    }
    watch.stop();
    const cd = await connect(fx.proc.url);
    conns.push(cd);
    const ch = await cd.createChannel();
    const got = await drainBodies(ch, 'dst');
    expect(got.length).to.equal(N);
    expect(got).to.deep.equal(range(0, N));
    expect(watch.states).to.include.ordered.members(['running', 'reconnecting', 'running']);
  });
});
