import { expect } from 'chai';
import { connect } from '@switchyard/client';
import { pubSub } from '../../client-sdk/examples/pub-sub.js';
import { retryWithDlq } from '../../client-sdk/examples/retry-dlq.js';
import { rpc } from '../../client-sdk/examples/rpc.js';
import { workQueue } from '../../client-sdk/examples/work-queue.js';
import { useBroker } from '../helpers/broker.js';
import { sleep } from '../helpers/client.js';

/** True if the broker dead-letters a message rejected without requeue (x-dead-letter-exchange). */
async function brokerDeadLetters(url: string): Promise<boolean> {
  const conn = await connect(url);
  try {
    const ch = await conn.createChannel();
    await ch.assertExchange('probe.dlx', 'fanout', { durable: false });
    await ch.assertQueue('probe.dead', { durable: false });
    await ch.bindQueue('probe.dead', 'probe.dlx', '');
    await ch.assertQueue('probe.work', { durable: false, deadLetterExchange: 'probe.dlx' });
    await ch.sendToQueue('probe.work', Buffer.from('probe'));
    const m = await ch.get('probe.work');
    if (m === false) return false;
    m.nack({ requeue: false });
    for (let i = 0; i < 20; i++) {
      await sleep(10);
      if ((await ch.checkQueue('probe.dead')).messageCount > 0) return true;
    }
    return false;
  } finally {
    await conn.close();
  }
}

describe('SDK examples (client-sdk/examples) as tests', function () {
  this.timeout(20_000);
  const fx = useBroker({ noSync: true });

  it('work queue: every task done exactly once, shared among the workers', async () => {
    const { doneBy } = await workQueue(fx.tb.url, { tasks: 24, workers: 3 });
    const all = Object.values(doneBy)
      .flat()
      .sort((a, b) => a - b);
    expect(all).to.deep.equal(Array.from({ length: 24 }, (_, i) => i));
    expect(Object.values(doneBy).every((ids) => ids.length > 0)).to.equal(true, JSON.stringify(doneBy));
  });

  it('pub/sub: every subscriber receives every message, in order', async () => {
    const { received } = await pubSub(fx.tb.url, { subscribers: 3, messages: 5 });
    const expected = Array.from({ length: 5 }, (_, i) => `log line ${i}`);
    expect(Object.keys(received).length).to.equal(3);
    for (const lines of Object.values(received)) expect(lines).to.deep.equal(expected);
  });

  it('RPC: replies find their calls through replyTo and correlationId', async () => {
    const { results } = await rpc(fx.tb.url);
    expect(results).to.deep.equal({ 1: 1, 2: 1, 10: 55, 20: 6765, 30: 832040, 40: 102334155 });
  });

  it('retry with DLQ: transient failures succeed on retry, broken jobs end in the dead-letter queue', async function () {
    if (!(await brokerDeadLetters(fx.tb.url))) {
      console.log(
        '      NOTICE: skipped - the broker does not dead-letter rejected messages (x-dead-letter-exchange) yet',
      );
      this.skip();
    }
    const { succeeded, dead } = await retryWithDlq(fx.tb.url, { jobs: 10, maxAttempts: 3, retryDelayMs: 30 });
    expect(succeeded).to.deep.equal([
      { id: 1, attempt: 1 },
      { id: 2, attempt: 1 },
      { id: 3, attempt: 2 },
      { id: 4, attempt: 1 },
      { id: 6, attempt: 2 },
      { id: 7, attempt: 1 },
      { id: 8, attempt: 1 },
      { id: 9, attempt: 2 },
    ]);
    expect(dead).to.deep.equal([
      { id: 0, attempt: 3, reason: 'rejected', queue: 'example.jobs' },
      { id: 5, attempt: 3, reason: 'rejected', queue: 'example.jobs' },
    ]);
  });
});
