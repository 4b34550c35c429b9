import { expect } from 'chai';
import { managementGet, type TestBroker, useBroker } from '../helpers/broker.js';
import type { ReturnMessage } from '@switchyard/client';
import { bindingKey, type Binding } from '@switchyard/broker/internal';
import { closeAll, open, text, waitFor, type Channel, type Message } from '../helpers/client.js';
import { brokerInternals } from '@switchyard/broker/internal';

/** A returned message's body as text. */
const body = (m: { content: Uint8Array }): string => Buffer.from(m.content).toString();

/** Every ready message of `queue`, taken with noAck, as text. */
async function drain(ch: Channel, queue: string): Promise<string[]> {
  const out: string[] = [];
  for (let m = await ch.get(queue, { noAck: true }); m; m = await ch.get(queue, { noAck: true })) out.push(text(m));
  return out;
}

/** Drains several queues: `{ queue: [bodies] }`. */
async function drainAll(ch: Channel, queues: readonly string[]): Promise<Record<string, string[]>> {
  const out: Record<string, string[]> = {};
  for (const q of queues) out[q] = await drain(ch, q);
  return out;
}

/** The rejection of `p` (fails the test if it resolves). */
async function rejection(p: Promise<unknown>): Promise<Error & { code?: number; name?: string }> {
  try {
    await p;
  } catch (e) {
    return e as Error & { code?: number };
  }
  throw new Error('expected the operation to be refused');
}

async function overviewTotals(tb: TestBroker): Promise<{ published: number; unroutable: number }> {
  const body = await managementGet<{ totals: { published: number; unroutable: number } }>(tb, '/api/overview');
  return body.totals;
}

