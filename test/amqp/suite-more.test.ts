import { expect } from 'chai';
import type { Channel, ConsumeMessage } from 'amqplib';
import { nextEvent, sleep, waitFor } from '../helpers/client.js';
import { replyOf, tuned, uniq, useAmqpBroker } from '../helpers/amqp.js';

// More of RabbitMQ's AMQP 0-9-1 behaviour through amqplib (spec/amqp.md): heartbeats kept
// up, internal exchanges, exchange delete if-unused, the default exchange, x-expires,
// consumer priorities. Runs against RabbitMQ with AMQP_TEST_URL (test/helpers/amqp.ts).
describe('AMQP 0-9-1: heartbeats, internal and default exchanges, x-expires, consumer priorities', function () {
  this.timeout(20_000);
  const fx = useAmqpBroker();

  async function channel(): Promise<Channel> {
    const ch = await fx.channel();
    ch.on('error', () => undefined);
    return ch;
  }

  it('an idle connection with 2 s heartbeats stays open (both sides send them)', async () => {
    const conn = await fx.connect({ heartbeat: 2 });
    expect(tuned(conn).heartbeat).to.equal(2);
    let closed = false;
    conn.on('close', () => (closed = true));
    // longer than two missed intervals on either side (each closes the connection after them)
    await sleep(5_500);
    expect(closed).to.equal(false);
    const ch = await conn.createChannel();
    await ch.checkExchange('amq.fanout');
  });

  it('publishing to an internal exchange: 403 ACCESS_REFUSED - cannot publish to internal exchange', async () => {
    const ex = uniq('internal');
    const setup = await channel();
    await setup.assertExchange(ex, 'fanout', { internal: true, autoDelete: false });
    const ch = await fx.channel();
    const closed = nextEvent<Error>(ch, 'error');
    ch.publish(ex, '', Buffer.from('x'));
    expect((await closed).message).to.contain(
      `403 (ACCESS-REFUSED) with message "ACCESS_REFUSED - cannot publish to internal exchange '${ex}' in vhost '/'"`,
    );
    await setup.deleteExchange(ex);
  });

  it('an internal exchange still routes what an exchange-to-exchange binding brings it', async () => {
    const ch = await channel();
    const [front, inner] = [uniq('front'), uniq('inner')];
    await ch.assertExchange(front, 'fanout', { autoDelete: false });
    await ch.assertExchange(inner, 'fanout', { internal: true, autoDelete: false });
    const q = (await ch.assertQueue('', { exclusive: true })).queue;
    await ch.bindQueue(q, inner, '');
    await ch.bindExchange(inner, front, '');
    ch.publish(front, '', Buffer.from('via-front'));
    await ch.checkQueue(q);
    const m = await ch.get(q, { noAck: true });
    expect(m && m.content.toString()).to.equal('via-front');
    await ch.deleteExchange(front);
    await ch.deleteExchange(inner);
  });

  it('delete with ifUnused refuses an exchange with bindings: 406 PRECONDITION_FAILED - exchange ... in use', async () => {
    const ch = await channel();
    const ex = uniq('used');
    await ch.assertExchange(ex, 'direct', { autoDelete: false });
    const q = (await ch.assertQueue('', { exclusive: true })).queue;
    await ch.bindQueue(q, ex, 'k');
    const err = await replyOf(ch.deleteExchange(ex, { ifUnused: true }));
    expect(err.code).to.equal(406);
    expect(err.message).to.contain(`PRECONDITION_FAILED - exchange '${ex}' in vhost '/' in use`);
    const ch2 = await channel();
    await ch2.deleteExchange(ex);
  });

  it('the default exchange: binding to it or deleting it is 403 ACCESS_REFUSED', async () => {
    const ch = await channel();
    const q = (await ch.assertQueue('', { exclusive: true })).queue;
    const bind = await replyOf(ch.bindQueue(q, '', 'k'));
    expect(bind.code).to.equal(403);
    expect(bind.message).to.contain('ACCESS_REFUSED - operation not permitted on the default exchange');
    const ch2 = await channel();
    const del = await replyOf(ch2.deleteExchange('amq.direct'));
    expect(del.code).to.equal(403);
    expect(del.message).to.contain(
      "ACCESS_REFUSED - deletion of system exchange 'amq.direct' in vhost '/' not allowed",
    );
  });

  it('x-expires deletes a queue that has been unused for that long', async () => {
    const ch = await channel();
    const q = uniq('expires');
    await ch.assertQueue(q, { expires: 200, durable: false });
    await sleep(600);
    const err = await replyOf(ch.checkQueue(q));
    expect(err.code).to.equal(404);
  });

  it('a consumer with a higher x-priority gets the messages while it has capacity', async () => {
    const ch = await channel();
    const q = (await ch.assertQueue('', { exclusive: true })).queue;
    await ch.prefetch(5);
    const low: ConsumeMessage[] = [];
    const high: ConsumeMessage[] = [];
    await ch.consume(q, (m) => void (m && low.push(m)), { priority: 1 });
    await ch.consume(q, (m) => void (m && high.push(m)), { priority: 10 });
    for (let i = 0; i < 8; i++) ch.sendToQueue(q, Buffer.from(String(i)));
    await waitFor(() => low.length + high.length === 8, 'eight deliveries');
    expect(high.length).to.equal(5); // full prefetch first
    expect(low.length).to.equal(3);
  });

  it('basic.get on a missing queue: 404 NOT_FOUND with the text', async () => {
    const ch = await channel();
    const q = uniq('missing');
    const err = await replyOf(ch.get(q));
    expect(err.code).to.equal(404);
    expect(err.message).to.contain(`NOT_FOUND - no queue '${q}' in vhost '/'`);
  });
});
