import { expect } from 'chai';
import { connect } from '@switchyard/client';
import { killHard, spawnBroker, useBrokerProcess } from '../helpers/broker-process.js';
import { sleep, type Message } from '../helpers/client.js';

describe('delays across a crash (kill -9)', function () {
  this.timeout(30_000);
  const fx = useBrokerProcess('crash-delay');

  async function channel(url: string) {
    const conn = await connect(url);
    conn.on('error', () => undefined);
    fx.conns.push(conn);
    return conn.createChannel();
  }

  it('a delayed retry survives SIGKILL and is delivered after its delay, not before', async () => {
    fx.proc = await spawnBroker(fx.dir);
    const ch = await channel(fx.proc.url);
    await ch.assertQueue('retry', { durable: true });
    await ch.sendToQueue('retry', Buffer.from('job'), { persistent: true });
    const m = (await ch.get('retry')) as Message;
    const nackedAt = Date.now();
    ch.nack(m, false, true, { delayMs: 2500 });
    await ch.checkQueue('retry'); // the nack has been processed
    await sleep(200); // and its write committed
    await killHard(fx.proc);
    fx.conns.splice(0);

    fx.proc = await spawnBroker(fx.dir);
    const ch2 = await channel(fx.proc.url);
    const early = await ch2.get('retry');
    // Not before its delay: a get the broker answered before the message fell due finds
    // nothing (a slow restart on a busy machine may already be past it; then nothing to check).
    if (Date.now() - nackedAt < 2500) expect(early).to.equal(false);
    let got = early as Message | false;
    while (!got && Date.now() - nackedAt < 10_000) {
      await sleep(50);
      got = await ch2.get('retry', { noAck: true });
    }
    expect(got, 'never redelivered').to.not.equal(false);
    expect(Date.now() - nackedAt).to.be.at.least(2500);
    expect(Buffer.from((got as Message).content).toString()).to.equal('job');
    expect((got as Message).fields.redelivered).to.equal(true);
  });

  it('an x-delay message survives SIGKILL and is routed when due', async () => {
    fx.proc = await spawnBroker(fx.dir);
    const ch = await channel(fx.proc.url);
    await ch.assertQueue('due', { durable: true });
    const sentAt = Date.now();
    await ch.sendToQueue('due', Buffer.from('tick'), { persistent: true, headers: { 'x-delay': 2000 } });
    await killHard(fx.proc);
    fx.conns.splice(0);

    fx.proc = await spawnBroker(fx.dir);
    const ch2 = await channel(fx.proc.url);
    const { messageCount } = await ch2.checkQueue('due');
    // Not before it is due: a check answered before then finds the queue empty (a slow restart
    // on a busy machine may already be past it; then nothing to check).
    if (Date.now() - sentAt < 2000) expect(messageCount).to.equal(0);
    let got: Message | false = false;
    while (!got && Date.now() - sentAt < 10_000) {
      await sleep(50);
      got = await ch2.get('due', { noAck: true });
    }
    expect(got, 'never routed').to.not.equal(false);
    expect(Date.now() - sentAt).to.be.at.least(2000);
  });
});
