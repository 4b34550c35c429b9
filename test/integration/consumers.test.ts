import { expect } from 'chai';
import { useBroker } from '../helpers/broker.js';
import { nextEvent, open, text, waitFor, type Channel, type Connection, type Message } from '../helpers/client.js';

const settle = (ms = 100): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function fill(ch: Channel, queue: string, n: number, durable = false): Promise<void> {
  await ch.assertQueue(queue, { durable });
  await Promise.all(Array.from({ length: n }, (_, i) => ch.sendToQueue(queue, Buffer.from(String(i)))));
}

describe('consumers', () => {
  const fx = useBroker({ noSync: true, consumerTimeoutCheckMs: 20 });

  describe('prefetch', () => {
    it('applies the per-consumer and the per-channel limit at once, whichever is lower', async () => {
      const { ch } = await open(fx.tb.url, fx.conns);
      await fill(ch, 'p1', 20);
      await fill(ch, 'p2', 20);
      await ch.prefetch(4); // each consumer
      await ch.prefetch(6, true); // the channel as a whole
      const got = { p1: [] as Message[], p2: [] as Message[] };
      await ch.consume('p1', (m) => void (m !== null && got.p1.push(m)));
      await ch.consume('p2', (m) => void (m !== null && got.p2.push(m)));
      await waitFor(() => got.p1.length + got.p2.length === 6, 'six deliveries');
      await settle();
      expect(got.p1.length).to.equal(4); // capped by its own limit
      expect(got.p2.length).to.equal(2); // the channel's 6 is used up
    });

    it('prefetch 0 means unlimited', async () => {
      const { ch } = await open(fx.tb.url, fx.conns);
      await fill(ch, 'p0', 50);
      await ch.prefetch(0);
      const got: Message[] = [];
      await ch.consume('p0', (m) => void (m !== null && got.push(m)));
      await waitFor(() => got.length === 50, 'all fifty');
    });

    it('a prefetch change while consuming takes effect at once', async () => {
      const { ch } = await open(fx.tb.url, fx.conns);
      await fill(ch, 'pc', 20);
      await ch.prefetch(2);
      const got: Message[] = [];
      await ch.consume('pc', (m) => void (m !== null && got.push(m)));
      await waitFor(() => got.length === 2, 'two deliveries');
      await ch.prefetch(5);
      await waitFor(() => got.length === 5, 'five deliveries after raising prefetch');
      await settle();
      expect(got.length).to.equal(5);
    });
  });

  describe('dispatch', () => {
    it('puts a nacked message back ahead of newer ones', async () => {
      const { ch } = await open(fx.tb.url, fx.conns);
      await fill(ch, 'order', 5);
      const m0 = (await ch.get('order')) as Message;
      const m1 = (await ch.get('order')) as Message;
      ch.nack(m1, false, true);
      ch.nack(m0, false, true);
      const out: string[] = [];
      for (let m = await ch.get('order', { noAck: true }); m; m = await ch.get('order', { noAck: true }))
        out.push(text(m));
      expect(out).to.deep.equal(['0', '1', '2', '3', '4']);
    });

    it('serves higher-priority consumers while they have room', async () => {
      const { ch } = await open(fx.tb.url, fx.conns);
      await ch.assertQueue('prio', { durable: false });
      await ch.prefetch(3);
      const got: Record<string, number> = { low: 0, high: 0 };
      await ch.consume('prio', () => got['low']!++, { consumerTag: 'low', priority: 0 });
      await ch.consume('prio', () => got['high']!++, { consumerTag: 'high', arguments: { 'x-priority': 10 } });
      for (let i = 0; i < 5; i++) await ch.sendToQueue('prio', Buffer.from('x'));
      await waitFor(() => got['low']! + got['high']! === 5, 'five deliveries');
      expect(got).to.deep.equal({ high: 3, low: 2 });
    });

    it('gives an exclusive consumer the queue alone: others get 403 ACCESS_REFUSED "in exclusive use", as RabbitMQ', async () => {
      const a = await open(fx.tb.url, fx.conns);
      await a.ch.assertQueue('ex', { durable: false });
      await a.ch.consume('ex', () => undefined, { exclusive: true });
      const b = await open(fx.tb.url, fx.conns);
      const err = await b.ch.consume('ex', () => undefined).catch((e: unknown) => e);
      expect(err).to.include({ code: 403, name: 'ACCESS_REFUSED' });
      expect((err as Error).message).to.include("queue 'ex' in vhost '/' in exclusive use");
    });

    it('refuses an exclusive consumer on a queue that has consumers (403, as RabbitMQ)', async () => {
      const a = await open(fx.tb.url, fx.conns);
      await a.ch.assertQueue('ex2', { durable: false });
      await a.ch.consume('ex2', () => undefined);
      const b = await open(fx.tb.url, fx.conns);
      const err = await b.ch.consume('ex2', () => undefined, { exclusive: true }).catch((e: unknown) => e);
      expect(err).to.include({ code: 403, name: 'ACCESS_REFUSED' });
      expect((err as Error).message).to.include("queue 'ex2' in vhost '/' in exclusive use");
    });

    it('single active consumer: one gets everything, the next takes over in order, with state events', async () => {
      const setup = await open(fx.tb.url, fx.conns);
      await setup.ch.assertQueue('sac', { durable: false, arguments: { 'x-single-active-consumer': true } });
      const consumers: { conn: Connection; ch: Channel; got: string[]; states: boolean[] }[] = [];
      for (let i = 0; i < 3; i++) {
        const { conn, ch } = await open(fx.tb.url, fx.conns);
        const c = { conn, ch, got: [] as string[], states: [] as boolean[] };
        ch.on('consumer-active', (e: { active: boolean }) => c.states.push(e.active));
        await ch.prefetch(1);
        await ch.consume('sac', (m) => {
          if (m === null) return;
          c.got.push(text(m));
          ch.ack(m);
        });
        consumers.push(c);
      }
      for (let i = 0; i < 4; i++) await setup.ch.sendToQueue('sac', Buffer.from(`a${i}`));
      await waitFor(() => consumers[0]!.got.length === 4, 'first consumer gets all');
      expect(consumers[1]!.got).to.deep.equal([]);
      await consumers[0]!.conn.close();
      for (let i = 0; i < 2; i++) await setup.ch.sendToQueue('sac', Buffer.from(`b${i}`));
      await waitFor(() => consumers[1]!.got.length === 2, 'second consumer takes over');
      expect(consumers[2]!.got).to.deep.equal([]);
      expect(consumers.map((c) => c.states)).to.deep.equal([[true], [false, true], [false]]);
    });
  });

  describe('queues', () => {
    it('exclusive queues belong to one connection (405 for others) and die with it', async () => {
      const a = await open(fx.tb.url, fx.conns);
      await a.ch.assertQueue('mine', { exclusive: true });
      const b = await open(fx.tb.url, fx.conns);
      const err = await b.ch.checkQueue('mine').catch((e: unknown) => e);
      expect(err).to.include({ code: 405, name: 'RESOURCE_LOCKED' });
      await a.conn.close();
      const c = await open(fx.tb.url, fx.conns);
      const gone = await c.ch.checkQueue('mine').catch((e: unknown) => e);
      expect(gone).to.include({ code: 404 });
    });

    it('auto-delete queues go away when their last consumer does', async () => {
      const { ch } = await open(fx.tb.url, fx.conns);
      await ch.assertQueue('ad', { durable: false, autoDelete: true });
      const c1 = await ch.consume('ad', () => undefined);
      const c2 = await ch.consume('ad', () => undefined);
      await ch.cancel(c1.consumerTag);
      expect((await ch.checkQueue('ad')).consumerCount).to.equal(1);
      await ch.cancel(c2.consumerTag);
      const err = await ch.checkQueue('ad').catch((e: unknown) => e);
      expect(err).to.include({ code: 404 });
    });

    it('server-named queues get unique amq.gen- names', async () => {
      const { ch } = await open(fx.tb.url, fx.conns);
      const a = await ch.assertQueue('', { exclusive: true });
      const b = await ch.assertQueue('', { exclusive: true });
      expect(a.queue).to.match(/^amq\.gen-/);
      expect(a.queue).to.not.equal(b.queue);
    });

    it('deleteQueue honours ifUnused and ifEmpty', async () => {
      const { conn, ch } = await open(fx.tb.url, fx.conns);
      await fill(ch, 'guarded', 1);
      const e1 = await ch.deleteQueue('guarded', { ifEmpty: true }).catch((e: unknown) => e);
      expect(e1).to.include({ code: 406 });
      expect((e1 as Error).message).to.match(/is not empty/);
      const ch2 = await conn.createChannel();
      await ch2.purgeQueue('guarded');
      await ch2.consume('guarded', () => undefined);
      const e2 = await ch2.deleteQueue('guarded', { ifUnused: true }).catch((e: unknown) => e);
      expect(e2).to.include({ code: 406 });
      expect((e2 as Error).message).to.match(/in use/);
    });

    it('deleting a queue cancels its consumers with a cancel notification', async () => {
      const a = await open(fx.tb.url, fx.conns);
      await a.ch.assertQueue('doomed', { durable: false });
      const seen: (Message | null)[] = [];
      await a.ch.consume('doomed', (m) => void seen.push(m), { consumerTag: 'watcher' });
      const cancelled = nextEvent<{ consumerTag: string; reason: string }>(a.ch, 'cancel');
      const b = await open(fx.tb.url, fx.conns);
      await b.ch.deleteQueue('doomed');
      const info = await cancelled;
      expect(info.consumerTag).to.equal('watcher');
      expect(seen).to.deep.equal([null]);
    });
  });

  describe('acks', () => {
    it('get with noAck settles at once; without, the message waits for an ack', async () => {
      const { ch } = await open(fx.tb.url, fx.conns);
      await fill(ch, 'g', 2);
      await ch.get('g', { noAck: true });
      const m = await ch.get('g');
      expect(m && m.fields.messageCount).to.equal(0);
      await ch.close();
      const again = await open(fx.tb.url, fx.conns);
      const back = (await again.ch.get('g', { noAck: true })) as Message;
      expect(text(back)).to.equal('1');
      expect(back.fields.redelivered).to.equal(true);
    });

    it('ackAll settles everything outstanding; nackAll requeues everything', async () => {
      const { ch } = await open(fx.tb.url, fx.conns);
      await fill(ch, 'all', 6);
      const got: Message[] = [];
      await ch.prefetch(3);
      await ch.consume('all', (m) => void (m !== null && got.push(m)));
      await waitFor(() => got.length === 3, 'three');
      ch.ackAll();
      await waitFor(() => got.length === 6, 'three more');
      ch.nackAll(true);
      await waitFor(() => got.length === 9, 'three redelivered');
      expect(got.slice(6).map((m) => [text(m), m.fields.redelivered])).to.deep.equal([
        ['3', true],
        ['4', true],
        ['5', true],
      ]);
    });

    it('delivery tags are per channel: acking on the wrong channel is 406', async () => {
      const { conn, ch } = await open(fx.tb.url, fx.conns);
      await fill(ch, 'tags', 1);
      const m = (await ch.get('tags')) as Message;
      const other = await conn.createChannel();
      const closed = nextEvent<Error>(other, 'error');
      other.ack(m);
      const err = await closed;
      expect(err).to.include({ code: 406 });
      expect(err.message).to.match(/unknown delivery tag 1/);
      ch.ack(m); // still valid where it was delivered
      expect((await ch.checkQueue('tags')).messageCount).to.equal(0);
    });

    it('a delivery unacked past x-consumer-timeout closes the channel with 406 and requeues', async () => {
      const { conn, ch } = await open(fx.tb.url, fx.conns);
      await ch.assertQueue('slow', { durable: false, arguments: { 'x-consumer-timeout': 100 } });
      await ch.sendToQueue('slow', Buffer.from('late'));
      const err = nextEvent<Error>(ch, 'error', 5000);
      await ch.consume('slow', () => undefined);
      const e = await err;
      expect(e).to.include({ code: 406 });
      expect(e.message).to.match(/delivery acknowledgement on channel \d+ timed out/);
      const ch2 = await conn.createChannel();
      const back = (await ch2.get('slow', { noAck: true })) as Message;
      expect(text(back)).to.equal('late');
      expect(back.fields.redelivered).to.equal(true);
    });

    it('rejects a bad x-consumer-timeout with 406 naming the argument', async () => {
      const { ch } = await open(fx.tb.url, fx.conns);
      const err = await ch.assertQueue('badarg', { arguments: { 'x-consumer-timeout': -5 } }).catch((e: unknown) => e);
      expect(err).to.include({ code: 406 });
      expect((err as Error).message).to.match(/invalid arg 'x-consumer-timeout'/);
    });
  });
});
