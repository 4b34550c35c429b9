import { expect } from 'chai';
import { MemoryDisk, MemoryStore } from '@switchyard/broker/internal';
import { startBroker, type TestBroker } from '../helpers/broker.js';
import { closeAll, open, text, waitFor, type Connection, type Message } from '../helpers/client.js';

describe('a broker on the in-memory store (Broker.start({ store }))', function () {
  this.timeout(20_000);
  const conns: Connection[] = [];
  let tb: TestBroker | undefined;
  afterEach(async () => {
    await closeAll(conns.splice(0));
    await tb?.stop();
    tb = undefined;
  });

  it('confirms, delivers, redelivers and keeps durable queues, messages and delayed messages across a restart on the same MemoryDisk', async () => {
    const disk = new MemoryDisk();
    tb = await startBroker({ store: MemoryStore.open(disk) });
    let { ch } = await open(tb.url, conns);
    await ch.assertQueue('q', { durable: true });
    await ch.assertExchange('x', 'direct', { durable: true });
    await ch.bindQueue('q', 'x', 'k');
    await ch.sendToQueue('q', Buffer.from('kept'), { persistent: true });
    await ch.sendToQueue('q', Buffer.from('acked'), { persistent: true });
    await ch.publish('x', 'k', Buffer.from('later'), { persistent: true, headers: { 'x-delay': 1500 } });
    const first = (await ch.get('q')) as Message;
    expect(text(first)).to.equal('kept');
    ch.nack(first, false, true); // back to the queue, delivered once
    const second = (await ch.get('q')) as Message;
    expect([text(second), second.fields.redelivered]).to.deep.equal(['kept', true]);
    ch.nack(second, false, true);
    const third = await ch.get('q'); // left unacked: requeued when the connection closes
    expect(text(third)).to.equal('kept');
    const next = (await ch.get('q')) as Message;
    expect(text(next)).to.equal('acked');
    ch.ack(next);
    await ch.checkQueue('q');
    await closeAll(conns.splice(0));
    await tb.broker.close();

    tb = await startBroker({ store: MemoryStore.open(disk) });
    ({ ch } = await open(tb.url, conns));
    const got: Message[] = [];
    await ch.consume('q', (m) => m && got.push(m), { noAck: true });
    await waitFor(() => got.length === 2, 'the kept message and the delayed one');
    expect(got.map((m) => [text(m), m.fields.redelivered])).to.deep.equal([
      ['kept', true],
      ['later', false],
    ]);
  });
});
