import { expect } from 'chai';
import {
  ChannelOutgoing,
  ConfirmTracker,
  Fifo,
  Topology,
  backoffDelay,
  resolveConnectOptions,
  resolveReconnectOptions,
  type OutgoingIo,
} from '@switchyard/client/internal';
import type { Frame, FrameOf } from '@switchyard/client/protocol';

const publish = (n: number): FrameOf<'publish'> => ({
  type: 'publish',
  channel: 1,
  exchange: '',
  routingKey: 'q',
  mandatory: false,
  properties: null,
  content: new Uint8Array(n),
});

describe('SDK internals', () => {
  describe('backoff', () => {
    const o = resolveReconnectOptions({ initialDelayMs: 100, maxDelayMs: 1000, multiplier: 2, jitter: 0 })!;

    it('grows exponentially from initialDelayMs and is capped at maxDelayMs', () => {
      expect([1, 2, 3, 4, 5, 6].map((a) => backoffDelay(a, o))).to.deep.equal([100, 200, 400, 800, 1000, 1000]);
    });

    it('subtracts up to `jitter` of the delay at random', () => {
      const j = { ...o, jitter: 0.5 };
      expect(backoffDelay(3, j, () => 0)).to.equal(400);
      expect(backoffDelay(3, j, () => 0.999999)).to.equal(200);
      expect(backoffDelay(3, j, () => 0.5)).to.equal(300);
    });

    it('defaults: 100 ms, x2, 30 s cap, half jitter, unlimited attempts, 10,000 publishes / 64 MiB buffered', () => {
      expect(resolveReconnectOptions(true)).to.deep.equal({
        initialDelayMs: 100,
        maxDelayMs: 30_000,
        multiplier: 2,
        jitter: 0.5,
        maxAttempts: Infinity,
        maxBufferedPublishes: 10_000,
        maxBufferedBytes: 64 * 1024 * 1024,
      });
      expect(resolveReconnectOptions(false)).to.equal(undefined);
      expect(resolveReconnectOptions(undefined)).to.equal(undefined);
    });

    it('validates every setting with a message naming it', () => {
      expect(() => resolveReconnectOptions('yes')).to.throw(
        TypeError,
        'options.reconnect must be a boolean or an object',
      );
      expect(() => resolveReconnectOptions({ jitter: 2 })).to.throw(
        RangeError,
        'options.reconnect.jitter must be a number from 0 to 1',
      );
      expect(() => resolveReconnectOptions({ maxAttempts: 0 })).to.throw(
        RangeError,
        'options.reconnect.maxAttempts must be an integer from 1 to Infinity',
      );
      expect(() => resolveReconnectOptions({ initialDelayMs: '5' })).to.throw(
        TypeError,
        'options.reconnect.initialDelayMs must be a number',
      );
      expect(() => resolveReconnectOptions({ initialDelayMs: 500, maxDelayMs: 100 })).to.throw(
        RangeError,
        'options.reconnect.maxDelayMs must not be smaller than initialDelayMs',
      );
      expect(() => resolveConnectOptions({ maxUnconfirmed: -2 }, 'test')).to.throw(
        RangeError,
        'options.maxUnconfirmed must be a non-negative integer (0: no limit)',
      );
      expect(() => resolveConnectOptions({ logger: 5 as never }, 'test')).to.throw(
        TypeError,
        'options.logger must be an object',
      );
    });
  });

  describe('Topology', () => {
    it('records and forgets exchanges, queues and bindings; deleting an exchange drops its bindings', () => {
      const t = new Topology();
      t.recordExchange({ name: 'x', type: 'direct', durable: true, autoDelete: false, internal: false, arguments: {} });
      t.recordExchange({
        name: 'amq.direct',
        type: 'direct',
        durable: true,
        autoDelete: false,
        internal: false,
        arguments: {},
      });
      t.recordQueue({
        name: 'q',
        serverNamed: false,
        durable: true,
        exclusive: false,
        autoDelete: false,
        arguments: {},
      });
      t.recordBinding({ kind: 'queue', destination: 'q', source: 'x', routingKey: 'a', arguments: {} });
      t.recordBinding({ kind: 'queue', destination: 'q', source: 'x', routingKey: 'a', arguments: {} });
      t.recordBinding({ kind: 'queue', destination: 'q', source: 'other', routingKey: 'a', arguments: {} });
      expect([...t.exchanges.keys()]).to.deep.equal(['x']);
      expect(t.bindings.size).to.equal(2);
      t.deleteExchange('x');
      expect(t.bindings.size).to.equal(1);
      t.deleteQueue('q');
      expect(t.bindings.size).to.equal(0);
      expect(t.queues.size).to.equal(0);
    });

    it('forgets an auto-delete queue when its last consumer of this connection is cancelled', () => {
      const t = new Topology();
      t.recordQueue({
        name: 'ad',
        serverNamed: false,
        durable: false,
        exclusive: false,
        autoDelete: true,
        arguments: {},
      });
      t.consumerAdded('ad');
      t.consumerAdded('ad');
      t.consumerCancelled('ad');
      expect(t.queues.has('ad')).to.equal(true);
      t.consumerCancelled('ad');
      expect(t.queues.has('ad')).to.equal(false);
    });

    it('renames server-named queues and translates every old name to the latest one', () => {
      const t = new Topology();
      t.recordQueue({
        name: 'amq.gen-1',
        serverNamed: true,
        durable: false,
        exclusive: true,
        autoDelete: false,
        arguments: {},
      });
      t.recordBinding({ kind: 'queue', destination: 'amq.gen-1', source: 'x', routingKey: '', arguments: {} });
      t.renameQueue('amq.gen-1', 'amq.gen-2');
      t.renameQueue('amq.gen-2', 'amq.gen-3');
      expect(t.resolve('amq.gen-1')).to.equal('amq.gen-3');
      expect(t.resolve('amq.gen-2')).to.equal('amq.gen-3');
      expect([...t.queues.keys()]).to.deep.equal(['amq.gen-3']);
      expect([...t.bindings.values()][0]!.destination).to.equal('amq.gen-3');
      const p = t.translate({
        ...publish(0),
        routingKey: 'amq.gen-1',
        properties: { replyTo: 'amq.gen-2', messageId: 'm' },
      }) as FrameOf<'publish'>;
      expect(p.routingKey).to.equal('amq.gen-3');
      expect(p.properties).to.deep.equal({ replyTo: 'amq.gen-3', messageId: 'm' });
      // Through a named exchange the routing key is not a queue name.
      const viaExchange = t.translate({ ...publish(0), exchange: 'x', routingKey: 'amq.gen-1' }) as FrameOf<'publish'>;
      expect(viaExchange.routingKey).to.equal('amq.gen-1');
      const consume = t.translate({
        type: 'consume',
        channel: 1,
        rid: 1,
        queue: 'amq.gen-1',
        consumerTag: '',
        noAck: false,
        exclusive: false,
        priority: 0,
        arguments: {},
      });
      expect((consume as FrameOf<'consume'>).queue).to.equal('amq.gen-3');
      const untouched: Frame = { type: 'qos', channel: 1, rid: 2, prefetchCount: 1, global: false };
      expect(t.translate(untouched)).to.equal(untouched);
    });
  });

  describe('ConfirmTracker', () => {
    it('hands back outstanding records in order and numbers again from 1 (a new session)', () => {
      const settled: [string, string | undefined][] = [];
      const t = new ConfirmTracker<string>((r, err) => settled.push([r, err?.message]), 4);
      for (const r of ['a', 'b', 'c', 'd', 'e']) t.add(r);
      t.ack(2, true);
      t.nack(4, false, new Error('no'));
      expect(settled).to.deep.equal([
        ['a', undefined],
        ['b', undefined],
        ['d', 'no'],
      ]);
      expect(t.takeOutstanding()).to.deep.equal(['c', 'e']);
      expect(t.outstanding).to.equal(0);
      expect(t.add('c')).to.equal(1);
      expect(t.isIssued(2)).to.equal(false);
    });
  });

  describe('ChannelOutgoing', () => {
    function harness(max: number, reserve = (): boolean => true) {
      const out: Frame[] = [];
      const io: OutgoingIo = {
        transmit: (f) => void out.push(f),
        reserve,
        release: () => undefined,
        congested: () => false,
        sent: () => undefined,
        failed: () => undefined,
      };
      const o = new ChannelOutgoing(io, max);
      o.linked = true;
      return { o, out };
    }

    it('keeps a non-publish frame behind waiting publishes, and lets it go with them', async () => {
      const { o, out } = harness(1);
      const p1 = o.publish(publish(1));
      const p2 = o.publish(publish(2));
      o.send({ type: 'qos', channel: 1, rid: 1, prefetchCount: 1, global: false });
      expect(out.map((f) => f.type)).to.deep.equal(['publish']);
      o.ack(1, false);
      expect(out.map((f) => f.type)).to.deep.equal(['publish', 'publish', 'qos']);
      o.ack(2, false);
      await Promise.all([p1, p2]);
    });

    it('while unlinked, counts publishes against the buffer and refuses them when it is full', async () => {
      let room = 1;
      const { o, out } = harness(0, () => room-- > 0);
      o.linked = false;
      const kept = o.publish(publish(3));
      const refused = await o.publish(publish(3)).then(
        () => undefined,
        (e: Error) => e.name,
      );
      expect(refused).to.equal('PublishBufferFullError');
      expect(out.length).to.equal(0);
      o.linked = true;
      o.pump();
      expect(out.length).to.equal(1);
      o.ack(1, false);
      await kept;
    });

    it('re-sends what was in flight after a session loss, before anything that waited', async () => {
      const { o, out } = harness(0);
      const a = o.publish(publish(1));
      const b = o.publish(publish(2));
      o.sessionLost();
      const c = o.publish(publish(3));
      out.length = 0;
      for (const r of o.takeInflight()) o.resend(r);
      o.linked = true;
      o.pump();
      expect(out.map((f) => (f as FrameOf<'publish'>).content.length)).to.deep.equal([1, 2, 3]);
      o.ack(3, true);
      await Promise.all([a, b, c]);
      expect(o.unconfirmed).to.equal(0);
    });

    it('throws synchronously for an unencodable property, even when the publish would wait', () => {
      const { o } = harness(1);
      void o.publish(publish(1));
      const bad = { ...publish(1), properties: { headers: { f: Symbol('x') } } } as unknown as FrameOf<'publish'>;
      expect(() => o.publish(bad)).to.throw();
      expect(o.unconfirmed).to.equal(1);
    });
  });

  describe('Fifo', () => {
    it('is first in, first out across compactions', () => {
      const f = new Fifo<number>();
      for (let i = 0; i < 3000; i++) f.push(i);
      for (let i = 0; i < 2000; i++) expect(f.shift()).to.equal(i);
      f.push(3000);
      expect(f.length).to.equal(1001);
      expect(f.peek()).to.equal(2000);
      f.filter((n) => n % 2 === 0);
      expect([...f].slice(0, 3)).to.deep.equal([2000, 2002, 2004]);
      expect(f.drain().length).to.equal(501);
      expect(f.shift()).to.equal(undefined);
    });
  });
});
