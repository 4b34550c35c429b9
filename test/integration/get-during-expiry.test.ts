import { expect } from 'chai';
import { EXPIRE_PER_TURN } from '@switchyard/broker/internal';
import { startBroker, type TestBroker } from '../helpers/broker.js';
import { closeAll, open, text } from '../helpers/client.js';
import type { Connection } from '../helpers/client.js';
import { FakeClock } from '../helpers/fake-clock.js';
import { api, V } from '../helpers/http.js';

/*
 * A queue removes at most EXPIRE_PER_TURN expired messages per event-loop turn
 * (spec/semantics.md §Deep backlogs). basic.get must still find the live message behind a
 * mass of expired ones, as RabbitMQ does: it waits for the expiry turns instead of answering
 * get-empty while the queue holds a live message.
 */
describe('basic.get while a mass of expired messages is being removed', function () {
  this.timeout(120_000);
  const conns: Connection[] = [];
  let tb: TestBroker | undefined;
  afterEach(async () => {
    await closeAll(conns);
    await tb?.stop();
    tb = undefined;
  });

  it('answers with the live message behind them, not get-empty', async () => {
    const clock = new FakeClock();
    tb = await startBroker({ noSync: true, clock });
    const { ch } = await open(tb.url, conns);
    await ch.assertQueue('mass', { durable: false, arguments: { 'x-message-ttl': 1000 } });
    const expired = 50 * EXPIRE_PER_TURN;
    const sent: Promise<unknown>[] = [];
    for (let i = 0; i < expired; i++) sent.push(ch.sendToQueue('mass', Buffer.from('old')));
    await Promise.all(sent);
    clock.advance(600);
    await ch.sendToQueue('mass', Buffer.from('live'));
    // The expiry timer fires now: it removes one turn's worth; the rest follow turn by turn.
    clock.advance(500);
    const m = await ch.get('mass', { noAck: true });
    expect(m && text(m)).to.equal('live');
    expect((await ch.checkQueue('mass')).messageCount).to.equal(0);
  });

  for (const ackMode of ['requeue', 'ack'] as const) {
    it(`management get (ackMode ${ackMode}) answers with the live message behind them, not nothing`, async () => {
      const clock = new FakeClock();
      tb = await startBroker({ noSync: true, clock });
      const { ch } = await open(tb.url, conns);
      await ch.assertQueue('mass', { durable: false, arguments: { 'x-message-ttl': 1000 } });
      const expired = 20 * EXPIRE_PER_TURN;
      const sent: Promise<unknown>[] = [];
      for (let i = 0; i < expired; i++) sent.push(ch.sendToQueue('mass', Buffer.from('old')));
      await Promise.all(sent);
      clock.jump(600);
      await ch.sendToQueue('mass', Buffer.from('live'));
      // Expired, but their timer has not fired: the get itself meets all of them at the head,
      // removes one turn's worth and must wait for the rest to go.
      clock.jump(500);
      const got = await api(tb, 'POST', `/api/queues/${V}/mass/get`, { count: 1, ackMode });
      expect(got.status).to.equal(200);
      expect(got.body.map((m: { payload: string }) => m.payload)).to.deep.equal(['live']);
      expect((await ch.checkQueue('mass')).messageCount).to.equal(ackMode === 'ack' ? 0 : 1);
    });
  }
});
