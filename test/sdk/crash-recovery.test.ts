import { expect } from 'chai';
import { connect, type ConsumeMessage } from '@switchyard/client';
import { killHard, spawnBroker, useBrokerProcess } from '../helpers/broker-process.js';
import { nextEvent, sleep, waitFor, type Connection } from '../helpers/client.js';

const RECONNECT = { reconnect: { initialDelayMs: 50, maxDelayMs: 400 } };

/**
 * The recovery test: a publisher and a consumer run against a broker process that
 * is killed with SIGKILL and restarted on the same port; the SDK recovers on its own.
 * Every confirmed message must arrive; duplicates are counted and each must be one the
 * at-least-once guarantee allows: a publish that was unconfirmed at the kill (re-sent by
 * the SDK), or a message that had been delivered before the kill (redelivered because its
 * ack was not durable yet).
 */
describe('SDK recovery from a broker crash (SIGKILL)', function () {
  this.timeout(90_000);
  const fx = useBrokerProcess('sdk-crash');

  async function client(url: string): Promise<Connection> {
    const conn = await connect(url, RECONNECT);
    fx.conns.push(conn);
    return conn;
  }

  it('publisher and consumer recover on their own; nothing confirmed is lost; duplicates are only the allowed ones', async () => {
    fx.proc = await spawnBroker(fx.dir);
    const port = new URL(fx.proc.url).port;
    const N = 4000;
    const KILL_AFTER = 1500;

    // Consumer: its own connection, prefetch 50, acks asynchronously (so some deliveries are
    // always unacked when the broker dies).
    const consumerConn = await client(fx.proc.url);
    const cch = await consumerConn.createChannel();
    await cch.assertQueue('sdk-crash', { durable: true });
    await cch.prefetch(50);
    const receipts = new Map<number, number>();
    const receivedBeforeKill = new Set<number>();
    let redeliveredReceipts = 0;
    let killed = false;
    await cch.consume('sdk-crash', (m: ConsumeMessage<Buffer> | null) => {
      const id = Number(m!.content.toString());
      receipts.set(id, (receipts.get(id) ?? 0) + 1);
      if (!killed) receivedBeforeKill.add(id);
      if (m!.fields.redelivered) redeliveredReceipts++;
      setImmediate(() => m!.ack());
    });

    // Publisher: its own connection, persistent messages, 200 unconfirmed at most.
    const publisherConn = await client(fx.proc.url);
    const pch = await publisherConn.createChannel({ maxUnconfirmed: 200 });
    const confirmed = new Set<number>();
    const failures: unknown[] = [];
    let published = 0;
    const publishing = (async () => {
      const window: Promise<void>[] = [];
      for (let id = 0; id < N; id++) {
        published++;
        window.push(
          pch.sendToQueue('sdk-crash', Buffer.from(String(id)), { persistent: true }).then(
            () => void confirmed.add(id),
            (err: unknown) => void failures.push(err),
          ),
        );
        if (window.length >= 400) await Promise.all(window.splice(0, 200));
      }
      await Promise.all(window);
    })();

    await waitFor(() => confirmed.size >= KILL_AFTER, `${KILL_AFTER} confirms`, 30_000);
    const consumerBack = nextEvent(consumerConn, 'reconnect', 30_000);
    const publisherBack = nextEvent(publisherConn, 'reconnect', 30_000);
    await killHard(fx.proc);
    killed = true;
    fx.proc = undefined;
    const unconfirmedAtKill = new Set<number>();
    for (let id = 0; id < published; id++) if (!confirmed.has(id)) unconfirmedAtKill.add(id);
    const killedAt = Date.now();

    await sleep(300); // the broker stays down a moment; both clients keep retrying
    fx.proc = await spawnBroker(fx.dir, ['--port', port]);
    expect(fx.proc.url).to.equal(`ws://127.0.0.1:${port}`);
    const restartedAt = Date.now();
    await Promise.all([consumerBack, publisherBack]);
    const recoveredAt = Date.now();

    await publishing;
    expect(failures).to.deep.equal([]);
    expect(confirmed.size).to.equal(N);
    await waitFor(() => receipts.size === N, `all ${N} ids received (got ${receipts.size})`, 30_000);
    await sleep(300); // let trailing redeliveries arrive before counting

    const lost = [...confirmed].filter((id) => !receipts.has(id));
    expect(lost).to.deep.equal([], 'confirmed messages lost');
    let duplicates = 0;
    let fromResend = 0;
    let fromRedelivery = 0;
    const unexplained: number[] = [];
    for (const [id, count] of receipts) {
      if (count === 1) continue;
      duplicates += count - 1;
      // One extra copy for a publish the SDK re-sent, one for a delivery the crash undid.
      const resent = unconfirmedAtKill.has(id) ? 1 : 0;
      const redelivered = receivedBeforeKill.has(id) ? 1 : 0;
      if (count - 1 > resent + redelivered) unexplained.push(id);
      fromResend += Math.min(count - 1, resent);
      fromRedelivery += Math.max(0, count - 1 - resent);
    }
    console.log(
      `      SIGKILL recovery: ${N} msgs, ${unconfirmedAtKill.size} unconfirmed and ${receivedBeforeKill.size} received at the kill; ` +
        `${duplicates} duplicate receipts (${fromResend} re-sent publishes, ${fromRedelivery} redeliveries; ` +
        `${redeliveredReceipts} receipts flagged redelivered); broker down ${restartedAt - killedAt} ms, ` +
        `clients recovered ${recoveredAt - restartedAt} ms after the restart`,
    );
    expect(unexplained).to.deep.equal([], 'duplicates the guarantee does not allow');
    // Nothing more arrives: every copy was acked.
    const probe = await (await client(fx.proc.url)).createChannel();
    expect((await probe.checkQueue('sdk-crash')).messageCount).to.equal(0);
  });
});
