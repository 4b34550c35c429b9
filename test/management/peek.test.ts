import { expect } from 'chai';
import { useBroker } from '../helpers/broker.js';
import { open, text } from '../helpers/client.js';
import { runCli } from '../helpers/run-cli.js';
import { api, V } from '../helpers/http.js';

interface Got {
  payload: string;
  redelivered: boolean;
  deliveryCount: number;
  messageCount: number;
}

/**
 * issue 11 item 18: `switchyard get` is a peek. `ackMode: "peek"` reads head messages without
 * taking them: no delivery counted, no redelivered flag, no step toward x-delivery-limit.
 */
describe('peek: POST /api/queues/{vhost}/{name}/get with ackMode "peek", and `switchyard get`', function () {
  this.timeout(30_000);
  const fx = useBroker();
  const peek = async (queue: string, count = 10): Promise<Got[]> => {
    const r = await api<Got[]>(fx.tb, 'POST', `/api/queues/${V}/${queue}/get`, { count, ackMode: 'peek' });
    expect(r.status, JSON.stringify(r.body)).to.equal(200);
    return r.body;
  };

  it('leaves delivery count, redelivered flag and x-delivery-limit untouched, however often it peeks', async () => {
    const { ch } = await open(fx.tb.url, fx.conns);
    await ch.assertQueue('pk-limit', { durable: true, arguments: { 'x-delivery-limit': 1 } });
    await ch.sendToQueue('pk-limit', Buffer.from('precious'), { persistent: true });
    for (let i = 0; i < 5; i++) {
      const got = await peek('pk-limit');
      expect(got.map((m) => [m.payload, m.redelivered, m.deliveryCount, m.messageCount])).to.deep.equal([
        ['precious', false, 0, 0],
      ]);
    }
    // The CLI's default `get` is the same peek.
    for (let i = 0; i < 3; i++) {
      const r = await runCli(['get', 'pk-limit', '--url', fx.tb.broker.managementUrl!]);
      expect(r.code, r.stderr).to.equal(0);
      expect(r.stdout).to.include("1 message shown (left in place); queue 'pk-limit' has 1 ready");
    }
    expect((await ch.checkQueue('pk-limit')).messageCount).to.equal(1);
    // Over the limit it would have been dropped; it is delivered as a first delivery.
    const m = await ch.get('pk-limit');
    expect(m && [text(m), m.fields.redelivered, m.fields.deliveryCount]).to.deep.equal(['precious', false, 0]);
  });

  it('keeps the peeked state across a restart (nothing was written)', async () => {
    const { conn, ch } = await open(fx.tb.url, fx.conns);
    await ch.assertQueue('pk-restart', { durable: true });
    await ch.sendToQueue('pk-restart', Buffer.from('a'), { persistent: true });
    await peek('pk-restart');
    await conn.close();
    fx.tb = await fx.tb.restart();
    const again = await open(fx.tb.url, fx.conns);
    const m = await again.ch.get('pk-restart');
    expect(m && [text(m), m.fields.redelivered, m.fields.deliveryCount]).to.deep.equal(['a', false, 0]);
  });

  it('shows messages in delivery order (priorities, requeued messages) and skips expired ones', async () => {
    const { ch } = await open(fx.tb.url, fx.conns);
    await ch.assertQueue('pk-order', { arguments: { 'x-max-priority': 5 } });
    await ch.sendToQueue('pk-order', Buffer.from('low-1'));
    await ch.sendToQueue('pk-order', Buffer.from('gone'), { expiration: '1' });
    await ch.sendToQueue('pk-order', Buffer.from('low-2'));
    await ch.sendToQueue('pk-order', Buffer.from('high'), { priority: 5 });
    await new Promise((r) => setTimeout(r, 20));
    // take and requeue the first low one: it goes back to its place, redelivered
    const first = await ch.get('pk-order');
    expect(text(first)).to.equal('high');
    const second = await ch.get('pk-order');
    expect(text(second)).to.equal('low-1');
    ch.nack(second as Exclude<typeof second, false>, false, true);
    ch.nack(first as Exclude<typeof first, false>, false, true);
    await ch.checkQueue('pk-order');
    const got = await peek('pk-order', 2);
    // messageCount counts ready messages as the queue does: the expired one behind the
    // head is still among them until it reaches the head
    expect(got.map((m) => [m.payload, m.redelivered, m.messageCount])).to.deep.equal([
      ['high', true, 3],
      ['low-1', true, 2],
    ]);
    const all = await peek('pk-order');
    expect(all.map((m) => m.payload)).to.deep.equal(['high', 'low-1', 'low-2']);
    // delivered in the order peek showed
    const order: string[] = [];
    for (let m = await ch.get('pk-order', { noAck: true }); m; m = await ch.get('pk-order', { noAck: true }))
      order.push(text(m));
    expect(order).to.deep.equal(['high', 'low-1', 'low-2']);
  });

  it('get --requeue keeps RabbitMQ get-and-requeue: marked redelivered, one delivery counted', async () => {
    const { ch } = await open(fx.tb.url, fx.conns);
    await ch.assertQueue('pk-requeue');
    await ch.sendToQueue('pk-requeue', Buffer.from('x'));
    const r = await runCli(['get', 'pk-requeue', '--requeue', '--url', fx.tb.broker.managementUrl!]);
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stdout).to.include('1 message requeued');
    const got = await peek('pk-requeue');
    expect(got.map((m) => [m.redelivered, m.deliveryCount])).to.deep.equal([[true, 1]]);
  });
});
