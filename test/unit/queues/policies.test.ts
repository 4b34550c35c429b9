import { expect } from 'chai';
import type { FieldTable, MessageProperties } from '@switchyard/client/protocol';
import {
  type QueueConsumer,
  addDeath,
  isDeadLetterCycle,
  type DeathReason,
  DedupWindow,
  type QueueEntry,
  Queue,
  retryDelay,
  type MessageRecord,
} from '@switchyard/broker/internal';
import { FakeClock } from '../../helpers/fake-clock.js';

interface Harness {
  clock: FakeClock;
  queue: Queue;
  dead: { reason: DeathReason; body: string }[];
  removed: string[];
}

function makeQueue(args: FieldTable, name = 'q'): Harness {
  const clock = new FakeClock();
  const dead: Harness['dead'] = [];
  const removed: string[] = [];
  const queue = new Queue(
    { name, id: 1, durable: false, autoDelete: false, exclusiveOwner: undefined, arguments: args },
    {
      store: undefined,
      clock,
      deadLetter: (_q, record: MessageRecord, reason) =>
        dead.push({ reason, body: Buffer.from(record.content).toString() }),
      remove: (_q, reason) => removed.push(reason),
    },
  );
  return { clock, queue, dead, removed };
}

/** A consumer that takes everything it is offered (up to `room`) and remembers it. */
class TestConsumer implements QueueConsumer {
  readonly got: { entry: QueueEntry; body: string }[] = [];
  constructor(
    public room = Infinity,
    readonly tag = 'c',
    readonly priority = 0,
    readonly exclusive = false,
  ) {}
  canTake(): boolean {
    return this.got.length < this.room;
  }
  take(_q: Queue, entry: QueueEntry, record: MessageRecord): void {
    this.got.push({ entry, body: Buffer.from(record.content).toString() });
  }
  cancelledByQueue(): void {}
}

const publish = (q: Queue, body: string, properties: MessageProperties | null = null) =>
  q.enqueue('ex', 'rk', properties, Buffer.from(body));

function drain(q: Queue): string[] {
  const out: string[] = [];
  for (let t = q.take(); t !== undefined; t = q.take()) {
    out.push(Buffer.from(t.record.content).toString());
    q.settle(t.entry);
  }
  return out;
}

