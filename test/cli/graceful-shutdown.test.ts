import { expect } from 'chai';
import { connect } from '@switchyard/client';
import { spawnBroker, type BrokerProcess } from '../helpers/broker-process.js';
import { RawClient } from '../helpers/raw-client.js';
import { makeTmpDir } from '../helpers/tmp.js';

type LogLine = { message: string; level: string; [key: string]: unknown };
const logLines = (p: BrokerProcess): LogLine[] =>
  p.output.filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as LogLine);

describe('graceful shutdown (SIGTERM)', function () {
  this.timeout(30_000);
  let tmp: { dir: string; remove: () => Promise<void> };
  const running: BrokerProcess[] = [];
  beforeEach(async () => {
    tmp = await makeTmpDir('shutdown');
  });
  afterEach(async () => {
    for (const p of running.splice(0)) {
      if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
      await p.exited;
    }
    await tmp.remove();
  });

  it('loses no confirmed message, closes clients with 320, and logs without per-message lines', async () => {
    const p = await spawnBroker(tmp.dir);
    running.push(p);
    const conn = await connect(p.url);
    const closedWith = new Promise<Error & { code?: number }>((resolve) =>
      conn.on('error', (err: Error) => resolve(err)),
    );
    const ch = await conn.createChannel();
    await ch.assertQueue('shutdown-q', { durable: true });

    // Publish persistent messages, 50 in flight, until the broker goes away.
    const confirmed = new Set<number>();
    let next = 0;
    let stopped = false;
    const publisher = async (): Promise<void> => {
      while (!stopped) {
        const id = next++;
        try {
          await ch.sendToQueue('shutdown-q', Buffer.from(String(id)), { persistent: true, messageId: String(id) });
          confirmed.add(id);
        } catch {
          stopped = true; // the connection closed: unconfirmed publishes reject
        }
      }
    };
    const publishers = Array.from({ length: 50 }, publisher);
    while (confirmed.size < 2000) await new Promise((r) => setTimeout(r, 5));
    p.child.kill('SIGTERM');
    const err = await closedWith;
    await Promise.all(publishers);
    expect(await p.exited).to.equal(0);
    expect(err.code).to.equal(320);
    expect(err.name).to.equal('CONNECTION_FORCED');
    expect(err.message).to.match(/broker shutdown/);

    const lines = logLines(p);
    const messages = lines.map((l) => l.message);
    expect(messages).to.include.members([
      'signal received: shutting down gracefully (send again to force)',
      'shutting down',
      'stopped',
    ]);
    const closed = lines.find((l) => l.message === 'connection closed');
    expect(closed, 'a connection closed line').to.not.equal(undefined);
    expect(closed).to.include.keys('peer', 'reason', 'conn');
    // thousands of messages, a handful of lines: nothing per message at info
    expect(lines.length).to.be.below(20);

    const p2 = await spawnBroker(tmp.dir);
    running.push(p2);
    const conn2 = await connect(p2.url);
    const ch2 = await conn2.createChannel();
    const seen = new Set<number>();
    let duplicates = 0;
    for (let m = await ch2.get('shutdown-q', { noAck: true }); m; m = await ch2.get('shutdown-q', { noAck: true })) {
      const id = Number(Buffer.from(m.content).toString());
      if (seen.has(id)) duplicates++;
      seen.add(id);
    }
    await conn2.close();
    const lost = [...confirmed].filter((id) => !seen.has(id));
    expect(lost, `${lost.length} confirmed messages lost of ${confirmed.size}`).to.deep.equal([]);
    expect(duplicates).to.equal(0);
    p2.child.kill('SIGTERM');
    expect(await p2.exited).to.equal(0);
  });

  it('exits at once on a second signal while waiting for clients', async () => {
    const p = await spawnBroker(tmp.dir);
    running.push(p);
    // A client that never answers `close` keeps the graceful shutdown waiting.
    const raw = await RawClient.connect(p.url);
    raw.ws.pause();
    try {
      p.child.kill('SIGTERM');
      await new Promise((r) => setTimeout(r, 150));
      p.child.kill('SIGTERM');
      const started = Date.now();
      expect(await p.exited).to.equal(1);
      expect(Date.now() - started).to.be.below(1000);
      expect(p.output.join('\n')).to.match(/second SIGTERM: exiting without waiting for shutdown/);
    } finally {
      // A paused socket never reads the broker's FIN: left open, it would keep mocha alive.
      raw.ws.terminate();
    }
  });
});