describe('routing (integration)', () => {
  const fx = useBroker({ noSync: true });

  describe('topic exchanges', () => {
    it('route by patterns with *, # and empty words, one copy per queue', async () => {
      const { ch } = await open(fx.tb.url, fx.conns);
      await ch.assertExchange('t', 'topic', { durable: false });
      const patterns: Record<string, string[]> = {
        qStarEu: ['orders.*.eu'],
        qOrders: ['orders.#'],
        qAll: ['#'],
        qOneWord: ['*'],
        qAHashB: ['a.#.b'],
        qEmptyMid: ['a.*.c'],
        qEmptyKey: [''],
        qTwice: ['orders.#', 'orders.*.eu', '#.eu'], // three bindings, one copy
      };
      for (const [q, keys] of Object.entries(patterns)) {
        await ch.assertQueue(q, { durable: false });
        for (const k of keys) await ch.bindQueue(q, 't', k);
      }
      for (const key of [
        'orders.new.eu',
        'orders',
        'orders.new.us',
        'a.b',
        'a..b',
        'a.x.y.b',
        'a..c',
        'solo',
        '',
        'x.eu',
        'a.b.c.d',
      ]) {
        await ch.publish('t', key, Buffer.from(key === '' ? '(empty)' : key));
      }
      const got = await drainAll(ch, Object.keys(patterns));
      expect(got).to.deep.equal({
        qStarEu: ['orders.new.eu'],
        qOrders: ['orders.new.eu', 'orders', 'orders.new.us'],
        qAll: [
          'orders.new.eu',
          'orders',
          'orders.new.us',
          'a.b',
          'a..b',
          'a.x.y.b',
          'a..c',
          'solo',
          '(empty)',
          'x.eu',
          'a.b.c.d',
        ],
        qOneWord: ['orders', 'solo'],
        qAHashB: ['a.b', 'a..b', 'a.x.y.b'],
        qEmptyMid: ['a..c'],
        qEmptyKey: ['(empty)'],
        qTwice: ['orders.new.eu', 'orders', 'orders.new.us', 'x.eu'],
      });
    });

    it('delivers to consumers with the exchange and routing key of the publish', async () => {
      const { ch } = await open(fx.tb.url, fx.conns);
      await ch.assertExchange('amq.topic', 'topic'); // redeclaring a built-in exchange equivalently is allowed
      const { queue } = await ch.assertQueue('', { exclusive: true });
      await ch.bindQueue(queue, 'amq.topic', 'sensor.*.temp');
      const got: Message[] = [];
      await ch.consume(queue, (m) => {
        if (m === null) return;
        got.push(m);
        ch.ack(m);
      });
      await ch.publish('amq.topic', 'sensor.kitchen.temp', Buffer.from('21'));
      await ch.publish('amq.topic', 'sensor.kitchen.humidity', Buffer.from('40'));
      await waitFor(() => got.length === 1, 'one delivery');
      await new Promise((r) => setTimeout(r, 50));
      expect(got.map(text)).to.deep.equal(['21']);
      expect(got[0]!.fields).to.include({ exchange: 'amq.topic', routingKey: 'sensor.kitchen.temp' });
    });

    it('stops routing to a pattern once it is unbound (cache invalidated)', async () => {
      const { ch } = await open(fx.tb.url, fx.conns);
      await ch.assertExchange('tu', 'topic', { durable: false });
      await ch.assertQueue('tuq', { durable: false });
      await ch.bindQueue('tuq', 'tu', 'a.#');
      await ch.bindQueue('tuq', 'tu', 'a.*');
      await ch.publish('tu', 'a.b', Buffer.from('1'));
      await ch.unbindQueue('tuq', 'tu', 'a.#');
      await ch.publish('tu', 'a.b', Buffer.from('2')); // still matches a.*
      await ch.publish('tu', 'a.b.c', Buffer.from('3')); // matched only a.#
      await ch.unbindQueue('tuq', 'tu', 'a.*');
      await ch.publish('tu', 'a.b', Buffer.from('4'));
      await ch.unbindQueue('tuq', 'tu', 'never.bound'); // unbinding a missing binding is a no-op
      expect(await drain(ch, 'tuq')).to.deep.equal(['1', '2']);
    });
  });

  describe('headers exchanges', () => {
    it('match x-match all (default) and any, on values and on presence', async () => {
      const { ch } = await open(fx.tb.url, fx.conns);
      await ch.assertExchange('h', 'headers', { durable: false });
      const bindings: Record<string, Record<string, unknown>> = {
        hAll: { format: 'pdf', type: 'report' }, // x-match defaults to all
        hAny: { 'x-match': 'any', format: 'pdf', type: 'report' },
        hPresent: { 'x-match': 'all', urgent: null }, // presence only, any value
        hNumber: { version: 2 },
        hEmptyAll: {}, // all of nothing: every message
        hEmptyAny: { 'x-match': 'any' }, // any of nothing: no message
      };
      for (const [q, args] of Object.entries(bindings)) {
        await ch.assertQueue(q, { durable: false });
        await ch.bindQueue(q, 'h', 'ignored-key', args);
      }
      const sends: [string, Record<string, unknown> | undefined][] = [
        ['pdf-report', { format: 'pdf', type: 'report' }],
        ['pdf-only', { format: 'pdf' }],
        ['zip-report-urgent', { format: 'zip', type: 'report', urgent: false }],
        ['v2', { version: 2 }],
        ['v2-string', { version: '2' }],
        ['no-headers', undefined],
      ];
      for (const [b, headers] of sends)
        await ch.publish('h', 'any-key', Buffer.from(b), headers === undefined ? {} : { headers });
      expect(await drainAll(ch, Object.keys(bindings))).to.deep.equal({
        hAll: ['pdf-report'],
        hAny: ['pdf-report', 'pdf-only', 'zip-report-urgent'],
        hPresent: ['zip-report-urgent'],
        hNumber: ['v2'],
        hEmptyAll: ['pdf-report', 'pdf-only', 'zip-report-urgent', 'v2', 'v2-string', 'no-headers'],
        hEmptyAny: [],
      });
    });

    it('ignore x- arguments except under all-with-x and any-with-x', async () => {
      const { ch } = await open(fx.tb.url, fx.conns);
      await ch.assertExchange('hx', 'headers', { durable: false });
      const bindings: Record<string, Record<string, unknown>> = {
        xIgnored: { 'x-match': 'all', 'x-tenant': 'acme', kind: 'a' },
        xAllWith: { 'x-match': 'all-with-x', 'x-tenant': 'acme', kind: 'a' },
        xAnyWith: { 'x-match': 'any-with-x', 'x-tenant': 'acme' },
      };
      for (const [q, args] of Object.entries(bindings)) {
        await ch.assertQueue(q, { durable: false });
        await ch.bindQueue(q, 'hx', '', args);
      }
      await ch.publish('hx', '', Buffer.from('kind-a'), { headers: { kind: 'a' } });
      await ch.publish('hx', '', Buffer.from('acme-a'), { headers: { kind: 'a', 'x-tenant': 'acme' } });
      await ch.publish('hx', '', Buffer.from('acme'), { headers: { 'x-tenant': 'acme' } });
      expect(await drainAll(ch, Object.keys(bindings))).to.deep.equal({
        xIgnored: ['kind-a', 'acme-a'],
        xAllWith: ['acme-a'],
        xAnyWith: ['acme-a', 'acme'],
      });
    });

    it('refuses an unknown x-match with 406, closing only that channel', async () => {
      const { conn, ch } = await open(fx.tb.url, fx.conns);
      await ch.assertExchange('hbad', 'headers', { durable: false });
      await ch.assertQueue('hbadq', { durable: false });
      const err = await rejection(ch.bindQueue('hbadq', 'hbad', '', { 'x-match': 'some' }));
      expect(err).to.include({ code: 406, name: 'PRECONDITION_FAILED' });
      const ch2 = await conn.createChannel();
      await ch2.bindQueue('hbadq', 'hbad', '', { 'x-match': 'any', a: 1 });
      await ch2.publish('hbad', '', Buffer.from('ok'), { headers: { a: 1 } });
      expect(await drain(ch2, 'hbadq')).to.deep.equal(['ok']);
    });

    it('unbinds a headers binding only with the same arguments (arguments are part of its identity)', async () => {
      const { ch } = await open(fx.tb.url, fx.conns);
      await ch.assertExchange('hu', 'headers', { durable: false });
      await ch.assertQueue('huq', { durable: false });
      await ch.bindQueue('huq', 'hu', '', { a: 1 });
      await ch.bindQueue('huq', 'hu', '', { b: 2 });
      await ch.unbindQueue('huq', 'hu', '', { a: 2 }); // no such binding: no-op
      await ch.publish('hu', '', Buffer.from('a'), { headers: { a: 1 } });
      await ch.unbindQueue('huq', 'hu', '', { a: 1 });
      await ch.publish('hu', '', Buffer.from('a-again'), { headers: { a: 1 } });
      await ch.publish('hu', '', Buffer.from('b'), { headers: { b: 2 } });
      expect(await drain(ch, 'huq')).to.deep.equal(['a', 'b']);
    });
  });

  describe('exchange-to-exchange bindings', () => {
    it('route through any depth and a cycle, each queue receiving one copy per publish', async () => {
      const { ch } = await open(fx.tb.url, fx.conns);
      // entry (topic) -> mid (fanout) -> leaf (direct) -> entry (cycle), entry -> leaf directly,
      // leaf -> leaf (bound to itself), plus a deeper chain leaf -> deep1 -> deep2.
      await ch.assertExchange('entry', 'topic', { durable: false });
      await ch.assertExchange('mid', 'fanout', { durable: false });
      await ch.assertExchange('leaf', 'direct', { durable: false });
      await ch.assertExchange('deep1', 'fanout', { durable: false });
      await ch.assertExchange('deep2', 'headers', { durable: false });
      await ch.bindExchange('mid', 'entry', 'orders.#');
      await ch.bindExchange('leaf', 'mid', '');
      await ch.bindExchange('entry', 'leaf', 'orders.eu'); // cycle back to the start
      await ch.bindExchange('leaf', 'entry', '#'); // second path to leaf
      await ch.bindExchange('leaf', 'leaf', 'orders.eu'); // self-loop
      await ch.bindExchange('deep1', 'leaf', 'orders.eu');
      await ch.bindExchange('deep2', 'deep1', '');
      for (const q of ['qEntry', 'qMid', 'qLeaf', 'qDeep']) await ch.assertQueue(q, { durable: false });
      await ch.bindQueue('qEntry', 'entry', 'orders.*');
      await ch.bindQueue('qMid', 'mid', '');
      await ch.bindQueue('qLeaf', 'leaf', 'orders.eu');
      await ch.bindQueue('qMid', 'leaf', 'orders.eu'); // a second path to qMid
      await ch.bindQueue('qDeep', 'deep2', '', {}); // headers, all of nothing
      await ch.bindQueue('qEntry', 'deep2', '', {}); // and back up to qEntry from the bottom

      await ch.publish('entry', 'orders.eu', Buffer.from('eu'));
      await ch.publish('entry', 'orders.us', Buffer.from('us'));
      await ch.publish('mid', 'x', Buffer.from('via-mid')); // enters mid-cycle
      await ch.publish('leaf', 'orders.eu', Buffer.from('via-leaf'));
      expect(await drainAll(ch, ['qEntry', 'qMid', 'qLeaf', 'qDeep'])).to.deep.equal({
        qEntry: ['eu', 'us', 'via-leaf'],
        qMid: ['eu', 'us', 'via-mid', 'via-leaf'],
        qLeaf: ['eu', 'via-leaf'],
        qDeep: ['eu', 'via-leaf'],
      });
    });

    it('routes into internal exchanges, which clients may not publish to (403)', async () => {
      const { conn, ch } = await open(fx.tb.url, fx.conns);
      await ch.assertExchange('public', 'fanout', { durable: false });
      await ch.assertExchange('private', 'direct', { durable: false, internal: true });
      await ch.bindExchange('private', 'public', '');
      await ch.assertQueue('pq', { durable: false });
      await ch.bindQueue('pq', 'private', 'k');
      await ch.publish('public', 'k', Buffer.from('through'));
      await ch.publish('public', 'other', Buffer.from('filtered'));
      expect(await drain(ch, 'pq')).to.deep.equal(['through']);

      const err = await rejection(ch.publish('private', 'k', Buffer.from('direct')));
      expect(err).to.include({ code: 403, name: 'ACCESS_REFUSED' });
      expect(err.message).to.match(/internal exchange 'private'/);
      // Only that channel closed.
      const ch2 = await conn.createChannel();
      await ch2.publish('public', 'k', Buffer.from('after'));
      expect(await drain(ch2, 'pq')).to.deep.equal(['after']);
      // Redeclaring with another internal flag is inequivalent.
      const err2 = await rejection(ch2.assertExchange('private', 'direct', { durable: false, internal: false }));
      expect(err2).to.include({ code: 406 });
    });

    it('unbindExchange stops routing through that binding', async () => {
      const { ch } = await open(fx.tb.url, fx.conns);
      await ch.assertExchange('us', 'direct', { durable: false });
      await ch.assertExchange('ud', 'fanout', { durable: false });
      await ch.assertQueue('udq', { durable: false });
      await ch.bindQueue('udq', 'ud', '');
      await ch.bindExchange('ud', 'us', 'k');
      await ch.publish('us', 'k', Buffer.from('1'));
      await ch.unbindExchange('ud', 'us', 'k');
      await ch.unbindExchange('ud', 'us', 'k'); // again: no-op
      await ch.publish('us', 'k', Buffer.from('2'));
      expect(await drain(ch, 'udq')).to.deep.equal(['1']);
    });

    it('removes bindings to and from a deleted exchange', async () => {
      const { ch } = await open(fx.tb.url, fx.conns);
      await ch.assertExchange('src', 'fanout', { durable: false });
      await ch.assertExchange('gone', 'fanout', { durable: false });
      await ch.assertQueue('gq', { durable: false });
      await ch.bindExchange('gone', 'src', '');
      await ch.bindQueue('gq', 'gone', '');
      await ch.deleteExchange('gone');
      // Recreated with the same name, it has no bindings: nothing from src reaches gq.
      await ch.assertExchange('gone', 'fanout', { durable: false });
      await ch.bindQueue('gq', 'gone', '');
      const returned: string[] = [];
      ch.on('return', (m) => returned.push(body(m)));
      await ch.publish('src', '', Buffer.from('lost'), { mandatory: true });
      expect(returned).to.deep.equal(['lost']);
      await ch.publish('gone', '', Buffer.from('direct'));
      expect(await drain(ch, 'gq')).to.deep.equal(['direct']);
    });
  });

  describe('alternate exchanges', () => {
    it('take messages an exchange cannot route, along a chain', async () => {
      const { ch } = await open(fx.tb.url, fx.conns);
      // main (direct, AE ae1) -> ae1 (direct, AE ae2) -> ae2 (fanout)
      await ch.assertExchange('ae2', 'fanout', { durable: false });
      await ch.assertExchange('ae1', 'direct', { durable: false, alternateExchange: 'ae2' });
      await ch.assertExchange('main', 'direct', { durable: false, alternateExchange: 'ae1' });
      for (const q of ['qMain', 'qAe1', 'qAe2']) await ch.assertQueue(q, { durable: false });
      await ch.bindQueue('qMain', 'main', 'known');
      await ch.bindQueue('qAe1', 'ae1', 'second');
      await ch.bindQueue('qAe2', 'ae2', '');
      const returned: string[] = [];
      ch.on('return', (m) => returned.push(body(m)));
      await ch.publish('main', 'known', Buffer.from('known'), { mandatory: true });
      await ch.publish('main', 'second', Buffer.from('second'), { mandatory: true });
      await ch.publish('main', 'other', Buffer.from('other'), { mandatory: true });
      expect(returned).to.deep.equal([]); // reaching a queue through an AE counts as routed
      expect(await drainAll(ch, ['qMain', 'qAe1', 'qAe2'])).to.deep.equal({
        qMain: ['known'],
        qAe1: ['second'],
        qAe2: ['other'],
      });
    });

    it('end in a loop of alternate exchanges; a message routed nowhere is returned', async () => {
      const { ch } = await open(fx.tb.url, fx.conns);
      // loopA -> loopB -> loopC -> loopA, all alternates of each other
      await ch.assertExchange('loopA', 'direct', { durable: false, alternateExchange: 'loopB' });
      await ch.assertExchange('loopB', 'direct', { durable: false, alternateExchange: 'loopC' });
      await ch.assertExchange('loopC', 'topic', { durable: false, alternateExchange: 'loopA' });
      await ch.assertQueue('loopQ', { durable: false });
      await ch.bindQueue('loopQ', 'loopC', 'caught.#');
      const returned: { body: string; code: number; exchange: string }[] = [];
      ch.on('return', (m) => returned.push({ body: body(m), code: m.fields.replyCode, exchange: m.fields.exchange }));
      await ch.publish('loopA', 'caught.here', Buffer.from('caught'), { mandatory: true });
      await ch.publish('loopB', 'nowhere', Buffer.from('lost'), { mandatory: true });
      expect(returned).to.deep.equal([{ body: 'lost', code: 312, exchange: 'loopB' }]);
      expect(await drain(ch, 'loopQ')).to.deep.equal(['caught']);
    });

    it('are not used by an exchange that matched a binding, and a missing AE is ignored', async () => {
      const { ch } = await open(fx.tb.url, fx.conns);
      await ch.assertExchange('fallback', 'fanout', { durable: false });
      await ch.assertQueue('fbq', { durable: false });
      await ch.bindQueue('fbq', 'fallback', '');
      await ch.assertExchange('empty-dest', 'direct', { durable: false }); // no bindings
      await ch.assertExchange('front', 'direct', { durable: false, alternateExchange: 'fallback' });
      await ch.bindExchange('empty-dest', 'front', 'to-empty');
      await ch.assertExchange('dangling', 'direct', { durable: false, alternateExchange: 'no-such-exchange' });
      const returned: string[] = [];
      ch.on('return', (m) => returned.push(body(m)));
      // front matched its binding to empty-dest, so its AE is not consulted (RabbitMQ's rule).
      await ch.publish('front', 'to-empty', Buffer.from('matched-but-nowhere'), { mandatory: true });
      await ch.publish('front', 'unmatched', Buffer.from('to-ae'), { mandatory: true });
      await ch.publish('dangling', 'x', Buffer.from('dangling'), { mandatory: true });
      expect(returned).to.deep.equal(['matched-but-nowhere', 'dangling']);
      expect(await drain(ch, 'fbq')).to.deep.equal(['to-ae']);
    });

    it('compares the alternate-exchange argument on redeclare (406); other exchange arguments are not compared', async () => {
      const { conn, ch } = await open(fx.tb.url, fx.conns);
      await ch.assertExchange('aeq', 'direct', {
        durable: false,
        alternateExchange: 'one',
        arguments: { 'x-note': 'a' },
      });
      await ch.assertExchange('aeq', 'direct', {
        durable: false,
        alternateExchange: 'one',
        arguments: { 'x-note': 'b' },
      });
      await ch.assertExchange('aeq', 'direct', { durable: false, arguments: { 'alternate-exchange': 'one' } });
      const err = await rejection(ch.assertExchange('aeq', 'direct', { durable: false, alternateExchange: 'two' }));
      expect(err).to.include({ code: 406, name: 'PRECONDITION_FAILED' });
      expect(err.message).to.match(/alternate-exchange/);
      const ch2 = await conn.createChannel();
      const err2 = await rejection(ch2.assertExchange('aeq', 'direct', { durable: false }));
      expect(err2).to.include({ code: 406 });
    });

    it('refuses an alternate-exchange argument that is not a string (406)', async () => {
      const { ch } = await open(fx.tb.url, fx.conns);
      const err = await rejection(
        ch.assertExchange('bad-ae', 'direct', { durable: false, arguments: { 'alternate-exchange': 42 } }),
      );
      expect(err).to.include({ code: 406, name: 'PRECONDITION_FAILED' });
    });
  });

  describe('mandatory, confirms and unroutable messages', () => {
    it('returns each unroutable mandatory message before its confirm, with reply code 312', async () => {
      const { ch } = await open(fx.tb.url, fx.conns);
      await ch.assertExchange('m', 'topic', { durable: false });
      await ch.assertQueue('mq', { durable: false });
      await ch.bindQueue('mq', 'm', 'routed.*');
      const events: string[] = [];
      const returns: ReturnMessage[] = [];
      ch.on('return', (m) => {
        events.push(`return:${body(m)}`);
        returns.push(m);
      });
      const pubs: Promise<void>[] = [];
      for (let i = 0; i < 20; i++) {
        const routed = i % 2 === 0;
        const key = routed ? `routed.${i}` : `lost.${i}`;
        const b = `${routed ? 'r' : 'u'}${i}`;
        pubs.push(
          ch
            .publish('m', key, Buffer.from(b), { mandatory: true, persistent: true, headers: { n: i }, messageId: b })
            .then(() => void events.push(`confirm:${b}`)),
        );
      }
      await Promise.all(pubs);
      // Every return arrives before the confirm of the same message.
      for (let i = 1; i < 20; i += 2) {
        expect(events.indexOf(`return:u${i}`), `u${i}`).to.be.within(0, events.indexOf(`confirm:u${i}`));
      }
      expect(returns.map(body)).to.deep.equal([1, 3, 5, 7, 9, 11, 13, 15, 17, 19].map((i) => `u${i}`));
      const r = returns[0]!;
      expect(r.fields).to.include({ replyCode: 312, replyText: 'NO_ROUTE', exchange: 'm', routingKey: 'lost.1' });
      expect(r.properties).to.include({ messageId: 'u1' });
      expect(r.properties.headers).to.deep.equal({ n: 1 });
      expect((await drain(ch, 'mq')).length).to.equal(10);
    });

    it('confirms, drops and counts a non-mandatory unroutable message; returns nothing', async () => {
      const { ch } = await open(fx.tb.url, fx.conns);
      await ch.assertExchange('drop', 'direct', { durable: false });
      const before = await overviewTotals(fx.tb);
      const returned: string[] = [];
      ch.on('return', (m) => returned.push(body(m)));
      await ch.publish('drop', 'nobody', Buffer.from('x'));
      await ch.publish('drop', 'nobody', Buffer.from('y'), { persistent: true });
      await ch.sendToQueue('no-such-queue', Buffer.from('z')); // default exchange, no queue
      await ch.publish('drop', 'nobody', Buffer.from('m'), { mandatory: true }); // returned, and counted too
      const after = await overviewTotals(fx.tb);
      expect(after.unroutable - before.unroutable).to.equal(4);
      expect(after.published - before.published).to.equal(4);
      expect(returned).to.deep.equal(['m']);
    });

    it('returns a mandatory message sent to the default exchange with no such queue', async () => {
      const { ch } = await open(fx.tb.url, fx.conns);
      const returned = new Promise<ReturnMessage>((resolve) => ch.on('return', (m) => resolve(m)));
      await ch.sendToQueue('absent', Buffer.from('hello'), { mandatory: true });
      const m = await returned;
      expect(m.fields).to.include({ replyCode: 312, exchange: '', routingKey: 'absent' });
    });

    it('refuses a publish to a missing exchange with 404, closing only that channel', async () => {
      const { conn, ch } = await open(fx.tb.url, fx.conns);
      const err = await rejection(ch.publish('no-such-exchange', 'k', Buffer.from('x')));
      expect(err).to.include({ code: 404, name: 'NOT_FOUND' });
      const ch2 = await conn.createChannel();
      await ch2.assertQueue('still', { durable: false });
      await ch2.sendToQueue('still', Buffer.from('ok'));
      expect(await drain(ch2, 'still')).to.deep.equal(['ok']);
    });
  });

  describe('exchange lifecycle', () => {
    it('auto-delete exchanges vanish when their last binding is removed, not before the first', async () => {
      const { conn, ch } = await open(fx.tb.url, fx.conns);
      await ch.assertExchange('ad', 'direct', { durable: false, autoDelete: true });
      await ch.checkExchange('ad'); // no binding yet: it stays
      await ch.assertQueue('adq1', { durable: false });
      await ch.assertQueue('adq2', { durable: false });
      await ch.bindQueue('adq1', 'ad', 'a');
      await ch.bindQueue('adq2', 'ad', 'b');
      await ch.unbindQueue('adq1', 'ad', 'a');
      await ch.checkExchange('ad');
      await ch.unbindQueue('adq2', 'ad', 'b');
      const err = await rejection(ch.checkExchange('ad'));
      expect(err).to.include({ code: 404, name: 'NOT_FOUND' });

      // Deleting the last bound queue removes its bindings, and with them the exchange.
      const ch2 = await conn.createChannel();
      await ch2.assertExchange('ad2', 'fanout', { durable: false, autoDelete: true });
      await ch2.bindQueue('adq1', 'ad2', '');
      await ch2.deleteQueue('adq1');
      expect(await rejection(ch2.checkExchange('ad2'))).to.include({ code: 404 });

      // An exchange-to-exchange binding counts, for its source only.
      const ch3 = await conn.createChannel();
      await ch3.assertExchange('ad3', 'fanout', { durable: false, autoDelete: true });
      await ch3.assertExchange('ad3-dest', 'fanout', { durable: false, autoDelete: true });
      await ch3.bindExchange('ad3-dest', 'ad3', '');
      await ch3.deleteExchange('ad3-dest'); // removes ad3's last binding
      expect(await rejection(ch3.checkExchange('ad3'))).to.include({ code: 404 });
    });

    it('auto-delete exchanges also vanish when the exclusive queue bound to them dies with its connection', async () => {
      const a = await open(fx.tb.url, fx.conns);
      const b = await open(fx.tb.url, fx.conns);
      await b.ch.assertExchange('session', 'fanout', { durable: false, autoDelete: true });
      const { queue } = await a.ch.assertQueue('', { exclusive: true });
      await a.ch.bindQueue(queue, 'session', '');
      await b.ch.checkExchange('session');
      await a.conn.close();
      await waitFor(
        () => brokerInternals(fx.tb.broker).allVhosts().next().value?.exchange('session') === undefined,
        'auto-delete',
      );
    });

    it('deleteExchange with ifUnused refuses while the exchange has bindings (406)', async () => {
      const { conn, ch } = await open(fx.tb.url, fx.conns);
      await ch.assertExchange('busy', 'direct', { durable: false });
      await ch.assertQueue('busyq', { durable: false });
      await ch.bindQueue('busyq', 'busy', 'k');
      const err = await rejection(ch.deleteExchange('busy', { ifUnused: true }));
      expect(err).to.include({ code: 406, name: 'PRECONDITION_FAILED' });
      expect(err.message).to.match(/in use/);
      const ch2 = await conn.createChannel();
      await ch2.checkExchange('busy');
      await ch2.unbindQueue('busyq', 'busy', 'k');
      await ch2.deleteExchange('busy', { ifUnused: true });
      expect(await rejection(ch2.checkExchange('busy'))).to.include({ code: 404 });
    });

    it('deleteExchange with ifUnused deletes an exchange that is only a destination (as RabbitMQ)', async () => {
      const { ch } = await open(fx.tb.url, fx.conns);
      await ch.assertExchange('upstream', 'fanout', { durable: false });
      await ch.assertExchange('downstream', 'fanout', { durable: false });
      await ch.bindExchange('downstream', 'upstream', '');
      await ch.deleteExchange('downstream', { ifUnused: true });
      expect(await rejection(ch.checkExchange('downstream'))).to.include({ code: 404 });
    });

    it('deleting a missing exchange succeeds (idempotent)', async () => {
      const { ch } = await open(fx.tb.url, fx.conns);
      await ch.deleteExchange('never-declared');
      await ch.deleteExchange('never-declared', { ifUnused: true });
    });

    it('the default exchange cannot be bound to, unbound from, declared or deleted (403)', async () => {
      const { conn } = await open(fx.tb.url, fx.conns);
      const setup = await conn.createChannel();
      await setup.assertQueue('dq', { durable: false });
      await setup.assertExchange('dx', 'direct', { durable: false });
      const attempts: [string, (ch: Channel) => Promise<unknown>][] = [
        ['bindQueue', (ch) => ch.bindQueue('dq', '', 'dq')],
        ['unbindQueue', (ch) => ch.unbindQueue('dq', '', 'dq')],
        ['bindExchange from', (ch) => ch.bindExchange('dx', '', 'k')],
        ['bindExchange to', (ch) => ch.bindExchange('', 'dx', 'k')],
        ['deleteExchange', (ch) => ch.deleteExchange('')],
        ['assertExchange', (ch) => ch.assertExchange('', 'direct')],
        ['checkExchange', (ch) => ch.checkExchange('')],
      ];
      for (const [what, attempt] of attempts) {
        const ch = await conn.createChannel();
        const err = await rejection(attempt(ch));
        expect(err, what).to.include({ code: 403, name: 'ACCESS_REFUSED' });
      }
      // The default exchange still routes.
      await setup.sendToQueue('dq', Buffer.from('still-works'));
      expect(await drain(setup, 'dq')).to.deep.equal(['still-works']);
    });

    it('amq.* exchanges: redeclared when equivalent, never created or deleted by clients (403)', async () => {
      const { conn, ch } = await open(fx.tb.url, fx.conns);
      await ch.assertExchange('amq.direct', 'direct', { durable: true });
      await ch.checkExchange('amq.match');
      const attempts: [string, (c: Channel) => Promise<unknown>, number][] = [
        ['create amq.custom', (c) => c.assertExchange('amq.custom', 'topic'), 403],
        ['delete amq.fanout', (c) => c.deleteExchange('amq.fanout'), 403],
        ['redeclare amq.topic as fanout', (c) => c.assertExchange('amq.topic', 'fanout'), 406],
        ['redeclare amq.direct transient', (c) => c.assertExchange('amq.direct', 'direct', { durable: false }), 406],
      ];
      for (const [what, attempt, code] of attempts) {
        const c = await conn.createChannel();
        expect(await rejection(attempt(c)), what).to.include({ code });
      }
    });

    it('an unknown exchange type is 503 COMMAND_INVALID, a connection error; overlong names are 406', async () => {
      const a = await open(fx.tb.url, fx.conns);
      const err = await rejection(a.ch.assertExchange('typo', 'topics'));
      expect(err).to.include({ code: 503, name: 'COMMAND_INVALID' });
      const b = await open(fx.tb.url, fx.conns);
      expect(await rejection(b.ch.assertExchange('x'.repeat(256), 'direct'))).to.include({ code: 406 });
      const c = await b.conn.createChannel(); // a channel error: the connection carries on
      expect(await rejection(c.checkExchange('typo'))).to.include({ code: 404 });
    });

    it('binding to or from a missing queue or exchange is 404', async () => {
      const { conn } = await open(fx.tb.url, fx.conns);
      const setup = await conn.createChannel();
      await setup.assertQueue('real-q', { durable: false });
      await setup.assertExchange('real-x', 'topic', { durable: false });
      const attempts: [string, (ch: Channel) => Promise<unknown>, RegExp][] = [
        ['queue', (ch) => ch.bindQueue('no-q', 'real-x', '#'), /no queue 'no-q'/],
        ['exchange', (ch) => ch.bindQueue('real-q', 'no-x', '#'), /no exchange 'no-x'/],
        ['both', (ch) => ch.bindQueue('no-q', 'no-x', '#'), /no exchange 'no-x'/],
        ['e2e source', (ch) => ch.bindExchange('real-x', 'no-x', '#'), /no exchange 'no-x'/],
        ['e2e destination', (ch) => ch.bindExchange('no-x', 'real-x', '#'), /no exchange 'no-x'/],
        ['unbind queue', (ch) => ch.unbindQueue('no-q', 'real-x', '#'), /no queue 'no-q'/],
        ['unbind exchange', (ch) => ch.unbindExchange('real-x', 'no-x', '#'), /no exchange 'no-x'/],
      ];
      for (const [what, attempt, message] of attempts) {
        const ch = await conn.createChannel();
        const err = await rejection(attempt(ch));
        expect(err, what).to.include({ code: 404, name: 'NOT_FOUND' });
        expect(err.message, what).to.match(message);
      }
    });

    it('deleting a queue removes its bindings', async () => {
      const { ch } = await open(fx.tb.url, fx.conns);
      await ch.assertExchange('dqx', 'topic', { durable: true });
      await ch.assertQueue('dqq', { durable: true });
      await ch.bindQueue('dqq', 'dqx', 'a.#');
      await ch.bindQueue('dqq', 'amq.topic', 'a.#');
      await ch.deleteQueue('dqq');
      await ch.assertQueue('dqq', { durable: true }); // same name, new queue: no bindings
      const returned: string[] = [];
      ch.on('return', (m) => returned.push(body(m)));
      await ch.publish('dqx', 'a.b', Buffer.from('1'), { mandatory: true });
      await ch.publish('amq.topic', 'a.b', Buffer.from('2'), { mandatory: true });
      expect(returned).to.deep.equal(['1', '2']);
      expect(await drain(ch, 'dqq')).to.deep.equal([]);
      // ...and they do not come back after a restart.
      await closeAll(fx.conns);
      fx.tb = await fx.tb.restart();
      const after = await open(fx.tb.url, fx.conns);
      const returnedAfter: string[] = [];
      after.ch.on('return', (m) => returnedAfter.push(body(m)));
      await after.ch.publish('dqx', 'a.b', Buffer.from('3'), { mandatory: true });
      expect(returnedAfter).to.deep.equal(['3']);
    });
  });

  describe('persistence across a restart', () => {
    it('keeps durable exchanges, bindings and their arguments, including exchange-to-exchange bindings', async () => {
      const { ch } = await open(fx.tb.url, fx.conns);
      await ch.assertExchange('p.topic', 'topic', { durable: true, alternateExchange: 'p.ae' });
      await ch.assertExchange('p.ae', 'fanout', { durable: true });
      await ch.assertExchange('p.headers', 'headers', { durable: true });
      await ch.assertExchange('p.internal', 'direct', { durable: true, internal: true });
      await ch.assertExchange('p.auto', 'fanout', { durable: true, autoDelete: true });
      await ch.assertExchange('p.transient', 'fanout', { durable: false });
      for (const q of ['pq.orders', 'pq.ae', 'pq.h.all', 'pq.h.any', 'pq.internal', 'pq.auto', 'pq.unbound']) {
        await ch.assertQueue(q, { durable: true });
      }
      await ch.assertQueue('pq.transient', { durable: false });
      await ch.bindQueue('pq.orders', 'p.topic', 'orders.*.eu');
      await ch.bindQueue('pq.orders', 'p.topic', 'orders.#.archive');
      await ch.bindQueue('pq.ae', 'p.ae', '');
      await ch.bindQueue('pq.h.all', 'p.headers', '', { format: 'pdf', version: 2, urgent: null, 'x-note': 'ignored' });
      await ch.bindQueue('pq.h.any', 'p.headers', '', { 'x-match': 'any', region: 'eu', tier: 1 });
      await ch.bindExchange('p.internal', 'p.topic', 'internal.#');
      await ch.bindExchange('p.headers', 'p.topic', 'headers.#');
      await ch.bindQueue('pq.internal', 'p.internal', 'internal.x');
      await ch.bindQueue('pq.auto', 'p.auto', '');
      await ch.bindQueue('pq.unbound', 'p.topic', 'unbound.#');
      await ch.unbindQueue('pq.unbound', 'p.topic', 'unbound.#');
      await ch.bindQueue('pq.transient', 'p.topic', '#'); // transient queue: binding not stored
      await ch.bindQueue('pq.auto', 'p.transient', ''); // transient exchange: binding not stored

      await closeAll(fx.conns);
      fx.tb = await fx.tb.restart();
      const { ch: c } = await open(fx.tb.url, fx.conns);
      expect(await rejection(c.checkQueue('pq.transient'))).to.include({ code: 404 });
      const c2 = await fx.conns[0]!.createChannel();
      expect(await rejection(c2.checkExchange('p.transient'))).to.include({ code: 404 });
      const ch3 = await fx.conns[0]!.createChannel();
      await ch3.checkExchange('p.auto');

      const returned: string[] = [];
      ch3.on('return', (m) => returned.push(body(m)));
      const pub = (x: string, key: string, b: string, headers?: Record<string, unknown>): Promise<void> =>
        ch3.publish(x, key, Buffer.from(b), {
          mandatory: true,
          persistent: true,
          ...(headers === undefined ? {} : { headers }),
        });
      await pub('p.topic', 'orders.new.eu', 'orders-eu');
      await pub('p.topic', 'orders.2024.q1.archive', 'orders-archive');
      await pub('p.topic', 'unbound.x', 'unbound-to-ae'); // unbound stays unbound: goes to the AE
      await pub('p.topic', 'internal.x', 'internal');
      await pub('p.topic', 'headers.a', 'h-all', { format: 'pdf', version: 2, urgent: 'yes' });
      await pub('p.topic', 'headers.b', 'h-all-miss', { format: 'pdf', version: 3, urgent: 'yes' });
      await pub('p.topic', 'headers.c', 'h-any', { region: 'us', tier: 1 });
      await pub('p.auto', '', 'auto');
      expect(returned).to.deep.equal(['h-all-miss']);
      expect(
        await drainAll(ch3, ['pq.orders', 'pq.ae', 'pq.h.all', 'pq.h.any', 'pq.internal', 'pq.auto', 'pq.unbound']),
      ).to.deep.equal({
        'pq.orders': ['orders-eu', 'orders-archive'],
        'pq.ae': ['unbound-to-ae'],
        'pq.h.all': ['h-all'],
        'pq.h.any': ['h-any'],
        'pq.internal': ['internal'],
        'pq.auto': ['auto'],
        'pq.unbound': [],
      });
      // The internal flag survived: publishing to it directly is still refused.
      expect(await rejection(ch3.publish('p.internal', 'internal.x', Buffer.from('no')))).to.include({ code: 403 });
      // The auto-delete flag survived: removing its last binding deletes it, also from the store.
      const ch4 = await fx.conns[0]!.createChannel();
      await ch4.unbindQueue('pq.auto', 'p.auto', '');
      expect(await rejection(ch4.checkExchange('p.auto'))).to.include({ code: 404 });

      await closeAll(fx.conns);
      fx.tb = await fx.tb.restart();
      const { conn: conn2, ch: d } = await open(fx.tb.url, fx.conns);
      expect(await rejection(d.checkExchange('p.auto'))).to.include({ code: 404 });
      const d2 = await conn2.createChannel();
      await d2.publish('p.topic', 'orders.x.eu', Buffer.from('again'));
      expect(await drain(d2, 'pq.orders')).to.deep.equal(['again']);
    });

    it('never stores bindings of exclusive queues, so none reattach to a later queue of the same name', async () => {
      const a = await open(fx.tb.url, fx.conns);
      await a.ch.assertExchange('p.excl', 'direct', { durable: true });
      await a.ch.assertQueue('p.excl.q', { durable: true, exclusive: true });
      await a.ch.bindQueue('p.excl.q', 'p.excl', 'k');
      fx.tb = await fx.tb.restart(); // the connection is still open: its exclusive queue just vanishes
      await closeAll(fx.conns);
      const b = await open(fx.tb.url, fx.conns);
      await b.ch.assertQueue('p.excl.q', { durable: true }); // a different, durable queue
      const returned: string[] = [];
      b.ch.on('return', (m) => returned.push(body(m)));
      await b.ch.publish('p.excl', 'k', Buffer.from('1'), { mandatory: true });
      await closeAll(fx.conns);
      fx.tb = await fx.tb.restart();
      const c = await open(fx.tb.url, fx.conns);
      c.ch.on('return', (m) => returned.push(body(m)));
      await c.ch.publish('p.excl', 'k', Buffer.from('2'), { mandatory: true });
      expect(returned).to.deep.equal(['1', '2']);
      expect(await drain(c.ch, 'p.excl.q')).to.deep.equal([]);
    });

    it('keeps bindings with long names and keys', async () => {
      const { ch } = await open(fx.tb.url, fx.conns);
      const x = `x.${'long-exchange-name.'.repeat(2)}end`;
      const q = `q.${'long-queue-name.'.repeat(3)}end`;
      const key = `${'segment.'.repeat(30)}#`;
      await ch.assertExchange(x, 'topic', { durable: true });
      await ch.assertQueue(q, { durable: true });
      await ch.bindQueue(q, x, key);
      await closeAll(fx.conns);
      fx.tb = await fx.tb.restart();
      const { ch: c } = await open(fx.tb.url, fx.conns);
      await c.publish(x, `${'segment.'.repeat(30)}tail`, Buffer.from('long'));
      expect(await drain(c, q)).to.deep.equal(['long']);
    });

    it('restores a binding written straight to the store, and forgets it when it is unbound', async () => {
      const { ch } = await open(fx.tb.url, fx.conns);
      await ch.assertExchange('lx', 'direct', { durable: true });
      await ch.assertQueue('lq', { durable: true });
      const b: Binding = { source: 'lx', destination: 'lq', destinationKind: 'queue', routingKey: 'k', arguments: {} };
      brokerInternals(fx.tb.broker).store.putBinding(bindingKey(b), b); // as the vhost stores it
      await closeAll(fx.conns);
      fx.tb = await fx.tb.restart();
      const { ch: c } = await open(fx.tb.url, fx.conns);
      await c.publish('lx', 'k', Buffer.from('old-binding'));
      expect(await drain(c, 'lq')).to.deep.equal(['old-binding']);
      await c.unbindQueue('lq', 'lx', 'k');
      await closeAll(fx.conns);
      fx.tb = await fx.tb.restart();
      const { ch: d } = await open(fx.tb.url, fx.conns);
      await d.publish('lx', 'k', Buffer.from('unbound'));
      expect(await drain(d, 'lq')).to.deep.equal([]);
    });

    it('keeps a headers binding with large arguments', async () => {
      const { ch } = await open(fx.tb.url, fx.conns);
      await ch.assertExchange('p.big', 'headers', { durable: true });
      await ch.assertQueue('pq.big', { durable: true });
      const args: Record<string, unknown> = {};
      for (let i = 0; i < 40; i++) args[`key-${i}`] = `value-${i}-${'v'.repeat(100)}`;
      await ch.bindQueue('pq.big', 'p.big', '', args);
      await ch.publish('p.big', '', Buffer.from('before'), { headers: args, persistent: true });
      await closeAll(fx.conns);
      fx.tb = await fx.tb.restart();
      const { ch: c } = await open(fx.tb.url, fx.conns);
      await c.publish('p.big', '', Buffer.from('after'), { headers: args });
      expect(await drain(c, 'pq.big')).to.deep.equal(['before', 'after']);
      await c.unbindQueue('pq.big', 'p.big', '', args);
      await closeAll(fx.conns);
      fx.tb = await fx.tb.restart();
      const { ch: e } = await open(fx.tb.url, fx.conns);
      await e.publish('p.big', '', Buffer.from('unbound'), { headers: args });
      expect(await drain(e, 'pq.big')).to.deep.equal([]);
    });
  });
});
