import { expect } from 'chai';
import { Outbox } from '@switchyard/client/internal';
import { decodeAll, type Frame, type FrameOf } from '@switchyard/client/protocol';
import { useBroker } from '../helpers/broker.js';
import { connect } from '@switchyard/client';
import { waitFor, type Message } from '../helpers/client.js';
import { wiredConnect } from '../helpers/wire.js';

const ack = (channel: number, deliveryTag: number, multiple: boolean): FrameOf<'ack'> => ({
  type: 'ack',
  channel,
  deliveryTag,
  multiple,
});

/** An outbox whose end of turn the test runs by hand; returns the frames of every message sent. */
function manualOutbox(): { outbox: Outbox; endTurn: () => void; sent: Frame[][] } {
  const sent: Frame[][] = [];
  let pending: (() => void) | undefined;
  const outbox = new Outbox(
    (bytes) => sent.push(decodeAll(bytes)),
    (fn) => (pending = fn),
  );
  return { outbox, sent, endTurn: () => pending?.() };
}

describe('SDK ack folding (one ack frame for a turn of in-order acks)', function () {
  this.timeout(20_000);

  describe('Outbox', () => {
    it('replaces a held ack by a following multiple ack of the same channel with a higher tag', () => {
      const { outbox, endTurn, sent } = manualOutbox();
      outbox.push(ack(1, 1, true));
      for (let t = 2; t <= 100; t++) outbox.push(ack(1, t, true));
      endTurn();
      expect(sent).to.deep.equal([[ack(1, 100, true)]]);
    });

    it('keeps acks that a multiple ack would not cover, and the order of every frame', () => {
      const { outbox, endTurn, sent } = manualOutbox();
      outbox.push(ack(1, 5, false)); // kept: the next is not `multiple`
      outbox.push(ack(1, 7, false)); // kept: the next is on another channel
      outbox.push(ack(2, 3, true)); // kept: the next is on channel 1 again
      outbox.push(ack(1, 4, true)); // kept: the next has a lower tag
      outbox.push(ack(1, 2, true)); // kept: the next frame is not an ack
      outbox.push({ type: 'qos', channel: 1, rid: 1, prefetchCount: 5, global: false });
      outbox.push(ack(1, 9, true));
      endTurn();
      expect(sent).to.have.length(1);
      expect(sent[0]!.map((f) => [f.type, f.channel, (f as FrameOf<'ack'>).deliveryTag])).to.deep.equal([
        ['ack', 1, 5],
        ['ack', 1, 7],
        ['ack', 2, 3],
        ['ack', 1, 4],
        ['ack', 1, 2],
        ['qos', 1, undefined],
        ['ack', 1, 9],
      ]);
    });

    it('sends a held ack at flush() and drops it at close()', () => {
      const { outbox, sent } = manualOutbox();
      outbox.push(ack(1, 1, true));
      outbox.flush();
      expect(sent).to.deep.equal([[ack(1, 1, true)]]);
      outbox.push(ack(1, 2, true));
      outbox.close();
      outbox.flush();
      expect(sent).to.have.length(1);
    });
  });

  describe('against a broker', () => {
    const fx = useBroker({ noSync: true });

    it('a consumer acking each message in order sends one ack frame per turn, and every message is settled', async () => {
      const { conn, wire } = await wiredConnect(fx.tb.url, {}, true);
      fx.conns.push(conn);
      const ch = await conn.createChannel();
      await ch.assertQueue('fold', { durable: false });
      const N = 2_000;
      const pub = await conn.createChannel({ confirm: false });
      for (let i = 0; i < N; i++) void pub.sendToQueue('fold', Buffer.from(String(i)));
      await pub.waitForConfirms();
      await ch.prefetch(500);
      let got = 0;
      await ch.consume('fold', (m) => {
        got++;
        ch.ack(m as Message);
      });
      await waitFor(() => got === N, 'every delivery');
      await ch.close();
      const acks = wire().sent.filter((f): f is FrameOf<'ack'> => f.type === 'ack');
      // Deliveries arrive some hundreds per WebSocket message: at most a few dozen turns.
      expect(acks.length).to.be.below(N / 10);
      expect(acks.every((f) => f.multiple)).to.equal(true);
      expect(Math.max(...acks.map((f) => f.deliveryTag))).to.equal(N);
      // Nothing was left unacked: closing the channel requeued nothing.
      const check = await connect(fx.tb.url);
      fx.conns.push(check);
      const cc = await check.createChannel();
      expect((await cc.checkQueue('fold')).messageCount).to.equal(0);
    });

    it('acks out of order never settle a delivery the application did not ack', async () => {
      const { conn, wire } = await wiredConnect(fx.tb.url, {}, true);
      fx.conns.push(conn);
      const ch = await conn.createChannel();
      await ch.assertQueue('fold2', { durable: false });
      for (let i = 1; i <= 10; i++) void ch.sendToQueue('fold2', Buffer.from(String(i)));
      await ch.waitForConfirms();
      const held: Message[] = [];
      await ch.prefetch(10);
      await ch.consume('fold2', (m) => void held.push(m as Message));
      await waitFor(() => held.length === 10, 'ten deliveries');
      // In one turn: the even ones (not the oldest: sent singly), then 1 (the oldest: multiple,
      // must not swallow 2's ack nor settle 3), then 3 (now the oldest).
      for (const m of held.filter((_, i) => i % 2 === 1)) ch.ack(m);
      ch.ack(held[0]!);
      ch.ack(held[2]!);
      await waitFor(() => wire().sent.some((f) => f.type === 'ack' && f.deliveryTag === 3), "3's ack sent");
      await ch.close(); // requeues the unacked: 5, 7, 9
      const cc = await conn.createChannel();
      expect((await cc.checkQueue('fold2')).messageCount).to.equal(3);
      const bodies: string[] = [];
      for (let m = await cc.get('fold2', { noAck: true }); m !== false; m = await cc.get('fold2', { noAck: true }))
        bodies.push(m.content.toString());
      expect(bodies.sort()).to.deep.equal(['5', '7', '9']);
    });
  });
});
