import { expect } from 'chai';
import { connect } from '@switchyard/client';
import { spawnBroker, useBrokerProcess } from '../helpers/broker-process.js';
import { RestartableBroker } from '../helpers/broker.js';
import { nextEvent, sleep, waitFor, type Connection } from '../helpers/client.js';
import { wiredConnect } from '../helpers/wire.js';

/**
 * Heartbeats (spec/protocol.md §3. Connection): each side sends one after half an interval of
 * silence and treats a peer from which nothing arrived for two intervals as dead. Both
 * directions are tested with real silence: a broker process frozen with SIGSTOP, and a
 * client whose socket stops sending.
 *
 * The bounds below follow from those rules, not from one machine's timings. The interval
 * is long enough that a loaded machine's scheduling delays (timers firing late, the event
 * loop busy) stay inside SLACK, and SLACK is half an interval, so a side that gives up
 * an interval early or late (or never sends a heartbeat) still fails the test.
 */
const HB = 1_000;
/** The broker checks on a quarter-interval tick (transports/ws/connection.ts), so it acts up to a quarter late. */
const BROKER_TICK = HB / 4;
/** Allowance for timers firing late on a busy machine; what the bounds tolerate beyond the rules. */
const SLACK = HB / 2;
/** Timers may fire a millisecond early, and Date.now() has millisecond resolution. */
const CLOCK = 10;

describe('SDK heartbeats', function () {
  this.timeout(30_000);
  const conns: Connection[] = [];
  afterEach(async () => {
    await Promise.all(conns.splice(0).map((c) => c.close().catch(() => undefined)));
  });

  describe('against a frozen broker (SIGSTOP)', () => {
    let stopped = false;
    // registered before the fixture, so it runs before the fixture kills the process
    afterEach(() => {
      if (fx.proc && stopped) fx.proc.child.kill('SIGCONT');
      stopped = false;
    });
    const fx = useBrokerProcess('sdk-hb');
    beforeEach(async () => {
      fx.proc = await spawnBroker(fx.dir);
    });

    function freeze(): number {
      fx.proc!.child.kill('SIGSTOP');
      stopped = true;
      return Date.now();
    }

    it('detects the dead broker within two heartbeat intervals (negotiated down to the client proposal)', async () => {
      const conn = await connect(fx.proc!.url, { heartbeatMs: HB });
      conns.push(conn);
      expect(conn.heartbeatMs).to.equal(HB);
      // Idle for a few intervals first: heartbeats alone keep the connection up.
      await sleep(3 * HB);
      expect(conn.state).to.equal('open');
      const errored = nextEvent<Error>(conn, 'error', 5_000);
      const frozenAt = freeze();
      const err = await errored;
      const detectedAfter = Date.now() - frozenAt;
      if (process.env['SDK_TEST_VERBOSE'])
        console.log(`      client detected a frozen broker after ${detectedAfter} ms`);
      expect(err.message).to.match(/heartbeat timeout/);
      expect(conn.state).to.equal('closed');
      // Nothing arrives after the freeze, so the silence began at most at frozenAt: the
      // client gives up at most two intervals later.
      expect(detectedAfter).to.be.at.most(2 * HB + SLACK, `detected after ${detectedAfter} ms`);
      // The silence may have begun before the freeze: the broker sends a heartbeat once it
      // has been silent for half an interval, noticed on its next tick, so its last frame
      // left at most HB/2 + BROKER_TICK before frozenAt.
      expect(detectedAfter).to.be.at.least(2 * HB - HB / 2 - BROKER_TICK - CLOCK, `detected after ${detectedAfter} ms`);
    });

    it('with reconnect, recovers once the broker runs again', async () => {
      const conn = await connect(fx.proc!.url, { heartbeatMs: HB, reconnect: { initialDelayMs: 50, maxDelayMs: 200 } });
      conns.push(conn);
      const ch = await conn.createChannel();
      await ch.assertQueue('hb', { durable: true });
      const reconnecting = nextEvent<{ error: Error }>(conn, 'reconnecting', 5_000);
      freeze();
      const { error } = await reconnecting;
      expect(error.message).to.match(/heartbeat timeout/);
      const pending = ch.sendToQueue('hb', Buffer.from('after the freeze'), { persistent: true });
      await sleep(2 * HB);
      fx.proc!.child.kill('SIGCONT');
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
      if (process.env['SDK_TEST_VERBOSE']) console.log(`      broker dropped the silent client after ${silentFor} ms`);
      expect(silentFor).to.be.at.least(2 * HB - CLOCK, `dropped after ${silentFor} ms of silence`);
      // The broker checks for silence on a quarter-interval tick: it acts within 2.25 intervals.
      expect(silentFor).to.be.at.most(2 * HB + BROKER_TICK + SLACK, `dropped after ${silentFor} ms of silence`);
    });

    it('a client that keeps sending heartbeats stays connected through long idle periods', async () => {
      const { conn } = await wiredConnect(rb.url);
      conns.push(conn);
      let closed = false;
      conn.on('close', () => (closed = true));
      // Four intervals: a client that sent nothing would have been dropped after two.
      await sleep(4 * HB);
      await waitFor(() => conn.state === 'open', 'open');
      expect(closed).to.equal(false);
    });
  });
});