describe('queue policies (fake clock)', () => {
  describe('message TTL', () => {
    it('expires messages by x-message-ttl and dead-letters them with reason expired', () => {
      const h = makeQueue({ 'x-message-ttl': 1000, 'x-dead-letter-exchange': 'dlx' });
      publish(h.queue, 'a');
      h.clock.advance(500);
      publish(h.queue, 'b');
      h.clock.advance(600); // a is 1100 ms old, b 600 ms
      expect(h.dead).to.deep.equal([{ reason: 'expired', body: 'a' }]);
      expect(drain(h.queue)).to.deep.equal(['b']);
    });

    it('honours per-message expiration, the shorter of the two winning', () => {
      const h = makeQueue({ 'x-message-ttl': 10_000 });
      publish(h.queue, 'short', { expiration: '100' });
      publish(h.queue, 'long');
      h.clock.advance(150);
      expect(drain(h.queue)).to.deep.equal(['long']);
      expect(h.queue.counters.dropped).to.equal(1);
    });

    it('never delivers an expired message, even before its timer fires', () => {
      const h = makeQueue({});
      publish(h.queue, 'x', { expiration: '0' });
      expect(drain(h.queue)).to.deep.equal([]);
    });

    it('TTL 0 still reaches a consumer that is ready at once', () => {
      const h = makeQueue({ 'x-message-ttl': 0 });
      const c = new TestConsumer();
      h.queue.addConsumer(c);
      publish(h.queue, 'now');
      expect(c.got.map((g) => g.body)).to.deep.equal(['now']);
    });
  });

  describe('queue TTL (x-expires)', () => {
    it('removes the queue after it has been unused for the time', () => {
      const h = makeQueue({ 'x-expires': 1000 });
      h.clock.advance(999);
      expect(h.removed).to.deep.equal([]);
      h.clock.advance(2);
      expect(h.removed[0]).to.match(/unused for 1000 ms/);
    });

    it('does not remove a queue with consumers; counts from the last use', () => {
      const h = makeQueue({ 'x-expires': 1000 });
      const c = new TestConsumer();
      h.queue.addConsumer(c);
      h.clock.advance(5000);
      expect(h.removed).to.deep.equal([]);
      h.queue.removeConsumer(c);
      h.clock.advance(900);
      expect(h.removed).to.deep.equal([]);
      h.clock.advance(200);
      expect(h.removed.length).to.equal(1);
    });
  });

  describe('length limits', () => {
    it('drop-head drops (and dead-letters) the oldest with reason maxlen', () => {
      const h = makeQueue({ 'x-max-length': 2, 'x-dead-letter-exchange': 'dlx' });
      for (const b of ['1', '2', '3']) expect(publish(h.queue, b)).to.equal('queued');
      expect(h.dead).to.deep.equal([{ reason: 'maxlen', body: '1' }]);
      expect(drain(h.queue)).to.deep.equal(['2', '3']);
    });

    it('x-max-length-bytes counts body bytes', () => {
      const h = makeQueue({ 'x-max-length-bytes': 10 });
      publish(h.queue, '123456');
      publish(h.queue, '789012');
      expect(drain(h.queue)).to.deep.equal(['789012']);
    });

    it('reject-publish refuses new messages and keeps the old', () => {
      const h = makeQueue({ 'x-max-length': 1, 'x-overflow': 'reject-publish', 'x-dead-letter-exchange': 'dlx' });
      expect(publish(h.queue, 'kept')).to.equal('queued');
      expect(publish(h.queue, 'refused')).to.equal('rejected');
      expect(h.dead).to.deep.equal([]);
      expect(drain(h.queue)).to.deep.equal(['kept']);
    });

    it('reject-publish-dlx refuses and dead-letters the refused message', () => {
      const h = makeQueue({ 'x-max-length': 1, 'x-overflow': 'reject-publish-dlx', 'x-dead-letter-exchange': 'dlx' });
      publish(h.queue, 'kept');
      expect(publish(h.queue, 'refused')).to.equal('rejected');
      expect(h.dead).to.deep.equal([{ reason: 'maxlen', body: 'refused' }]);
    });
  });

  describe('delivery limit and retries', () => {
    it('dead-letters after more failed deliveries than x-delivery-limit', () => {
      const h = makeQueue({ 'x-delivery-limit': 2, 'x-dead-letter-exchange': 'dlx' });
      publish(h.queue, 'm');
      for (let i = 0; i < 3; i++) {
        const t = h.queue.take()!;
        expect(t.entry.deliveries).to.equal(i);
        h.queue.requeue([t.entry], { explicit: true });
      }
      expect(h.dead).to.deep.equal([{ reason: 'delivery_limit', body: 'm' }]);
      expect(h.queue.messageCount).to.equal(0);
    });

    it('holds a nacked message back for delayMs, then it is ready at its original position', () => {
      const h = makeQueue({});
      publish(h.queue, 'first');
      publish(h.queue, 'second');
      const t = h.queue.take()!;
      h.queue.requeue([t.entry], { explicit: true, delayMs: 1000 });
      expect(h.queue.delayedCount).to.equal(1);
      h.clock.advance(999);
      const early = h.queue.take()!;
      expect(Buffer.from(early.record.content).toString()).to.equal('second');
      h.queue.settle(early.entry);
      h.clock.advance(1);
      expect(drain(h.queue)).to.deep.equal(['first']);
    });

    it('applies x-retry-delays per failed delivery, the last one repeating', () => {
      const h = makeQueue({ 'x-retry-delays': [100, 1000] });
      publish(h.queue, 'r');
      const waits: number[] = [];
      for (let i = 0; i < 3; i++) {
        const t = h.queue.take()!;
        h.queue.requeue([t.entry], { explicit: true });
        let waited = 0;
        while (h.queue.messageCount === 0) {
          h.clock.advance(50);
          waited += 50;
        }
        waits.push(waited);
      }
      expect(waits).to.deep.equal([100, 1000, 1000]);
    });

    it('does not delay a requeue caused by a lost consumer', () => {
      const h = makeQueue({ 'x-retry-delays': [5000] });
      publish(h.queue, 'r');
      const t = h.queue.take()!;
      h.queue.requeue([t.entry]);
      expect(h.queue.messageCount).to.equal(1);
    });

    it('computes exponential backoff with jitter inside its bounds', () => {
      const policy = { kind: 'exponential', initial: 100, multiplier: 2, max: 1000, jitter: 0.5 } as const;
      expect(retryDelay(policy, 1, () => 0.5)).to.equal(100);
      expect(retryDelay(policy, 3, () => 0.5)).to.equal(400);
      expect(retryDelay(policy, 10, () => 0.5)).to.equal(1000);
      expect(retryDelay(policy, 2, () => 0)).to.equal(100);
      expect(retryDelay(policy, 2, () => 1)).to.equal(300);
    });
  });

  describe('deduplication', () => {
    it('drops a repeated messageId inside the window and accepts it after', () => {
      const h = makeQueue({ 'x-deduplication-window': 1000 });
      expect(publish(h.queue, 'a', { messageId: 'id-1' })).to.equal('queued');
      expect(publish(h.queue, 'a again', { messageId: 'id-1' })).to.equal('duplicate');
      expect(publish(h.queue, 'b', { messageId: 'id-2' })).to.equal('queued');
      h.clock.advance(1001);
      expect(publish(h.queue, 'a later', { messageId: 'id-1' })).to.equal('queued');
      expect(drain(h.queue)).to.deep.equal(['a', 'b', 'a later']);
    });

    it('DedupWindow prunes in expiry order', () => {
      const w = new DedupWindow(100);
      w.remember('x', 0);
      w.remember('y', 50);
      expect(w.prune(120)).to.deep.equal(['x']);
      expect(w.has('y', 120)).to.equal(true);
    });
  });

  describe('priorities', () => {
    it('delivers higher priority first and FIFO within a priority; caps at x-max-priority', () => {
      const h = makeQueue({ 'x-max-priority': 5 });
      publish(h.queue, 'low-1', { priority: 1 });
      publish(h.queue, 'none');
      publish(h.queue, 'high-1', { priority: 5 });
      publish(h.queue, 'over', { priority: 200 });
      publish(h.queue, 'low-2', { priority: 1 });
      expect(drain(h.queue)).to.deep.equal(['high-1', 'over', 'low-1', 'low-2', 'none']);
    });

    it('ignores priority on a queue without x-max-priority', () => {
      const h = makeQueue({});
      publish(h.queue, 'a', { priority: 1 });
      publish(h.queue, 'b', { priority: 9 });
      expect(drain(h.queue)).to.deep.equal(['a', 'b']);
    });
  });

  describe('argument validation', () => {
    const bad: [FieldTable, RegExp][] = [
      [{ 'x-message-ttl': -1 }, /x-message-ttl/],
      [{ 'x-expires': 0 }, /x-expires/],
      [{ 'x-max-length': 'ten' }, /x-max-length/],
      [{ 'x-overflow': 'drop-tail' }, /x-overflow/],
      [{ 'x-max-priority': 256 }, /x-max-priority.*0 to 255/],
      [{ 'x-retry-delays': [] }, /x-retry-delays/],
      [{ 'x-retry-delays': { initial: 100, jitter: 2 } }, /jitter/],
      [{ 'x-dead-letter-routing-key': 'k' }, /needs x-dead-letter-exchange/],
      [{ 'x-delivery-limit': 1.5 }, /x-delivery-limit/],
    ];
    for (const [args, message] of bad) {
      it(`refuses ${JSON.stringify(args)} with 406`, () => {
        expect(() => makeQueue(args))
          .to.throw(message)
          .with.property('code', 406);
      });
    }
  });
});

