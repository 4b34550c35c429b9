import { expect } from 'chai';
import { BrokerError, ChannelClosedError, connect, type ConsumeMessage } from '@switchyard/client';
import { useBroker } from '../helpers/broker.js';
import { nextEvent, open, sleep, waitFor } from '../helpers/client.js';
import { brokerInternals } from '@switchyard/broker/internal';

type Msg = ConsumeMessage<Buffer>;

/** Unhandled rejections seen while `body` runs (and a turn after it). */
async function unhandledRejections(body: () => Promise<void>): Promise<unknown[]> {
  const seen: unknown[] = [];
  const listener = (reason: unknown): void => {
    seen.push(reason);
  };
  process.on('unhandledRejection', listener);
  try {
    await body();
    await sleep(20);
  } finally {
    process.off('unhandledRejection', listener);
  }
  return seen;
}

describe('SDK: amqplib migration (issue 11 item 20)', function () {
  this.timeout(20_000);
  const fx = useBroker();

  describe('connection URL', () => {
    it('logs in with the credentials of ws://user:password@host (percent-decoded), as amqplib does with amqp://', async () => {
      await brokerInternals(fx.tb.broker).access.addUser('al ice', 'p@ss:w/rd');
      brokerInternals(fx.tb.broker).access.setPermissions('al ice', '/', { configure: '', write: '', read: '' });
      const base = new URL(fx.tb.url);
      const withUser = (user: string, password: string): string =>
        `ws://${encodeURIComponent(user)}:${encodeURIComponent(password)}@${base.host}`;
      const err = await connect(withUser('al ice', 'wrong')).then(
        () => expect.fail('logged in'),
        (e: BrokerError) => e,
      );
      expect(err.code).to.equal(403);
      const conn = await connect(withUser('al ice', 'p@ss:w/rd'));
      fx.conns.push(conn);
      const ch = await conn.createChannel();
      // The user is alice, who may not configure anything: guest could.
      const refused = await ch.assertQueue('q').then(
        () => expect.fail('declared'),
        (e: BrokerError) => e,
      );
      expect(refused.code).to.equal(403);
      expect(refused.message).to.contain("user 'al ice'");
    });

    it('refuses an amqp:// URL with a TypeError saying to use ws://', async () => {
      const port = new URL(fx.tb.url).port;
      const err = await connect(`amqp://guest:guest@127.0.0.1:${port}`).then(
        () => expect.fail('connected'),
        (e: unknown) => e,
      );
      expect(err).to.be.instanceOf(TypeError);
      expect((err as Error).message).to.match(/AMQP 0-9-1 URL: Switchyard clients speak WebSocket, e\.g\. ws:\/\//);
    });
  });

  describe('msg.properties.headers', () => {
    it('is {} on consumed, fetched and returned messages when the publisher sent none', async () => {
      const { ch } = await open(fx.tb.url, fx.conns);
      await ch.assertQueue('h', { durable: false });
      await ch.sendToQueue('h', 'a');
      await ch.sendToQueue('h', 'b', { headers: { k: 1 } });
      await ch.sendToQueue('h', 'c', { contentType: 'text/plain' });
      const got = await ch.get('h', { noAck: true });
      expect(got && got.properties.headers).to.deep.equal({});
      const consumed: Msg[] = [];
      await ch.consume('h', (m) => m && consumed.push(m), { noAck: true });
      await waitFor(() => consumed.length === 2, 'two deliveries');
      expect(consumed.map((m) => m.properties.headers)).to.deep.equal([{ k: 1 }, {}]);
      expect(consumed[1]!.properties.contentType).to.equal('text/plain');
      const returned = nextEvent(ch, 'return');
      await ch.publish('amq.direct', 'nowhere', 'r', { mandatory: true });
      const r = (await returned) as { properties: { headers: unknown } };
      expect(r.properties.headers).to.deep.equal({});
    });
  });

  describe('deliveryMode (alias of persistent)', () => {
    it('2 or true stores the message durably, 1 or false does not (survives a restart or not)', async () => {
      let { ch } = await open(fx.tb.url, fx.conns);
      await ch.assertQueue('dm', { durable: true });
      await ch.sendToQueue('dm', 'two', { deliveryMode: 2 });
      await ch.sendToQueue('dm', 'true', { deliveryMode: true });
      await ch.sendToQueue('dm', 'one', { deliveryMode: 1 });
      await ch.sendToQueue('dm', 'false', { deliveryMode: false });
      await ch.sendToQueue('dm', 'both', { deliveryMode: 2, persistent: true });
      const first = await ch.get('dm', { noAck: false });
      expect(first && first.properties.persistent).to.equal(true);
      await ch.recover();
      await Promise.all(fx.conns.splice(0).map((c) => c.close()));
      fx.tb = await fx.tb.restart();
      ({ ch } = await open(fx.tb.url, fx.conns));
      const bodies: string[] = [];
      for (let m = await ch.get('dm', { noAck: true }); m !== false; m = await ch.get('dm', { noAck: true }))
        bodies.push(m.content.toString());
      expect(bodies).to.deep.equal(['two', 'true', 'both']);
    });

    it('throws a TypeError when persistent and deliveryMode disagree, or for another deliveryMode', async () => {
      const { ch } = await open(fx.tb.url, fx.conns);
      expect(() => ch.sendToQueue('q', 'x', { persistent: true, deliveryMode: 1 })).to.throw(
        TypeError,
        /persistent \(true\) and options.deliveryMode \(1\) disagree/,
      );
      expect(() => ch.sendToQueue('q', 'x', { persistent: false, deliveryMode: true })).to.throw(TypeError, /disagree/);
      expect(() => ch.sendToQueue('q', 'x', { deliveryMode: 3 as 2 })).to.throw(
        TypeError,
        /deliveryMode must be 1 or false .* 2 or true/,
      );
      expect(ch.state).to.equal('open');
    });
  });

  describe('publish / sendToQueue callback (amqplib ConfirmChannel)', () => {
    it('calls back with null on the confirm, and with the BrokerError on a nack, without an unhandled rejection', async () => {
      const { ch } = await open(fx.tb.url, fx.conns);
      await ch.assertQueue('full', {
        durable: false,
        arguments: { 'x-max-length': 0, 'x-overflow': 'reject-publish' },
      });
      await ch.assertQueue('ok', { durable: false });
      const results: (Error | null)[] = [];
      const seen = await unhandledRejections(async () => {
        await new Promise<void>((resolve) => {
          void ch.publish('', 'ok', 'a', {}, (err) => {
            results.push(err);
            resolve();
          });
        });
        await new Promise<void>((resolve) => {
          void ch.sendToQueue('full', 'b', undefined, (err) => {
            results.push(err);
            resolve();
          });
        });
      });
      expect(seen).to.deep.equal([]);
      expect(results[0]).to.equal(null);
      expect(results[1]).to.be.instanceOf(BrokerError);
      expect((results[1] as BrokerError).code).to.equal(406);
      expect((await ch.checkQueue('ok')).messageCount).to.equal(1);
    });

    it('calls back with the error when the channel is closed, and still returns the promise', async () => {
      const { ch } = await open(fx.tb.url, fx.conns);
      await ch.close();
      let got: Error | null | undefined;
      const p = ch.publish('', 'q', 'x', {}, (err) => {
        got = err;
      });
      await p.catch(() => undefined);
      await sleep(0);
      expect(got).to.be.instanceOf(ChannelClosedError);
      await p.then(
        () => expect.fail('resolved'),
        (err: unknown) => expect(err).to.be.instanceOf(ChannelClosedError),
      );
    });

    it('refuses a callback that is not a function, or a callback given in place of the options', async () => {
      const { ch } = await open(fx.tb.url, fx.conns);
      expect(() => ch.publish('', 'q', 'x', {}, 'cb' as never)).to.throw(TypeError, /callback must be a function/);
      const cb = (): void => undefined;
      expect(() => ch.sendToQueue('q', 'x', cb as never)).to.throw(
        TypeError,
        /options must be an object \(a confirm callback goes after it/,
      );
    });
  });

  describe('amqplib options', () => {
    it("assertQueue takes amqplib's overflow and queueMode shorthands", async () => {
      const { ch } = await open(fx.tb.url, fx.conns);
      await ch.assertQueue('capped', { durable: false, maxLength: 1, overflow: 'reject-publish', queueMode: 'lazy' });
      await ch.sendToQueue('capped', 'fits');
      const err = await ch.sendToQueue('capped', 'refused').then(
        () => expect.fail('accepted'),
        (e: BrokerError) => e,
      );
      expect(err.code).to.equal(406);
      expect(err.message).to.match(/is full \(x-overflow reject-publish\)/);
    });

    it('refuses CC / BCC (sender-selected distribution) rather than dropping them', async () => {
      const { ch } = await open(fx.tb.url, fx.conns);
      expect(() => ch.publish('amq.direct', 'a', 'x', { CC: ['b'] } as never)).to.throw(
        TypeError,
        /CC \/ options.BCC .* not supported/,
      );
      expect(() => ch.publish('amq.direct', 'a', 'x', { BCC: 'b' } as never)).to.throw(TypeError, /not supported/);
    });
  });

  describe('ch.recover()', () => {
    it('redelivers every unacked message of the channel; settling a message from before it is a no-op', async () => {
      const { ch, conn } = await open(fx.tb.url, fx.conns);
      await ch.assertQueue('rec', { durable: false });
      for (const b of ['1', '2', '3', '4']) await ch.sendToQueue('rec', b);
      const fetched = await ch.get('rec');
      const got: Msg[] = [];
      await ch.prefetch(10);
      await ch.consume('rec', (m) => m && got.push(m));
      await waitFor(() => got.length === 3, 'three deliveries');
      expect(got.every((m) => !m.fields.redelivered)).to.equal(true);
      await ch.recover();
      await waitFor(() => got.length === 7, 'four redeliveries');
      const again = got.slice(3);
      expect(again.map((m) => m.content.toString()).sort()).to.deep.equal(['1', '2', '3', '4']);
      expect(again.every((m) => m.fields.redelivered && m.fields.deliveryCount === 1)).to.equal(true);
      // Stale messages: no-ops (RabbitMQ would close the channel with 406 for the unknown tag).
      for (const m of got.slice(0, 3)) m.ack();
      if (fetched !== false) ch.ack(fetched);
      for (const m of again) m.ack();
      await ch.close();
      const ch2 = await conn.createChannel();
      expect((await ch2.checkQueue('rec')).messageCount).to.equal(0);
    });

    it('resolves with nothing outstanding', async () => {
      const { ch } = await open(fx.tb.url, fx.conns);
      await ch.recover();
      expect(ch.state).to.equal('open');
    });
  });
});
