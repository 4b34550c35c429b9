import { expect } from 'chai';
import { connect } from '@switchyard/client';
import { killHard, spawnBroker, useBrokerProcess } from '../helpers/broker-process.js';
import type { Channel, Connection } from '../helpers/client.js';

/**
 * Deleting or purging a queue deeper than one LMDB transaction can remove (MDB_TXN_FULL: 200,000
 * 1 KiB messages failed the commit, and with it the queue's definition removal, so the queue came
 * back after a restart): the removal is spread over several commits and finished after a crash
 * (spec/semantics.md §Deep backlogs).
 */
describe('deleting and purging a queue deeper than one transaction', function () {
  this.timeout(180_000);
  const fx = useBrokerProcess('large-drop');
  const N = 200_000;

  async function channel(url: string): Promise<Channel> {
    const conn: Connection = await connect(url);
    conn.on('error', () => undefined);
    fx.conns.push(conn);
    return conn.createChannel();
  }

  async function fill(ch: Channel, queue: string, n: number): Promise<void> {
    await ch.assertQueue(queue, { durable: true });
    const body = Buffer.alloc(1024, 7);
    const window: Promise<void>[] = [];
    for (let i = 0; i < n; i++) {
      window.push(ch.sendToQueue(queue, body, { persistent: true }));
      if (window.length === 5000) await Promise.all(window.splice(0));
    }
    await Promise.all(window);
  }

  it(`a deleted queue of ${N.toLocaleString('en')} 1 KiB messages stays deleted, and a purged one empty, across a restart and a kill -9`, async () => {
    fx.proc = await spawnBroker(fx.dir);
    let ch = await channel(fx.proc.url);
    await fill(ch, 'gone', N);
    await fill(ch, 'purged', N);
    await ch.assertQueue('kept', { durable: true });
    await ch.sendToQueue('kept', Buffer.from('x'), { persistent: true });
    expect((await ch.deleteQueue('gone')).messageCount).to.equal(N);
    expect((await ch.purgeQueue('purged')).messageCount).to.equal(N);
    // A publish after both, confirmed: the commits after the removal's first chunk succeed.
    await ch.sendToQueue('kept', Buffer.from('y'), { persistent: true });
    // kill -9 right away: the removal may be mid-way; it is finished at the next start.
    await killHard(fx.proc);
    fx.conns.splice(0);

    fx.proc = await spawnBroker(fx.dir);
    ch = await channel(fx.proc.url);
    expect((await ch.checkQueue('purged')).messageCount).to.equal(0);
    expect((await ch.checkQueue('kept')).messageCount).to.equal(2);
    const got = await ch.get('purged', { noAck: true });
    expect(got).to.equal(false);
    const err = await ch.checkQueue('gone').then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(String(err)).to.match(/404|NOT_FOUND/);
    // A queue declared again under the old name starts empty.
    ch = await channel(fx.proc.url);
    expect((await ch.assertQueue('gone', { durable: true })).messageCount).to.equal(0);
    expect(await ch.get('gone', { noAck: true })).to.equal(false);
  });
});
