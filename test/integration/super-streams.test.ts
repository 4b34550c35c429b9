import { expect } from 'chai';
import { useBroker } from '../helpers/broker.js';
import { open, sleep, text, waitFor, type Message } from '../helpers/client.js';
import { api, V } from '../helpers/http.js';
import { partitionOf } from '../../broker/src/streams/partition-hash.js';

describe('super streams', () => {
  const fx = useBroker({ noSync: true });

  it('are created over the management API with RabbitMQ names and route by key hash or binding key', async () => {
    const res = await api(fx.tb, 'PUT', `/api/super-streams/${V}/orders`, { partitions: 3 });
    expect(res.status).to.equal(201);
    expect(res.body).to.deep.equal({ exchange: 'orders', partitions: ['orders-0', 'orders-1', 'orders-2'] });
    const x = await api(fx.tb, 'GET', `/api/exchanges/${V}/orders`);
    expect(x.body).to.deep.include({ type: 'direct', arguments: { 'x-super-stream': true } });

    const { ch } = await open(fx.tb.url, fx.conns);
    const keys = Array.from({ length: 60 }, (_, i) => `customer-${i}`);
    await Promise.all(keys.map((k) => ch.publish('orders', k, Buffer.from(k))));
    await ch.publish('orders', '2', Buffer.from('explicit')); // an exact binding key picks its partition
    fx.tb = await fx.tb.restart(); // the exchange's routing comes back from its arguments
    fx.conns.splice(0);
    const { ch: again } = await open(fx.tb.url, fx.conns);
    await again.publish('orders', 'customer-0', Buffer.from('customer-0'));

    for (let p = 0; p < 3; p++) {
      const expected = keys.filter((k) => partitionOf(k, 3) === p);
      if (partitionOf('customer-0', 3) === p) expected.push('customer-0');
      if (p === 2) expected.push('explicit');
      expected.sort();
      const { ch: r } = await open(fx.tb.url, fx.conns);
      await r.prefetch(100);
      const got: string[] = [];
      await r.consume(`orders-${p}`, (m) => void (m !== null && got.push(text(m)) && r.ack(m)), {
        arguments: { 'x-stream-offset': 'first' },
      });
      await waitFor(() => got.length >= expected.length, `partition ${p}`);
      await sleep(50);
      expect(got.sort(), `partition ${p}`).to.deep.equal(expected);
    }
  });

  it('has a single active consumer per partition and reader name; the next takes over', async () => {
    await api(fx.tb, 'PUT', `/api/super-streams/${V}/events`, { bindingKeys: ['eu', 'us'] });
    const { ch } = await open(fx.tb.url, fx.conns);
    for (let i = 0; i < 10; i++) {
      await ch.publish('events', 'eu', Buffer.from(`eu-${i}`));
      await ch.publish('events', 'us', Buffer.from(`us-${i}`));
    }
    // Two instances of one application, each consuming every partition under reader name 'app'.
    const instances = [];
    for (const who of ['one', 'two']) {
      const o = await open(fx.tb.url, fx.conns);
      await o.ch.prefetch(50);
      const got: Message[] = [];
      const active = new Set<string>();
      o.ch.on('consumer-active', (e: { consumerTag: string; active: boolean }) => {
        if (e.active) active.add(e.consumerTag);
      });
      for (const part of ['events-eu', 'events-us'])
        await o.ch.consume(part, (m) => void (m !== null && got.push(m) && o.ch.ack(m)), {
          consumerTag: `${who}-${part}`,
          arguments: { 'x-stream-offset': 'first', 'x-stream-reader': 'app' },
        });
      instances.push({ ...o, who, got, active });
    }
    const [one, two] = instances as [(typeof instances)[0], (typeof instances)[0]];
    await waitFor(() => one.got.length === 20, 'the first instance reads both partitions');
    await sleep(100);
    expect(two.got).to.deep.equal([]);
    await one.conn.close();
    // The second takes over each partition after the stored offset (offset 9 acked): nothing
    // left to read; new messages reach it.
    await waitFor(() => two.active.size === 2, 'two becomes active on both partitions');
    await ch.publish('events', 'eu', Buffer.from('eu-10'));
    await ch.publish('events', 'us', Buffer.from('us-10'));
    await waitFor(() => two.got.length === 2, 'the new messages reach the new active consumer');
    expect(two.got.map(text).sort()).to.deep.equal(['eu-10', 'us-10']);
  });
});
