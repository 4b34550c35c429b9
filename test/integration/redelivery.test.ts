import { expect } from 'chai';
import { useBroker } from '../helpers/broker.js';
import { closeAll, open, text, waitFor, type Message } from '../helpers/client.js';

describe('redelivery', () => {
  const fx = useBroker({ noSync: true });

  async function fill(queue: string, n: number, persistent = true): Promise<void> {
    const { ch } = await open(fx.tb.url, fx.conns);
    await ch.assertQueue(queue, { durable: true });
    await Promise.all(
      Array.from({ length: n }, (_, i) => ch.sendToQueue(queue, Buffer.from(String(i)), { persistent })),
    );
  }

  it('requeues unacked messages in their original order, redelivered, when the consumer connection drops', async () => {
    await fill('rq', 10);
    const first = await open(fx.tb.url, fx.conns);
    await first.ch.prefetch(4);
    const got: Message[] = [];
    await first.ch.consume('rq', (m) => void (m !== null && got.push(m)));
    await waitFor(() => got.length === 4, 'four deliveries');
    first.ch.ack(got[1]!); // "1" acked, which frees room for "4"; 0, 2, 3, 4 stay unacked
    await waitFor(() => got.length === 5, 'delivery of 4');
    await first.conn.close();

    const second = await open(fx.tb.url, fx.conns);
    const again: Message[] = [];
    await second.ch.consume('rq', (m) => {
      if (m === null) return;
      again.push(m);
      second.ch.ack(m);
    });
    await waitFor(() => again.length === 9, 'nine deliveries');
    expect(again.map(text)).to.deep.equal(['0', '2', '3', '4', '5', '6', '7', '8', '9']);
    expect(again.slice(0, 4).map((m) => [m.fields.redelivered, m.fields.deliveryCount])).to.deep.equal([
      [true, 1],
      [true, 1],
      [true, 1],
      [true, 1],
    ]);
    expect(again.slice(4).every((m) => !m.fields.redelivered && m.fields.deliveryCount === 0)).to.equal(true);
  });

  it('requeues when only the channel closes, and the connection carries on', async () => {
    await fill('cc', 3);
    const { conn } = await open(fx.tb.url, fx.conns);
    const ch1 = await conn.createChannel();
    const got: Message[] = [];
    await ch1.consume('cc', (m) => void (m !== null && got.push(m)));
    await waitFor(() => got.length === 3, 'three deliveries');
    await ch1.close();
    const ch2 = await conn.createChannel();
    const m = (await ch2.get('cc')) as Message;
    expect(text(m)).to.equal('0');
    expect(m.fields.redelivered).to.equal(true);
  });

  it('counts every delivery: deliveryCount grows with each requeue', async () => {
    await fill('dc', 1);
    const { ch } = await open(fx.tb.url, fx.conns);
    for (let i = 0; i < 3; i++) {
      const m = (await ch.get('dc')) as Message;
      expect(m.fields.deliveryCount).to.equal(i);
      ch.nack(m, false, true);
    }
  });

  it('after a graceful restart, delivered-but-unacked messages come back redelivered and the rest do not', async () => {
    await fill('gr', 5);
    const { ch } = await open(fx.tb.url, fx.conns);
    const a = (await ch.get('gr')) as Message;
    const b = (await ch.get('gr')) as Message;
    ch.ack(a);
    void b; // left unacked
    await new Promise((r) => setTimeout(r, 50));
    await closeAll(fx.conns);
    fx.tb = await fx.tb.restart();
    const { ch: ch2 } = await open(fx.tb.url, fx.conns);
    const out: [string, boolean, number][] = [];
    for (let m = await ch2.get('gr', { noAck: true }); m; m = await ch2.get('gr', { noAck: true })) {
      out.push([text(m), m.fields.redelivered, m.fields.deliveryCount]);
    }
    expect(out).to.deep.equal([
      ['1', true, 1],
      ['2', false, 0],
      ['3', false, 0],
      ['4', false, 0],
    ]);
  });

  it('keeps durable definitions and persistent messages across a restart, drops transient ones', async () => {
    const { ch } = await open(fx.tb.url, fx.conns);
    await ch.assertExchange('dx', 'fanout', { durable: true });
    await ch.assertQueue('durable-q', { durable: true });
    await ch.assertQueue('transient-q', { durable: false });
    await ch.bindQueue('durable-q', 'dx', '');
    await ch.publish('dx', '', Buffer.from('kept'), { persistent: true });
    await ch.publish('dx', '', Buffer.from('not-persistent'), { persistent: false });
    await closeAll(fx.conns);
    fx.tb = await fx.tb.restart();
    const { ch: ch2 } = await open(fx.tb.url, fx.conns);
    expect((await ch2.checkQueue('durable-q')).messageCount).to.equal(1);
    const err = await ch2.checkQueue('transient-q').catch((e: unknown) => e);
    expect(err).to.include({ code: 404 });
    const ch3 = await fx.conns[fx.conns.length - 1]!.createChannel();
    await ch3.publish('dx', '', Buffer.from('after-restart'), { persistent: true });
    const got: string[] = [];
    for (let m = await ch3.get('durable-q', { noAck: true }); m; m = await ch3.get('durable-q', { noAck: true }))
      got.push(text(m));
    expect(got).to.deep.equal(['kept', 'after-restart']);
  });
});
