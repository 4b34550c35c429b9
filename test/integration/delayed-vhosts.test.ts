import { expect } from 'chai';
import { connect } from '@switchyard/client';
import type { AccessStore } from '@switchyard/broker/internal';
import { brokerInternals } from '@switchyard/broker/internal';
import { startBroker, type TestBroker } from '../helpers/broker.js';
import { closeAll, text, waitFor, type Connection, type Message } from '../helpers/client.js';

describe('delayed messages per vhost (kept by the store)', function () {
  this.timeout(20_000);
  const conns: Connection[] = [];
  let tb: TestBroker | undefined;
  afterEach(async () => {
    await closeAll(conns.splice(0));
    await tb?.stop();
    tb = undefined;
  });

  async function channel(url: string, vhost: string) {
    const conn = await connect(url, { vhost });
    conns.push(conn);
    return conn.createChannel();
  }

  it("keeps each vhost's persistent x-delay messages apart across a restart, and deletes them with their vhost", async () => {
    tb = await startBroker({ noSync: true });
    for (const v of ['a', 'b']) {
      brokerInternals(tb.broker).access.addVhost(v);
      brokerInternals(tb.broker).access.setPermissions('guest', v, { configure: '.*', write: '.*', read: '.*' });
    }
    for (const v of ['/', 'a', 'b']) {
      const ch = await channel(tb.url, v);
      await ch.assertQueue('later', { durable: true });
      await ch.sendToQueue('later', Buffer.from(`for ${v}`), { persistent: true, headers: { 'x-delay': 1500 } });
    }
    await closeAll(conns.splice(0));
    const oldId = (brokerInternals(tb.broker).store as unknown as AccessStore)
      .loadAccess()
      .vhosts.find((v) => v.name === 'b')!.delayedQueueId!;
    expect(brokerInternals(tb.broker).store.recover(oldId)).to.have.length(1); // where the LMDB store keeps b's delayed messages
    brokerInternals(tb.broker).access.deleteVhost('b'); // its delayed message goes with it
    tb = await tb.restart();
    expect(brokerInternals(tb.broker).store.recover(oldId)).to.deep.equal([]);
    brokerInternals(tb.broker).access.addVhost('b');
    brokerInternals(tb.broker).access.setPermissions('guest', 'b', { configure: '.*', write: '.*', read: '.*' });
    const got = new Map<string, string[]>();
    for (const v of ['/', 'a', 'b']) {
      const ch = await channel(tb.url, v);
      await ch.assertQueue('later', { durable: true });
      got.set(v, []);
      await ch.consume('later', (m: Message | null) => m && got.get(v)!.push(text(m)), { noAck: true });
    }
    await waitFor(() => got.get('/')!.length === 1 && got.get('a')!.length === 1, 'the delayed messages of / and a');
    await new Promise((r) => setTimeout(r, 300));
    expect(Object.fromEntries(got)).to.deep.equal({ '/': ['for /'], a: ['for a'], b: [] });
  });
});