describe('x-death headers', () => {
  const death = (queue: string, reason: DeathReason) => ({
    queue,
    reason,
    exchange: 'ex',
    routingKeys: ['rk'],
    time: 1700000000,
  });

  it('writes the entry, first- and last-death headers, and moves expiration aside', () => {
    const props = addDeath({ expiration: '500', headers: { app: 1 } }, death('q1', 'expired'));
    expect(props.expiration).to.equal(undefined);
    expect(props.headers).to.deep.equal({
      app: 1,
      'x-death': [
        {
          count: 1,
          reason: 'expired',
          queue: 'q1',
          time: 1700000000,
          exchange: 'ex',
          'routing-keys': ['rk'],
          'original-expiration': '500',
        },
      ],
      'x-first-death-reason': 'expired',
      'x-first-death-queue': 'q1',
      'x-first-death-exchange': 'ex',
      'x-last-death-reason': 'expired',
      'x-last-death-queue': 'q1',
      'x-last-death-exchange': 'ex',
    });
  });

  it('increments the count of a repeated (queue, reason) and moves it to the front', () => {
    let p = addDeath(null, death('q1', 'rejected'));
    p = addDeath(p, death('q2', 'expired'));
    p = addDeath(p, death('q1', 'rejected'));
    const deaths = p.headers!['x-death'] as FieldTable[];
    expect(deaths.map((d) => [d['queue'], d['reason'], d['count']])).to.deep.equal([
      ['q1', 'rejected', 2],
      ['q2', 'expired', 1],
    ]);
    expect(p.headers!['x-first-death-queue']).to.equal('q1');
    expect(p.headers!['x-last-death-reason']).to.equal('rejected');
  });

  it('detects cycles unless a rejection happened since', () => {
    const p = addDeath(addDeath(null, death('a', 'expired')), death('b', 'expired'));
    expect(isDeadLetterCycle(p, 'a', 'expired')).to.equal(true);
    expect(isDeadLetterCycle(p, 'c', 'expired')).to.equal(false);
    expect(isDeadLetterCycle(p, 'a', 'rejected')).to.equal(false);
    const r = addDeath(addDeath(null, death('a', 'expired')), death('b', 'rejected'));
    expect(isDeadLetterCycle(r, 'a', 'expired')).to.equal(false);
  });
});
