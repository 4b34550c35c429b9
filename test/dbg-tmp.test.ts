import { startBroker } from './helpers/broker.js';
import { open, closeAll, type Connection } from './helpers/client.js';
describe('dbg', () => {
  it('x', async () => {
    let tb = await startBroker({ noSync: true });
    const conns: Connection[] = [];
    const { ch } = await open(tb.url, conns);
    await ch.assertExchange('p.headers', 'headers', { durable: true });
    await ch.assertQueue('pq.h.all', { durable: true });
    await ch.bindQueue('pq.h.all', 'p.headers', '', { format: 'pdf', version: 2, urgent: null, 'x-note': 'ignored' });
    await ch.bindQueue('pq.h.all', 'p.headers', '', { });
    await ch.bindQueue('pq.h.all', 'p.headers', '', { 'x-match': 'any', region: 'eu', tier: 1 });
    const vh0 = tb.broker.allVhosts().next().value!;
    for (const b of vh0.allBindings()) console.log('BEFORE', b);
    await closeAll(conns);
    tb = await tb.restart();
    console.log('DEFS', JSON.stringify((tb.broker as any).store.loadDefinitions().bindings));
    const vh = tb.broker.allVhosts().next().value!;
    for (const b of vh.allBindings()) console.log('AFTER', b, Object.getPrototypeOf(b.arguments), Object.keys(b.arguments));
    await tb.stop();
  });
});
