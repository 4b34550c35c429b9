import { expect } from 'chai';
import { brokerInternals } from '@switchyard/broker/internal';
import { useBroker } from '../helpers/broker.js';
import { open, sleep, waitFor } from '../helpers/client.js';

// spec/semantics.md §Dead-lettering: dead-lettering runs flat (no recursion) and, while a
// resource alarm is raised, drops the copies no client paces (expired, maxlen, delivery_limit).
describe('dead-lettering bounds', function () {
  this.timeout(60_000);
  const fx = useBroker({ noSync: true, alarmCheckMs: 20 }, { start: 'test' });

  it('survives a max-length chain as long as the queues are deep (no recursion per hop)', async () => {
    const tb = await fx.start();
    const { ch } = await open(tb.url, fx.conns);
    // Each overflow sheds a different message into the other queue, so the x-death cycle rule
    // never stops the chain: it runs once per queued message. Nested calls overflowed the
    // stack at this depth and the publish failed with 541 INTERNAL_ERROR.
    const depth = 20_000;
    const dl = (to: string) => ({
      'x-max-length': depth,
      'x-dead-letter-exchange': '',
      'x-dead-letter-routing-key': to,
    });
    await ch.assertQueue('ping', { durable: false, arguments: dl('pong') });
    await ch.assertQueue('pong', { durable: false, arguments: dl('ping') });
    const fills: Promise<void>[] = [];
    for (let i = 0; i < depth; i++) {
      fills.push(ch.sendToQueue('ping', Buffer.from(`a${i}`)));
      fills.push(ch.sendToQueue('pong', Buffer.from(`b${i}`)));
    }
    await Promise.all(fills);
    await ch.sendToQueue('ping', Buffer.from('trigger'));
    const ping = await ch.checkQueue('ping');
    const pong = await ch.checkQueue('pong');
    expect([ping.messageCount, pong.messageCount]).to.deep.equal([depth, depth]);
    const { ch: other } = await open(tb.url, fx.conns); // and the broker serves on
    expect((await other.checkQueue('ping')).messageCount).to.equal(depth);
  });

  it('drops expired copies while a resource alarm is raised, counts them, and resumes after', async () => {
    const tb = await fx.start();
    const { ch } = await open(tb.url, fx.conns);
    await ch.assertExchange('dlx', 'fanout', { durable: false });
    await ch.assertQueue('dead', { durable: false });
    await ch.bindQueue('dead', 'dlx', '');
    await ch.assertQueue('ttl', {
      durable: false,
      arguments: { 'x-message-ttl': 50, 'x-dead-letter-exchange': 'dlx' },
    });
    const alarms = brokerInternals(tb.broker).alarms;
    await ch.sendToQueue('ttl', Buffer.from('under alarm'));
    // The alarm blocks the connection that published; this one never publishes.
    const { ch: watcher } = await open(tb.url, fx.conns);
    alarms.setMemoryHighWatermark(2); // 2 bytes: certainly exceeded
    await waitFor(() => alarms.state.memory, 'memory alarm');
    await sleep(300); // the message expires while the alarm is raised
    expect((await watcher.checkQueue('ttl')).messageCount).to.equal(0);
    expect((await watcher.checkQueue('dead')).messageCount).to.equal(0);
    const metrics = await (await fetch(`${tb.broker.managementUrl}/metrics`)).text();
    expect(metrics).to.contain('switchyard_messages_dead_letter_dropped_total 1');

    alarms.setMemoryHighWatermark(0.99);
    await waitFor(() => !alarms.state.memory, 'alarm cleared');
    await ch.sendToQueue('ttl', Buffer.from('after alarm'));
    await waitFor(
      () => brokerInternals(tb.broker).vhost('/')!.queue('dead')!.messageCount === 1,
      'dead-lettered',
      5_000,
    );
    const got = await ch.get('dead', { noAck: true });
    expect(got && Buffer.from(got.content).toString()).to.equal('after alarm');
  });

  it('still dead-letters rejected messages while an alarm is raised (consumers pace them)', async () => {
    const tb = await fx.start();
    const { ch } = await open(tb.url, fx.conns);
    await ch.assertQueue('dead', { durable: false });
    await ch.assertQueue('work', {
      durable: false,
      arguments: { 'x-dead-letter-exchange': '', 'x-dead-letter-routing-key': 'dead' },
    });
    await ch.sendToQueue('work', Buffer.from('rejected'));
    const { ch: consumer } = await open(tb.url, fx.conns); // never publishes: not blocked
    const alarms = brokerInternals(tb.broker).alarms;
    alarms.setMemoryHighWatermark(2);
    await waitFor(() => alarms.state.memory, 'memory alarm');
    const m = await consumer.get('work');
    expect(m).to.not.equal(false);
    if (m) consumer.reject(m, false);
    await waitFor(
      () => brokerInternals(tb.broker).vhost('/')!.queue('dead')!.messageCount === 1,
      'dead-lettered',
      5_000,
    );
    alarms.setMemoryHighWatermark(0.99);
  });
});
