import { expect } from 'chai';
import type { Message } from 'amqplib';
import { nextEvent } from '../helpers/client.js';
import { uniq, useAmqpBroker } from '../helpers/amqp.js';

// confirm.select with basic.ack / basic.nack through amqplib's confirm channel (spec/amqp.md).
// tx.select/commit/rollback and channel.flow are not in amqplib's public API: the pika test
// (test/amqp/pika.test.ts) drives them. Runs against RabbitMQ with AMQP_TEST_URL.
describe('AMQP 0-9-1: publisher confirms', function () {
  this.timeout(30_000);
  const fx = useAmqpBroker();

  it('confirms every publish; waitForConfirms resolves once all are acked', async () => {
    const ch = await fx.confirmChannel();
    const q = (await ch.assertQueue('', { exclusive: true })).queue;
    const acked: number[] = [];
    const N = 2_000;
    for (let i = 0; i < N; i++)
      ch.sendToQueue(q, Buffer.from(String(i)), { persistent: true }, (err) => {
        if (err === null) acked.push(i);
      });
    await ch.waitForConfirms();
    expect(acked.length).to.equal(N);
    expect(acked.every((n, i) => n === i)).to.equal(true, 'confirms in publish order');
    expect((await ch.checkQueue(q)).messageCount).to.equal(N);
  });

  it('durable queue, persistent messages: confirmed after they are stored', async () => {
    const ch = await fx.confirmChannel();
    const q = uniq('durable');
    await ch.assertQueue(q, { durable: true });
    for (let i = 0; i < 100; i++) ch.sendToQueue(q, Buffer.from(String(i)), { persistent: true });
    await ch.waitForConfirms();
    expect((await ch.deleteQueue(q)).messageCount).to.equal(100);
  });

  it('nacks a publish the queue refuses (x-overflow reject-publish); waitForConfirms rejects', async () => {
    const ch = await fx.confirmChannel();
    const q = (
      await ch.assertQueue('', { exclusive: true, maxLength: 2, arguments: { 'x-overflow': 'reject-publish' } })
    ).queue;
    const outcome: string[] = [];
    // confirms may arrive in any order (AMQP 0-9-1 confirms): compare by publish
    for (let i = 0; i < 4; i++)
      ch.sendToQueue(q, Buffer.from(String(i)), {}, (err) => (outcome[i] = err ? 'nack' : 'ack'));
    let rejected = false;
    await ch.waitForConfirms().catch(() => (rejected = true));
    expect(rejected).to.equal(true);
    expect(outcome).to.deep.equal(['ack', 'ack', 'nack', 'nack']);
  });

  it('an unroutable mandatory publish is returned before it is confirmed (acked)', async () => {
    const ch = await fx.confirmChannel();
    const ex = uniq('ex');
    await ch.assertExchange(ex, 'direct', { autoDelete: false });
    const events: string[] = [];
    ch.on('return', () => events.push('return'));
    ch.publish(ex, 'nobody', Buffer.from('x'), { mandatory: true }, (err) => events.push(err ? 'nack' : 'ack'));
    await ch.waitForConfirms();
    expect(events).to.deep.equal(['return', 'ack']);
    await ch.deleteExchange(ex);
  });

  it('an unroutable publish without mandatory is acked and dropped', async () => {
    const ch = await fx.confirmChannel();
    let returned = false;
    ch.on('return', () => (returned = true));
    ch.publish('amq.direct', uniq('nobody'), Buffer.from('x'));
    await ch.waitForConfirms();
    expect(returned).to.equal(false);
  });

  it('a publish to a missing exchange closes the confirm channel with 404; pending confirms fail', async () => {
    const ch = await fx.confirmChannel();
    ch.on('error', () => undefined);
    const closed = nextEvent(ch, 'close');
    let failed: Error | null = null;
    ch.publish(uniq('missing'), 'k', Buffer.from('x'), {}, (err) => (failed = err as Error | null));
    await closed;
    expect(failed).to.not.equal(null);
  });

  it('delivers confirmed messages to a consumer on another connection with their properties', async () => {
    const ch = await fx.confirmChannel();
    const q = uniq('q');
    await ch.assertQueue(q, { durable: false, autoDelete: false });
    ch.sendToQueue(q, Buffer.from('hello'), { messageId: 'id-1', headers: { a: 1 } });
    await ch.waitForConfirms();
    const sub = await fx.channel();
    const m = await new Promise<Message>((resolve) => void sub.consume(q, (d) => d && resolve(d), { noAck: true }));
    expect(m.content.toString()).to.equal('hello');
    expect(m.properties.messageId).to.equal('id-1');
    expect(m.properties.headers).to.deep.equal({ a: 1 });
    await sub.deleteQueue(q);
  });
});
