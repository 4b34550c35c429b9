import { expect } from 'chai';
import type { FieldTable } from '@switchyard/client/protocol';
import { useBroker } from '../helpers/broker.js';
import { closeAll, open, sleep, text, type Channel, type Message } from '../helpers/client.js';

async function getAll(ch: Channel, queue: string): Promise<Message[]> {
  const out: Message[] = [];
  for (let m = await ch.get(queue, { noAck: true }); m; m = await ch.get(queue, { noAck: true })) out.push(m);
  return out;
}

describe('reliability policies', () => {
  const fx = useBroker({ noSync: true });

  /** A DLX (fanout) with one dead-letter queue bound. */
  async function withDlq(ch: Channel, dlq = 'dlq'): Promise<void> {
    await ch.assertExchange('dlx', 'fanout', { durable: true });
    await ch.assertQueue(dlq, { durable: true });
    await ch.bindQueue(dlq, 'dlx', '');
  }

  it('expires messages by x-message-ttl into the DLX with an x-death header exactly as RabbitMQ writes it', async () => {
    const { ch } = await open(fx.tb.url, fx.conns);
    await withDlq(ch);
    await ch.assertQueue('ttl', {
      durable: true,
      arguments: { 'x-message-ttl': 100, 'x-dead-letter-exchange': 'dlx' },
    });
    const before = Math.floor(Date.now() / 1000);
    await ch.sendToQueue('ttl', Buffer.from('old'), { persistent: true, headers: { app: 'x' } });
    await sleep(250);
    expect(await ch.get('ttl')).to.equal(false);
    const [m] = await getAll(ch, 'dlq');
    expect(text(m!)).to.equal('old');
    expect(m!.fields).to.include({ exchange: 'dlx', routingKey: 'ttl' });
    const h = m!.properties.headers;
    const deaths = h['x-death'] as FieldTable[];
    expect(deaths).to.have.length(1);
    expect(deaths[0]).to.deep.include({
      count: 1,
      reason: 'expired',
      queue: 'ttl',
      exchange: '',
      'routing-keys': ['ttl'],
    });
    expect(deaths[0]!['time']).to.be.within(before, before + 5);
    expect(h).to.include({
      'x-first-death-reason': 'expired',
      'x-first-death-queue': 'ttl',
      'x-first-death-exchange': '',
      app: 'x',
    });
  });

  it('honours per-message expiration (a string of ms) and refuses a malformed one with 406', async () => {
    const { ch, conn } = await open(fx.tb.url, fx.conns);
    await ch.assertQueue('pm', { durable: false });
    await ch.sendToQueue('pm', Buffer.from('short'), { expiration: '50' });
    await ch.sendToQueue('pm', Buffer.from('forever'));
    await sleep(120);
    expect((await getAll(ch, 'pm')).map(text)).to.deep.equal(['forever']);
    const err = await ch.sendToQueue('pm', Buffer.from('x'), { expiration: 'soon' }).catch((e: unknown) => e);
    expect(err).to.include({ code: 406 });
    const ch2 = await conn.createChannel();
    expect((await ch2.checkQueue('pm')).messageCount).to.equal(0);
  });

  it('deletes a queue unused for x-expires', async () => {
    const { ch } = await open(fx.tb.url, fx.conns);
    await ch.assertQueue('ephemeral', { durable: true, arguments: { 'x-expires': 150 } });
    await sleep(400);
    const err = await ch.checkQueue('ephemeral').catch((e: unknown) => e);
    expect(err).to.include({ code: 404 });
  });

  it('x-max-length drop-head dead-letters the oldest with reason maxlen', async () => {
    const { ch } = await open(fx.tb.url, fx.conns);
    await withDlq(ch);
    await ch.assertQueue('short', { durable: true, arguments: { 'x-max-length': 2, 'x-dead-letter-exchange': 'dlx' } });
    for (const b of ['1', '2', '3', '4']) await ch.sendToQueue('short', Buffer.from(b), { persistent: true });
    expect((await getAll(ch, 'short')).map(text)).to.deep.equal(['3', '4']);
    const dead = await getAll(ch, 'dlq');
    expect(dead.map(text)).to.deep.equal(['1', '2']);
    expect((dead[0]!.properties.headers['x-death'] as FieldTable[])[0]).to.include({ reason: 'maxlen' });
  });

  it('x-overflow reject-publish nacks the publisher; reject-publish-dlx also dead-letters', async () => {
    const { ch, conn } = await open(fx.tb.url, fx.conns);
    await withDlq(ch);
    await ch.assertQueue('full', { durable: true, arguments: { 'x-max-length': 1, 'x-overflow': 'reject-publish' } });
    await ch.sendToQueue('full', Buffer.from('in'));
    const err = await ch.sendToQueue('full', Buffer.from('out')).catch((e: unknown) => e);
    expect(err).to.include({ code: 406 });
    expect((err as Error).message).to.match(/queue 'full' is full/);
    // the channel stays open after a nack
    await ch.assertQueue('full2', {
      durable: true,
      arguments: { 'x-max-length': 1, 'x-overflow': 'reject-publish-dlx', 'x-dead-letter-exchange': 'dlx' },
    });
    await ch.sendToQueue('full2', Buffer.from('in'));
    const err2 = await ch.sendToQueue('full2', Buffer.from('refused')).catch((e: unknown) => e);
    expect(err2).to.include({ code: 406 });
    const ch2 = await conn.createChannel();
    expect((await getAll(ch2, 'full')).map(text)).to.deep.equal(['in']);
    expect((await getAll(ch2, 'dlq')).map(text)).to.deep.equal(['refused']);
  });

  it('dead-letters rejected messages with x-dead-letter-routing-key', async () => {
    const { ch } = await open(fx.tb.url, fx.conns);
    await ch.assertExchange('dl-direct', 'direct', { durable: true });
    await ch.assertQueue('parking', { durable: true });
    await ch.bindQueue('parking', 'dl-direct', 'parked');
    await ch.assertQueue('work', {
      durable: true,
      arguments: { 'x-dead-letter-exchange': 'dl-direct', 'x-dead-letter-routing-key': 'parked' },
    });
    await ch.sendToQueue('work', Buffer.from('bad'), { persistent: true });
    const m = (await ch.get('work')) as Message;
    ch.reject(m, false);
    const [dead] = await (async () => {
      for (let i = 0; i < 50; i++) {
        const got = await getAll(ch, 'parking');
        if (got.length > 0) return got;
        await sleep(10);
      }
      return [];
    })();
    expect(text(dead!)).to.equal('bad');
    expect(dead!.fields.routingKey).to.equal('parked');
    expect((dead!.properties.headers['x-death'] as FieldTable[])[0]).to.include({ reason: 'rejected', queue: 'work' });
  });

  it('a message rejected 3 times with x-delivery-limit 2 ends in the DLQ with reason delivery_limit', async () => {
    const { ch } = await open(fx.tb.url, fx.conns);
    await withDlq(ch);
    await ch.assertQueue('limited', {
      durable: true,
      arguments: { 'x-delivery-limit': 2, 'x-dead-letter-exchange': 'dlx' },
    });
    await ch.sendToQueue('limited', Buffer.from('poison'), { persistent: true });
    const counts: number[] = [];
    for (let i = 0; i < 3; i++) {
      const m = (await ch.get('limited')) as Message;
      counts.push(m.fields.deliveryCount);
      ch.nack(m, false, true);
    }
    expect(counts).to.deep.equal([0, 1, 2]);
    expect(await ch.get('limited')).to.equal(false);
    const [dead] = await getAll(ch, 'dlq');
    expect(text(dead!)).to.equal('poison');
    const death = (dead!.properties.headers['x-death'] as FieldTable[])[0]!;
    expect(death).to.include({ reason: 'delivery_limit', queue: 'limited', count: 1 });
  });

  it('drops a dead-letter cycle instead of looping (expired back into itself)', async () => {
    const { ch } = await open(fx.tb.url, fx.conns);
    await ch.assertExchange('loop', 'fanout', { durable: false });
    await ch.assertQueue('self', {
      durable: false,
      arguments: { 'x-message-ttl': 30, 'x-dead-letter-exchange': 'loop' },
    });
    await ch.bindQueue('self', 'loop', '');
    await ch.sendToQueue('self', Buffer.from('round'));
    await sleep(200);
    expect((await ch.checkQueue('self')).messageCount).to.equal(0);
  });

  it('delays a nack with delayMs, then redelivers at the head', async () => {
    const { ch } = await open(fx.tb.url, fx.conns);
    await ch.assertQueue('retry', { durable: true });
    await ch.sendToQueue('retry', Buffer.from('a'), { persistent: true });
    await ch.sendToQueue('retry', Buffer.from('b'), { persistent: true });
    const a = (await ch.get('retry')) as Message;
    ch.nack(a, false, true, { delayMs: 300 });
    await sleep(50);
    const b = (await ch.get('retry', { noAck: true })) as Message;
    expect(text(b)).to.equal('b');
    expect(await ch.get('retry')).to.equal(false);
    await sleep(400);
    const again = (await ch.get('retry', { noAck: true })) as Message;
    expect(text(again)).to.equal('a');
    expect(again.fields).to.include({ redelivered: true, deliveryCount: 1 });
  });

  it('applies an x-retry-delays policy to nacked messages', async () => {
    const { ch } = await open(fx.tb.url, fx.conns);
    await ch.assertQueue('policy', { durable: false, arguments: { 'x-retry-delays': [200] } });
    await ch.sendToQueue('policy', Buffer.from('r'));
    const m = (await ch.get('policy')) as Message;
    ch.nack(m, false, true);
    await sleep(60);
    expect(await ch.get('policy')).to.equal(false);
    await sleep(300);
    expect(text(await ch.get('policy', { noAck: true }))).to.equal('r');
  });

  it('routes x-delay messages when due, through any exchange, and keeps them across a restart', async () => {
    const { ch } = await open(fx.tb.url, fx.conns);
    await ch.assertExchange('events', 'topic', { durable: true });
    await ch.assertQueue('later', { durable: true });
    await ch.bindQueue('later', 'events', 'order.*');
    await ch.publish('events', 'order.created', Buffer.from('soon'), { persistent: true, headers: { 'x-delay': 300 } });
    const delayedAt = Date.now();
    await ch.publish('events', 'order.created', Buffer.from('after-restart'), {
      persistent: true,
      headers: { 'x-delay': 3000 },
    });
    expect((await ch.checkQueue('later')).messageCount).to.equal(0);
    await sleep(500);
    expect((await getAll(ch, 'later')).map(text)).to.deep.equal(['soon']);
    await closeAll(fx.conns);
    fx.tb = await fx.tb.restart();
    const { ch: ch2 } = await open(fx.tb.url, fx.conns);
    // Only meaningful while the message is not due yet: a slow restart on a loaded machine
    // may take longer than the delay.
    const countBeforeDue = (await ch2.checkQueue('later')).messageCount;
    if (Date.now() - delayedAt < 2_900) expect(countBeforeDue).to.equal(0);
    await sleep(Math.max(0, delayedAt + 3_500 - Date.now()));
    const [m] = await getAll(ch2, 'later');
    expect(text(m!)).to.equal('after-restart');
    expect(m!.fields).to.include({ exchange: 'events', routingKey: 'order.created' });
  });

  it('deduplicates by messageId within x-deduplication-window on a queue, across a restart', async () => {
    const { ch } = await open(fx.tb.url, fx.conns);
    await ch.assertQueue('dedup', { durable: true, arguments: { 'x-deduplication-window': 60_000 } });
    await ch.sendToQueue('dedup', Buffer.from('1'), { persistent: true, messageId: 'order-1' });
    await ch.sendToQueue('dedup', Buffer.from('1 again'), { persistent: true, messageId: 'order-1' });
    await ch.sendToQueue('dedup', Buffer.from('2'), { persistent: true, messageId: 'order-2' });
    await ch.sendToQueue('dedup', Buffer.from('no id'), { persistent: true });
    await ch.sendToQueue('dedup', Buffer.from('no id'), { persistent: true });
    await closeAll(fx.conns);
    fx.tb = await fx.tb.restart();
    const { ch: ch2 } = await open(fx.tb.url, fx.conns);
    await ch2.sendToQueue('dedup', Buffer.from('1 after restart'), { persistent: true, messageId: 'order-1' });
    expect((await getAll(ch2, 'dedup')).map(text)).to.deep.equal(['1', '2', 'no id', 'no id']);
  });

  it('deduplicates at an exchange: the duplicate is confirmed and routed nowhere', async () => {
    const { ch } = await open(fx.tb.url, fx.conns);
    await ch.assertExchange('once', 'fanout', { durable: true, arguments: { 'x-deduplication-window': 60_000 } });
    await ch.assertQueue('o1', { durable: true });
    await ch.assertQueue('o2', { durable: true });
    await ch.bindQueue('o1', 'once', '');
    await ch.bindQueue('o2', 'once', '');
    await ch.publish('once', '', Buffer.from('a'), { messageId: 'm' });
    await ch.publish('once', '', Buffer.from('a'), { messageId: 'm' });
    expect((await ch.checkQueue('o1')).messageCount).to.equal(1);
    expect((await ch.checkQueue('o2')).messageCount).to.equal(1);
  });

  it('delivers higher priorities first in an x-max-priority queue', async () => {
    const { ch } = await open(fx.tb.url, fx.conns);
    await ch.assertQueue('prio', { durable: true, arguments: { 'x-max-priority': 10 } });
    for (const [b, p] of [
      ['low', 1],
      ['none', 0],
      ['high', 9],
      ['mid', 5],
      ['high2', 9],
    ] as const) {
      await ch.sendToQueue('prio', Buffer.from(b), { priority: p, persistent: true });
    }
    expect((await getAll(ch, 'prio')).map(text)).to.deep.equal(['high', 'high2', 'mid', 'low', 'none']);
  });
});
