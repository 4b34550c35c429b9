import { expect } from 'chai';
import { BrokerError, connect } from '@switchyard/client';
import { useBroker } from '../helpers/broker.js';
import { nextEvent, sleep, waitFor } from '../helpers/client.js';
import { wiredConnect } from '../helpers/wire.js';

const settled = <T>(p: Promise<T>): Promise<'resolved' | 'rejected'> =>
  p.then(
    () => 'resolved' as const,
    () => 'rejected' as const,
  );

describe('SDK publisher backpressure', function () {
  this.timeout(20_000);
  const fx = useBroker({ noSync: true });

  async function wired(options: Parameters<typeof wiredConnect>[1] = {}) {
    const w = await wiredConnect(fx.tb.url, options, true);
    fx.conns.push(w.conn);
    return w;
  }

  describe('maxUnconfirmed', () => {
    it('defaults to 1000 per channel', async () => {
      const { conn } = await wired();
      const ch = await conn.createChannel();
      expect(ch.maxUnconfirmed).to.equal(1000);
    });

    it('sends at most maxUnconfirmed publishes ahead of their confirms; the rest wait, in order', async () => {
      const { conn, wire } = await wired({ maxUnconfirmed: 10 });
      const ch = await conn.createChannel();
      await ch.assertQueue('bp', { durable: false });
      wire().hold(); // confirms stop arriving
      const publishes = Array.from({ length: 50 }, (_, i) => ch.sendToQueue('bp', Buffer.from(String(i))));
      await sleep(50);
      expect(wire().sentOf('publish').length).to.equal(10);
      expect(ch.outstandingConfirms).to.equal(50);
      wire().release();
      await Promise.all(publishes);
      expect(
        wire()
          .sentOf('publish')
          .map((f) => Buffer.from(f.content).toString()),
      ).to.deep.equal(Array.from({ length: 50 }, (_, i) => String(i)));
      expect(ch.outstandingConfirms).to.equal(0);
    });

    it('a later request of the channel waits behind waiting publishes (operations stay in order)', async () => {
      const { conn, wire } = await wired();
      const ch = await conn.createChannel({ maxUnconfirmed: 2 });
      await ch.assertQueue('order', { durable: false });
      wire().hold();
      const publishes = [1, 2, 3, 4].map((i) => ch.sendToQueue('order', Buffer.from(String(i))));
      const purged = ch.purgeQueue('order');
      await sleep(30);
      expect(
        wire()
          .sent.filter((f) => f.type === 'publish' || f.type === 'queuePurge')
          .map((f) => f.type),
      ).to.deep.equal(['publish', 'publish']);
      wire().release();
      await Promise.all(publishes);
      expect((await purged).messageCount).to.equal(4);
    });

    it('0 means no limit; the limit can be changed on a channel at any time', async () => {
      const { conn, wire } = await wired({ maxUnconfirmed: 0 });
      const ch = await conn.createChannel();
      await ch.assertQueue('nolimit', { durable: false });
      wire().hold();
      const publishes = Array.from({ length: 30 }, () => ch.sendToQueue('nolimit', Buffer.from('x')));
      await sleep(30);
      expect(wire().sentOf('publish').length).to.equal(30);
      ch.maxUnconfirmed = 5;
      const more = Array.from({ length: 5 }, () => ch.sendToQueue('nolimit', Buffer.from('y')));
      await sleep(30);
      expect(wire().sentOf('publish').length).to.equal(30);
      wire().release();
      await Promise.all([...publishes, ...more]);
      expect(() => (ch.maxUnconfirmed = -1)).to.throw(RangeError, 'maxUnconfirmed must be a non-negative integer');
    });

    it('validates the option', async () => {
      const err = await connect(fx.tb.url, { maxUnconfirmed: 1.5 }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).to.be.instanceOf(RangeError);
      expect((err as Error).message).to.equal('options.maxUnconfirmed must be a non-negative integer (0: no limit)');
      const { conn } = await wired();
      expect(() => conn.createChannel({ maxUnconfirmed: 'x' as unknown as number })).to.throw(
        TypeError,
        'options.maxUnconfirmed must be a number',
      );
    });
  });

  describe('blocked / unblocked', () => {
    it('holds publishes while the broker has the connection blocked, and later frames of the channel behind them', async () => {
      const { conn, wire } = await wired();
      const ch = await conn.createChannel();
      await ch.assertQueue('blk', { durable: false });
      await ch.sendToQueue('blk', Buffer.from('before'));
      await ch.consume('blk', () => undefined);
      const events: string[] = [];
      conn.on('blocked', (reason) => events.push(`blocked:${reason}`));
      conn.on('unblocked', () => events.push('unblocked'));
      const blocked = nextEvent(conn, 'blocked');
      wire().inject({ type: 'blocked', channel: 0, reason: 'low on memory' });
      await blocked;
      expect(conn.blocked).to.equal(true);
      const sentBefore = wire().sentOf('publish').length;
      const p = ch.sendToQueue('blk', Buffer.from('during'));
      const declared = ch.assertQueue('blk2', { durable: false });
      // Acks are not held: the broker may need them to free memory.
      ch.ackAll();
      await sleep(50);
      expect(wire().sentOf('publish').length).to.equal(sentBefore);
      expect(
        wire()
          .sentOf('queueDeclare')
          .map((f) => f.queue),
      ).to.not.include('blk2');
      expect(wire().sentOf('ack').length).to.equal(1);
      expect(await Promise.race([settled(p), sleep(20).then(() => 'pending')])).to.equal('pending');
      wire().inject({ type: 'unblocked', channel: 0 });
      await p;
      await declared;
      expect(conn.blocked).to.equal(false);
      expect(events).to.deep.equal(['blocked:low on memory', 'unblocked']);
      expect(wire().sentOf('publish').length).to.equal(sentBefore + 1);
    });

    it('the blocked state also holds publishes of channels opened while blocked', async () => {
      const { conn, wire } = await wired();
      wire().inject({ type: 'blocked', channel: 0, reason: 'disk' });
      const ch = await conn.createChannel();
      await ch.assertQueue('late', { durable: false });
      const p = ch.sendToQueue('late', Buffer.from('x'));
      await sleep(30);
      expect(wire().sentOf('publish').length).to.equal(0);
      wire().inject({ type: 'unblocked', channel: 0 });
      await p;
    });
  });

  describe('waitForConfirms', () => {
    it('resolves once every publish made so far is confirmed', async () => {
      const { conn, wire } = await wired();
      const ch = await conn.createChannel();
      await ch.assertQueue('wfc', { durable: false });
      await ch.waitForConfirms(); // nothing outstanding
      wire().hold();
      let confirmed = 0;
      for (let i = 0; i < 100; i++) void ch.sendToQueue('wfc', Buffer.from(String(i))).then(() => confirmed++);
      const waited = ch.waitForConfirms();
      await sleep(20);
      expect(await Promise.race([settled(waited), sleep(10).then(() => 'pending')])).to.equal('pending');
      wire().release();
      await waited;
      await sleep(0);
      expect(confirmed).to.equal(100);
      expect(ch.outstandingConfirms).to.equal(0);
    });

    it('rejects with the broker nack when one of them was refused, after all of them settled', async () => {
      const { conn } = await wired();
      const ch = await conn.createChannel();
      await ch.assertQueue('full', {
        durable: false,
        arguments: { 'x-max-length': 1, 'x-overflow': 'reject-publish' },
      });
      const results = ['a', 'b', 'c'].map((x) => settled(ch.sendToQueue('full', Buffer.from(x))));
      const err = await ch.waitForConfirms().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).to.be.instanceOf(BrokerError);
      expect(await Promise.all(results)).to.deep.equal(['resolved', 'rejected', 'rejected']);
      await ch.purgeQueue('full');
      await ch.sendToQueue('full', Buffer.from('d'));
      await ch.waitForConfirms(); // earlier failures do not count any more
    });

    it('rejects when the channel closes with publishes outstanding', async () => {
      const { conn, wire } = await wired();
      const ch = await conn.createChannel();
      ch.on('error', () => undefined);
      wire().hold();
      void settled(ch.publish('no-such-exchange', 'k', Buffer.from('x')));
      const waited = ch.waitForConfirms();
      wire().release();
      const err = await waited.then(
        () => undefined,
        (e: unknown) => e,
      );
      expect((err as BrokerError).code).to.equal(404);
      await waitFor(() => ch.state === 'closed', 'channel closed');
    });
  });
});
