import { expect } from 'chai';
import { connect } from '@switchyard/client';
import { killHard, spawnBroker, type BrokerProcess } from '../helpers/broker-process.js';
import { makeTmpDir } from '../helpers/tmp.js';
import { RestartableBroker, nextEvent, sleep, waitFor, wiredConnect, type Connection } from './support.js';

const HB = 200;

/**
 * Heartbeats (spec/protocol.md §3. Connection): each side sends one after half an interval of silence and treats a
 * peer from which nothing arrived for two intervals as dead. Both directions are tested
 * with real silence: a broker process frozen with SIGSTOP, and a client whose socket
 * stops sending.
 */
describe('SDK heartbeats', function () {
  this.timeout(30_000);
  const conns: Connection[] = [];
  afterEach(async () => {
    await Promise.all(conns.splice(0).map((c) => c.close().catch(() => undefined)));
  });

  describe('against a frozen broker (SIGSTOP)', () => {
    let tmp: { dir: string; remove: () => Promise<void> };
    let proc: BrokerProcess | undefined;
    let stopped = false;

    beforeEach(async () => {
      tmp = await makeTmpDir('sdk-hb');
      proc = await spawnBroker(tmp.dir);
    });
    afterEach(async () => {
      if (proc && stopped) proc.child.kill('SIGCONT');
      stopped = false;
      if (proc) await killHard(proc);
      proc = undefined;
      await tmp.remove();
    });

    function freeze(): number {
      proc!.child.kill('SIGSTOP');
      stopped = true;
      return Date.now();
    }

    it('detects the dead broker within two heartbeat intervals (negotiated down to the client proposal)', async () => {
      const conn = await connect(proc!.url, { heartbeatMs: HB });
      conns.push(conn);
      expect(conn.heartbeatMs).to.equal(HB);
      // Idle for a few intervals first: heartbeats alone keep the connection up.
      await sleep(3 * HB);
      expect(conn.state).to.equal('open');
      const errored = nextEvent<Error>(conn, 'error', 5_000);
      const frozenAt = freeze();
      const err = await errored;
      const detectedAfter = Date.now() - frozenAt;
      if (process.env["SDK_TEST_VERBOSE"]) console.log(`      client detected a frozen broker after ${detectedAfter} ms`);
      expect(err.message).to.match(/heartbeat timeout/);
      expect(conn.state).to.equal('closed');
      // Nothing arrives after the freeze, so the silence began at most at frozenAt.
      expect(detectedAfter).to.be.at.most(2 * HB + 60, `detected after ${detectedAfter} ms`);
      expect(detectedAfter).to.be.at.least(2 * HB - HB / 2 - 10);
    });

    it('with reconnect, recovers once the broker runs again', async () => {
      const conn = await connect(proc!.url, { heartbeatMs: HB, reconnect: { initialDelayMs: 50, maxDelayMs: 200 } });
      conns.push(conn);
      const ch = await conn.createChannel();
      await ch.assertQueue('hb', { durable: true });
      const reconnecting = nextEvent<{ error: Error }>(conn, 'reconnecting', 5_000);
      freeze();
      const { error } = await reconnecting;
      expect(error.message).to.match(/heartbeat timeout/);
      const pending = ch.sendToQueue('hb', Buffer.from('after the freeze'), { persistent: true });
      await sleep(2 * HB);
      proc!.child.kill('SIGCONT');
      stopped = false;
      await nextEvent(conn, 'reconnect', 10_000);
      await pending;
      expect((await ch.checkQueue('hb')).messageCount).to.equal(1);
    });
  });

  describe('against a silent client', () => {
    let rb: RestartableBroker;
    beforeEach(async () => {
      rb = await RestartableBroker.start({ heartbeatMs: HB });
    });
    afterEach(async () => {
      await rb.dispose();
    });

    it('the broker drops a client that stopped sending within two intervals (plus its check granularity)', async () => {
      const { conn, wire } = await wiredConnect(rb.url);
      conns.push(conn);
      expect(conn.heartbeatMs).to.equal(HB);
      await sleep(2 * HB);
      expect(conn.state).to.equal('open', 'client heartbeats keep an idle connection open');
      const closed = nextEvent<Error | undefined>(conn, 'close', 5_000);
      conn.on('error', () => undefined);
      wire().muted = true;
      const lastSent = wire().lastSentAt;
      await closed;
      const silentFor = Date.now() - lastSent;
      if (process.env["SDK_TEST_VERBOSE"]) console.log(`      broker dropped the silent client after ${silentFor} ms`);
      expect(silentFor).to.be.at.least(2 * HB - 10);
      // The broker checks for silence on a quarter-interval tick: it acts within 2.25 intervals.
      expect(silentFor).to.be.at.most(2.25 * HB + 60, `dropped after ${silentFor} ms of silence`);
    });

    it('a client that keeps sending heartbeats stays connected through long idle periods', async () => {
      const { conn } = await wiredConnect(rb.url);
      conns.push(conn);
      let closed = false;
      conn.on('close', () => (closed = true));
      await sleep(6 * HB);
      await waitFor(() => conn.state === 'open', 'open');
      expect(closed).to.equal(false);
    });
  });
});
