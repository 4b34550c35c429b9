import { expect } from 'chai';
import { connect, type ConsumeMessage } from '@switchyard/client';
import { useBroker } from '../helpers/broker.js';
import { nextEvent, sleep, waitFor, type Channel } from '../helpers/client.js';

type Msg = ConsumeMessage<Buffer>;
const text = (m: { content: Buffer } | false | null): string => (m ? m.content.toString() : String(m));

describe('SDK consumer ergonomics and payload helpers', function () {
  this.timeout(20_000);
  const fx = useBroker({ noSync: true });

  async function channel(options?: Parameters<typeof connect>[1]): Promise<Channel> {
    const conn = await connect(fx.tb.url, options);
    fx.conns.push(conn);
    return conn.createChannel();
  }

  async function fill(ch: Channel, queue: string, n: number): Promise<void> {
    await ch.assertQueue(queue, { durable: false });
    await Promise.all(Array.from({ length: n }, (_, i) => ch.sendToQueue(queue, Buffer.from(String(i)))));
  }

  describe('async handlers and concurrency', () => {
    it('runs at most `concurrency` handlers at once, starting them in delivery order', async () => {
      const ch = await channel();
      await fill(ch, 'conc', 20);
      await ch.prefetch(10);
      let running = 0;
      let peak = 0;
      const started: number[] = [];
      await ch.consume(
        'conc',
        async (m) => {
          running++;
          peak = Math.max(peak, running);
          started.push(Number(text(m)));
          await sleep(10);
          running--;
          m!.ack();
        },
        { concurrency: 3 },
      );
      await waitFor(() => started.length === 20, 'all twenty handled');
      await waitFor(() => running === 0, 'all finished');
      expect(peak).to.equal(3);
      expect(started).to.deep.equal(Array.from({ length: 20 }, (_, i) => i));
    });

    it('without concurrency, every delivery starts its handler at once (amqplib behaviour), bounded by prefetch', async () => {
      const ch = await channel();
      await fill(ch, 'free', 20);
      await ch.prefetch(8);
      let running = 0;
      let peak = 0;
      let done = 0;
      await ch.consume('free', async (m) => {
        running++;
        peak = Math.max(peak, running);
        await sleep(20);
        running--;
        done++;
        m!.ack();
      });
      await waitFor(() => done === 20, 'all done');
      expect(peak).to.equal(8);
    });

    it('validates concurrency and requeueOnError', async () => {
      const ch = await channel();
      expect(() => ch.consume('q', () => undefined, { concurrency: -1 })).to.throw(
        RangeError,
        'options.concurrency must be an integer from 0 to 4294967295',
      );
      expect(() => ch.consume('q', () => undefined, { concurrency: 'x' as unknown as number })).to.throw(
        TypeError,
        'options.concurrency must be a number',
      );
      expect(() => ch.consume('q', () => undefined, { requeueOnError: 'yes' as unknown as boolean })).to.throw(
        TypeError,
        'options.requeueOnError must be a boolean',
      );
    });
  });

  describe('handler errors', () => {
    it('a throwing handler nacks the message with requeue and emits consumer-error; the message comes back', async () => {
      const ch = await channel();
      await fill(ch, 'boom', 1);
      const errors: [unknown, Msg | null][] = [];
      ch.on('consumer-error', (err, msg) => errors.push([err, msg]));
      const seen: Msg[] = [];
      await ch.consume('boom', (m) => {
        seen.push(m!);
        if (!m!.fields.redelivered) throw new Error('first attempt fails');
        m!.ack();
      });
      await waitFor(() => seen.length === 2, 'redelivery');
      expect(seen[1]!.fields).to.include({ redelivered: true, deliveryCount: 1 });
      expect(errors.length).to.equal(1);
      expect((errors[0]![0] as Error).message).to.equal('first attempt fails');
      expect(errors[0]![1]).to.equal(seen[0]);
      await sleep(50);
      expect(ch.state).to.equal('open');
      expect((await ch.checkQueue('boom')).messageCount).to.equal(0);
    });

    it('a rejecting async handler with requeueOnError: false drops the message (no crash, no redelivery)', async () => {
      const ch = await channel();
      await fill(ch, 'drop', 3);
      let calls = 0;
      const errored = nextEvent(ch, 'consumer-error');
      await ch.consume(
        'drop',
        async (m) => {
          calls++;
          await sleep(1);
          if (text(m) === '1') throw new Error('poison');
          m!.ack();
        },
        { requeueOnError: false },
      );
      await errored;
      await sleep(100);
      expect(calls).to.equal(3);
      const probe = await channel();
      expect((await probe.checkQueue('drop')).messageCount).to.equal(0);
    });

    it('does not nack a message the handler already settled before failing (the channel stays open)', async () => {
      const ch = await channel();
      await fill(ch, 'settled', 2);
      let errors = 0;
      ch.on('consumer-error', () => errors++);
      await ch.consume('settled', (m) => {
        if (text(m) === '0') m!.ack();
        else ch.ack(m!, true); // multiple: settles this one (and any earlier)
        throw new Error('after settling');
      });
      await waitFor(() => errors === 2, 'two errors');
      await sleep(50);
      expect(ch.state).to.equal('open');
      expect((await ch.checkQueue('settled')).messageCount).to.equal(0);
    });

    it('without a consumer-error listener the error is only logged (and the process keeps running)', async () => {
      const warnings: string[] = [];
      const ch = await channel({ logger: { warn: (message) => warnings.push(message) } });
      await fill(ch, 'quiet', 1);
      await ch.consume(
        'quiet',
        () => {
          throw new Error('nobody listens');
        },
        { requeueOnError: false },
      );
      await waitFor(() => warnings.length === 1, 'a warning');
      expect(warnings[0]).to.equal('consumer callback failed');
    });

    it('a handler failing on the cancel notification (null) emits consumer-error without nacking', async () => {
      const ch = await channel();
      await ch.assertQueue('cancelled', { durable: false });
      const errored = nextEvent<unknown>(ch, 'consumer-error');
      await ch.consume('cancelled', (m) => {
        if (m === null) throw new Error('cancelled');
      });
      const other = await channel();
      await other.deleteQueue('cancelled');
      expect(((await errored) as Error).message).to.equal('cancelled');
      expect(ch.state).to.equal('open');
    });
  });

  describe('message helpers', () => {
    it('msg.ack(), msg.nack({ requeue }), msg.reject() and msg.ack({ allUpTo })', async () => {
      const ch = await channel();
      await fill(ch, 'helpers', 6);
      const got: Msg[] = [];
      await ch.consume('helpers', (m) => void got.push(m!));
      await waitFor(() => got.length === 6, 'six');
      got[0]!.ack();
      got[1]!.nack({ requeue: false });
      got[2]!.reject({ requeue: false });
      got[4]!.ack({ allUpTo: true }); // acks 3 and 4
      got[5]!.nack(); // requeued: comes back redelivered
      await waitFor(() => got.length === 7, 'the requeued one');
      expect(text(got[6]!)).to.equal('5');
      expect(got[6]!.fields.redelivered).to.equal(true);
      got[6]!.ack();
      await ch.checkQueue('helpers');
      expect(ch.state).to.equal('open');
      const probe = await channel();
      expect((await probe.checkQueue('helpers')).messageCount).to.equal(0);
    });

    it('helpers are no-ops for noAck messages, which are already settled', async () => {
      const ch = await channel();
      await fill(ch, 'noack', 1);
      const got: Msg[] = [];
      await ch.consume('noack', (m) => void got.push(m!), { noAck: true });
      await waitFor(() => got.length === 1, 'one');
      got[0]!.ack();
      got[0]!.nack();
      await ch.checkQueue('noack');
      expect(ch.state).to.equal('open');
    });

    it('messages from get() have the helpers too', async () => {
      const ch = await channel();
      await fill(ch, 'got', 1);
      const m = await ch.get('got');
      expect(m).to.not.equal(false);
      if (m === false) return;
      m.ack();
      expect(await ch.get('got')).to.equal(false);
      expect((await ch.checkQueue('got')).messageCount).to.equal(0);
    });

    it('keeps the amqplib shape: content is a Buffer, fields and properties are plain objects', async () => {
      const ch = await channel();
      await fill(ch, 'shape', 1);
      const m = await ch.get('shape', { noAck: true });
      if (m === false) throw new Error('empty');
      expect(Buffer.isBuffer(m.content)).to.equal(true);
      expect(Object.keys(m)).to.deep.equal(['content', 'fields', 'properties']);
      expect(JSON.parse(JSON.stringify(m.fields))).to.deep.equal(m.fields);
    });
  });

  describe('payload helpers', () => {
    it('publishJson / sendToQueueJson set contentType application/json; msg.json() parses the body', async () => {
      const ch = await channel();
      await ch.assertExchange('jx', 'direct', { durable: false });
      await ch.assertQueue('json', { durable: false });
      await ch.bindQueue('json', 'jx', 'k');
      await ch.publishJson('jx', 'k', { id: 42, tags: ['a', 'é'], nested: { ok: true } }, { messageId: 'm1' });
      await ch.sendToQueueJson('json', [1, 2, 3]);
      await ch.sendToQueueJson('json', 'just a string', { contentType: 'application/vnd.example+json' });
      const got: Msg[] = [];
      await ch.consume('json', (m) => void got.push(m!), { noAck: true });
      await waitFor(() => got.length === 3, 'three');
      expect(got[0]!.json()).to.deep.equal({ id: 42, tags: ['a', 'é'], nested: { ok: true } });
      expect(got[0]!.properties).to.include({ contentType: 'application/json', messageId: 'm1' });
      expect(got[1]!.json<number[]>()).to.deep.equal([1, 2, 3]);
      expect(got[2]!.json()).to.equal('just a string');
      expect(got[2]!.properties.contentType).to.equal('application/vnd.example+json');
    });

    it('refuses values JSON cannot represent, synchronously, and msg.json() throws on a non-JSON body', async () => {
      const ch = await channel();
      await ch.assertQueue('bad-json', { durable: false });
      expect(() => ch.sendToQueueJson('bad-json', undefined)).to.throw(TypeError, 'value cannot be serialized as JSON');
      expect(() => ch.sendToQueueJson('bad-json', 10n)).to.throw(TypeError, /value cannot be serialized as JSON: /);
      const cyclic: Record<string, unknown> = {};
      cyclic['self'] = cyclic;
      expect(() => ch.sendToQueueJson('bad-json', cyclic)).to.throw(TypeError);
      await ch.sendToQueue('bad-json', 'not json');
      const m = await ch.get('bad-json', { noAck: true });
      if (m === false) throw new Error('empty');
      expect(() => m.json()).to.throw(SyntaxError);
    });
  });
});
