import { expect } from 'chai';
import { connect } from '@switchyard/client';
import { useBroker } from '../helpers/broker.js';
import { api, V } from '../helpers/http.js';

/** Issue 11 item 11: maxQueues holds on every path that creates queues, not only the client's. */
describe('maxQueues on the management API and definitions import', () => {
  const fx = useBroker({ noSync: true, maxQueues: 2 });

  it('refuses a third queue through the management API (409, naming the limit) but redeclares existing ones', async () => {
    expect((await api(fx.tb, 'PUT', `/api/queues/${V}/l1`, {})).status).to.equal(201);
    expect((await api(fx.tb, 'PUT', `/api/queues/${V}/l2`, {})).status).to.equal(201);
    const r = await api(fx.tb, 'PUT', `/api/queues/${V}/l3`, {});
    expect(r.status).to.equal(409);
    expect(r.body).to.include({ error: 'PRECONDITION_FAILED', code: 406 });
    expect(r.body.reason).to.match(/queue limit reached: vhost '\/' has 2 queues \(maxQueues\)/);
    expect((await api(fx.tb, 'PUT', `/api/queues/${V}/l2`, {})).status).to.equal(200);
  });

  it('refuses definitions that would exceed it, naming the entry', async () => {
    const doc = { queues: ['d1', 'd2', 'd3'].map((name) => ({ name, vhost: '/', durable: false })) };
    const r = await api(fx.tb, 'POST', '/api/definitions', doc);
    expect(r.status).to.equal(409);
    expect(r.body.reason).to.match(/queues\[2\] \(queue 'd3'\): queue limit reached/);
    const names = (await api<{ name: string }[]>(fx.tb, 'GET', '/api/queues')).body.map((q) => q.name);
    expect(names.sort()).to.deep.equal(['d1', 'd2']);
  });

  it('still refuses clients the same way (one check for all paths)', async () => {
    const conn = await connect(fx.tb.url);
    fx.conns.push(conn);
    const ch = await conn.createChannel();
    await ch.assertQueue('c1');
    await ch.assertQueue('c2');
    const err = await ch.assertQueue('c3').catch((e: unknown) => e);
    expect(err).to.include({ code: 406 });
  });
});
