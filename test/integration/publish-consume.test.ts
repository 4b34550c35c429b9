import { expect } from 'chai';
import { useBroker } from '../helpers/broker.js';
import { open, text, waitFor, type Message } from '../helpers/client.js';

describe('publish and consume', () => {
  const fx = useBroker({ noSync: true });

  it('routes through a direct exchange to a bound queue and delivers with confirms and acks', async () => {
    const { ch } = await open(fx.tb.url, fx.conns);
    await ch.assertExchange('orders', 'direct', { durable: true });
    const { queue } = await ch.assertQueue('orders.eu', { durable: true });
    await ch.bindQueue(queue, 'orders', 'eu');
    await ch.publish('orders', 'eu', Buffer.from('one'), { persistent: true, messageId: 'm1', headers: { a: 1 } });
    await ch.publish('orders', 'us', Buffer.from('unrouted'));
    const got: Message[] = [];
    await ch.consume(queue, (m) => {
      if (m === null) return;
      got.push(m);
      ch.ack(m);
    });
    await waitFor(() => got.length === 1, 'delivery');
    const m = got[0]!;
    expect(text(m)).to.equal('one');
    expect(m.fields).to.include({ exchange: 'orders', routingKey: 'eu', redelivered: false, deliveryCount: 0 });
    expect(m.properties).to.include({ messageId: 'm1', persistent: true });
    expect(m.properties.headers).to.deep.equal({ a: 1 });
  });

  it('routes the default exchange by queue name and fanout to every bound queue', async () => {
    const { ch } = await open(fx.tb.url, fx.conns);
    await ch.assertQueue('a', { durable: false });
    await ch.assertQueue('b', { durable: false });
    await ch.assertExchange('fan', 'fanout', { durable: false });
    await ch.bindQueue('a', 'fan', '');
    await ch.bindQueue('b', 'fan', 'ignored');
    await ch.sendToQueue('a', Buffer.from('direct-to-a'));
    await ch.publish('fan', 'anything', Buffer.from('to-all'));
    const a1 = await ch.get('a', { noAck: true });
    const a2 = await ch.get('a', { noAck: true });
    const b1 = await ch.get('b', { noAck: true });
    expect([text(a1), text(a2), text(b1)]).to.deep.equal(['direct-to-a', 'to-all', 'to-all']);
    expect(await ch.get('b', { noAck: true })).to.equal(false);
  });

  it('round-robins across consumers of one queue', async () => {
    const { ch } = await open(fx.tb.url, fx.conns);
    await ch.assertQueue('rr', { durable: false });
    const seen: Record<string, string[]> = { c1: [], c2: [] };
    for (const tag of ['c1', 'c2']) {
      await ch.consume(
        'rr',
        (m) => {
          if (m === null) return;
          seen[tag]!.push(text(m));
          ch.ack(m);
        },
        { consumerTag: tag },
      );
    }
    for (let i = 0; i < 6; i++) await ch.sendToQueue('rr', Buffer.from(String(i)));
    await waitFor(() => seen['c1']!.length + seen['c2']!.length === 6, 'six deliveries');
    expect(seen['c1']).to.deep.equal(['0', '2', '4']);
    expect(seen['c2']).to.deep.equal(['1', '3', '5']);
  });

  it('holds exactly N unacked messages in flight with prefetch N', async () => {
    const { ch } = await open(fx.tb.url, fx.conns);
    await ch.assertQueue('pf', { durable: false });
    for (let i = 0; i < 20; i++) await ch.sendToQueue('pf', Buffer.from(String(i)));
    await ch.prefetch(5);
    const got: Message[] = [];
    await ch.consume('pf', (m) => void (m !== null && got.push(m)));
    await waitFor(() => got.length === 5, 'five deliveries');
    await new Promise((r) => setTimeout(r, 100));
    expect(got.length).to.equal(5);
    ch.ack(got[4]!, true); // acks 0..4
    await waitFor(() => got.length === 10, 'five more deliveries');
    await new Promise((r) => setTimeout(r, 100));
    expect(got.map(text)).to.deep.equal(['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
    const { messageCount } = await ch.checkQueue('pf');
    expect(messageCount).to.equal(10);
  });

  it('nacks with requeue (back at the head, redelivered) and without (dropped)', async () => {
    const { ch } = await open(fx.tb.url, fx.conns);
    await ch.assertQueue('nq', { durable: false });
    for (const s of ['a', 'b', 'c']) await ch.sendToQueue('nq', Buffer.from(s));
    const a = (await ch.get('nq')) as Message;
    const b = (await ch.get('nq')) as Message;
    ch.nack(b, false, false); // drop b
    ch.reject(a, true); // requeue a
    const again = (await ch.get('nq')) as Message;
    expect(text(again)).to.equal('a');
    expect(again.fields.redelivered).to.equal(true);
    expect(again.fields.deliveryCount).to.equal(1);
    ch.ack(again);
    const c = (await ch.get('nq')) as Message;
    expect(text(c)).to.equal('c');
    ch.ack(c);
    expect(await ch.get('nq')).to.equal(false);
  });

  it('nack with multiple requeues every earlier delivery in order', async () => {
    const { ch } = await open(fx.tb.url, fx.conns);
    await ch.assertQueue('nm', { durable: false });
    for (const s of ['1', '2', '3', '4']) await ch.sendToQueue('nm', Buffer.from(s));
    const got: Message[] = [];
    for (let i = 0; i < 3; i++) got.push((await ch.get('nm')) as Message);
    ch.nack(got[2]!, true, true);
    const order: string[] = [];
    for (let m = await ch.get('nm', { noAck: true }); m; m = await ch.get('nm', { noAck: true })) order.push(text(m));
    expect(order).to.deep.equal(['1', '2', '3', '4']);
  });

  it('purges ready messages and deletes queues, reporting counts', async () => {
    const { ch } = await open(fx.tb.url, fx.conns);
    await ch.assertQueue('p', { durable: true });
    for (let i = 0; i < 3; i++) await ch.sendToQueue('p', Buffer.from('x'), { persistent: true });
    expect(await ch.purgeQueue('p')).to.deep.equal({ messageCount: 3 });
    await ch.sendToQueue('p', Buffer.from('y'));
    expect((await ch.assertQueue('p', { durable: true })).messageCount).to.equal(1);
    expect(await ch.deleteQueue('p')).to.deep.equal({ messageCount: 1 });
    const err = await ch.checkQueue('p').catch((e: unknown) => e);
    expect(err).to.include({ code: 404, name: 'NOT_FOUND' });
  });

  it('cancels a consumer: no further deliveries', async () => {
    const { ch } = await open(fx.tb.url, fx.conns);
    await ch.assertQueue('cq', { durable: false });
    const got: string[] = [];
    const { consumerTag } = await ch.consume('cq', (m) => void (m !== null && got.push(text(m))), { noAck: true });
    await ch.sendToQueue('cq', Buffer.from('before'));
    await waitFor(() => got.length === 1, 'first delivery');
    await ch.cancel(consumerTag);
    await ch.sendToQueue('cq', Buffer.from('after'));
    await new Promise((r) => setTimeout(r, 100));
    expect(got).to.deep.equal(['before']);
    expect((await ch.checkQueue('cq')).messageCount).to.equal(1);
  });

  it('returns an unroutable mandatory message before confirming it', async () => {
    const { ch } = await open(fx.tb.url, fx.conns);
    await ch.assertExchange('nowhere', 'direct', { durable: false });
    const events: string[] = [];
    ch.on('return', (m) => events.push(`return:${m.fields.replyCode}:${Buffer.from(m.content).toString()}`));
    await ch.publish('nowhere', 'k', Buffer.from('lost'), { mandatory: true }).then(() => events.push('confirm'));
    expect(events).to.deep.equal(['return:312:lost', 'confirm']);
  });

  it('reports message and consumer counts from assertQueue and checkQueue', async () => {
    const { ch } = await open(fx.tb.url, fx.conns);
    await ch.assertQueue('counts', { durable: false });
    await ch.sendToQueue('counts', Buffer.from('1'));
    await ch.sendToQueue('counts', Buffer.from('2'));
    await ch.consume('counts', () => undefined, { noAck: false });
    const r = await ch.checkQueue('counts');
    expect(r.queue).to.equal('counts');
    expect(r.consumerCount).to.equal(1);
    expect(r.messageCount).to.equal(0); // both delivered, unacked
  });
});
