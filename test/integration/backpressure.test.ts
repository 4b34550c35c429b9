import { expect } from 'chai';
import type { Socket } from 'node:net';
import { managementGet, useBroker } from '../helpers/broker.js';
import { open, waitFor } from '../helpers/client.js';
import { RawClient } from '../helpers/raw-client.js';

interface QueueView {
  name: string;
  messagesReady: number;
  delivered: number;
}

describe('backpressure', () => {
  let raw: RawClient | undefined;
  afterEach(() => raw?.ws.terminate()); // registered first: runs before the broker stops
  const fx = useBroker({ noSync: true, socketHighWaterBytes: 256 * 1024 });

  const queueView = async (name: string): Promise<QueueView> => {
    const all = await managementGet<QueueView[]>(fx.tb, '/api/queues');
    return all.find((q) => q.name === name)!;
  };

  it('stops delivering to a consumer whose socket is not read, and resumes when it drains', async () => {
    const { ch } = await open(fx.tb.url, fx.conns);
    await ch.assertQueue('bp', { durable: false });
    raw = await RawClient.connect(fx.tb.url);
    raw.send({ type: 'channelOpen', channel: 1 });
    await raw.waitFor((f) => f.type === 'channelOpenOk');
    raw.send({
      type: 'consume',
      channel: 1,
      rid: 1,
      queue: 'bp',
      consumerTag: 'slow',
      noAck: true,
      exclusive: false,
      priority: 0,
      arguments: {},
    });
    await raw.waitFor((f) => f.type === 'consumeOk');
    // Stop reading: the broker's writes pile up in the kernel and then in ws's buffer.
    (raw.ws as unknown as { _socket: Socket })._socket.pause();

    const N = 20_000;
    const body = Buffer.alloc(2048, 7);
    const pending: Promise<void>[] = [];
    for (let i = 0; i < N; i++) {
      pending.push(ch.sendToQueue('bp', body));
      if (pending.length === 1000) await Promise.all(pending.splice(0));
    }
    await Promise.all(pending);
    await new Promise((r) => setTimeout(r, 300));
    const held = await queueView('bp');
    // 40 MB were published; the broker handed out only what the socket could take.
    expect(held.messagesReady).to.be.greaterThan(N / 2);

    (raw.ws as unknown as { _socket: Socket })._socket.resume();
    await waitFor(
      () => raw!.frames.filter((f) => f.type === 'deliver').length === N,
      'all deliveries after resume',
      20_000,
    );
    expect((await queueView('bp')).messagesReady).to.equal(0);
  });
});
