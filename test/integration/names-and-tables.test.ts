import { expect } from 'chai';
import { connect } from '@switchyard/client';
import { VirtualHost, LmdbStore } from '@switchyard/broker/internal';
import { useBroker } from '../helpers/broker.js';
import { open } from '../helpers/client.js';
import { api, GUEST_AUTH } from '../helpers/http.js';
import { makeTmpDir } from '../helpers/tmp.js';

describe('names and field tables (spec/semantics.md §Names, spec/protocol.md §Field tables)', () => {
  const f = useBroker();

  describe('names', () => {
    it('refuses queue and exchange names with control characters (406), over AMQP and the management API', async () => {
      const { conn } = await open(f.tb.url, f.conns);
      for (const declare of [
        (ch: Awaited<ReturnType<typeof conn.createChannel>>) => ch.assertQueue('bad\nname', { durable: false }),
        (ch: Awaited<ReturnType<typeof conn.createChannel>>) =>
          ch.assertExchange('bad\u0000x', 'direct', { durable: false }),
        (ch: Awaited<ReturnType<typeof conn.createChannel>>) => ch.assertQueue('c1\u0085', { durable: false }),
      ]) {
        const ch = await conn.createChannel();
        const err = await declare(ch).catch((e: unknown) => e);
        expect(err).to.include({ code: 406 });
        expect((err as Error).message).to.match(
          /contains the control character U\+00(0A|00|85); use printable characters/,
        );
      }
      const res = await api(f.tb, 'PUT', `/api/queues/%2F/${encodeURIComponent('tab\there')}`, { durable: false });
      expect(res.status).to.equal(400);
      expect(JSON.stringify(res.body)).to.match(/control character U\+0009/);
      // invalid UTF-8 through the management API: in the path, and in a JSON body
      expect((await api(f.tb, 'PUT', '/api/queues/%2F/bad%FFname', { durable: false })).status).to.equal(400);
      const raw = await fetch(`${f.tb.broker.managementUrl}/api/exchanges/%2F/amq.direct/publish`, {
        method: 'POST',
        headers: { authorization: GUEST_AUTH, 'content-type': 'application/json' },
        body: Buffer.concat([Buffer.from('{"routingKey":"k'), Buffer.from([0xff]), Buffer.from('","payload":"x"}')]),
      });
      expect(raw.status).to.equal(400);
      expect(await raw.text()).to.match(/not valid UTF-8/);
      const lone = await api(f.tb, 'POST', '/api/exchanges/%2F/amq.direct/publish', {
        routingKey: '\ud800',
        payload: 'x',
      });
      expect(lone.status).to.equal(400);
      expect(JSON.stringify(lone.body)).to.match(/lone surrogate/);
      const ch = await conn.createChannel();
      await ch.assertQueue('ünïcode-ok ✓', { durable: false });
    });

    it('counts the 255-byte limit in UTF-8 bytes, for names, routing keys and consumer tags', async () => {
      const { conn } = await open(f.tb.url, f.conns);
      let ch = await conn.createChannel();
      const err = await ch.assertQueue('é'.repeat(128), { durable: false }).catch((e: unknown) => e);
      expect(err).to.include({ code: 406 });
      expect((err as Error).message).to.match(/queue name is 256 bytes of UTF-8; the limit is 255/);
      ch = await conn.createChannel();
      await ch.assertQueue('q', { durable: false });
      const bind = await ch.bindQueue('q', 'amq.direct', 'k'.repeat(256)).catch((e: unknown) => e);
      expect((bind as Error).message).to.match(/routing key is 256 bytes/);
      ch = await conn.createChannel();
      const consume = await ch.consume('q', () => undefined, { consumerTag: 't'.repeat(256) }).catch((e: unknown) => e);
      expect((consume as Error).message).to.match(/consumer tag is 256 bytes/);
      ch = await conn.createChannel();
      const pub = await ch.publish('amq.direct', 'r'.repeat(256), 'x').catch((e: unknown) => e);
      expect((pub as Error).message).to.match(/routing key is 256 bytes/);
    });
  });

  describe('field tables', () => {
    it('the SDK refuses to send a value the broker would refuse, with a TypeError naming the field', async () => {
      const { ch } = await open(f.tb.url, f.conns);
      const selfRef: unknown[] = [];
      selfRef.push(selfRef);
      expect(() => ch.publish('amq.direct', 'k', 'x', { headers: { h: [new Date()] } })).to.throw(
        TypeError,
        /^options\.headers\.h\[0\]: a Date is not a field value/,
      );
      expect(() => ch.publish('amq.direct', 'k', 'x', { headers: { h: selfRef } })).to.throw(
        TypeError,
        /options\.headers\.h(\[0\])+: nested more than 16/,
      );
      expect(() => ch.publish('amq.direct', 'k', 'x', { headers: { n: NaN } })).to.throw(
        TypeError,
        /options\.headers\.n: NaN is not a finite number/,
      );
      expect(() => ch.assertQueue('q', { arguments: { 'x-message-ttl': 10n } })).to.throw(
        TypeError,
        /options\.arguments\.x-message-ttl: a bigint/,
      );
      expect(() => ch.bindQueue('q', 'amq.headers', '', { m: new Set() })).to.throw(
        TypeError,
        /args\.m: a Set is not a field value/,
      );
      const bad = await Promise.resolve()
        .then(() => connect(f.tb.url, { clientProperties: { when: new Date() } }))
        .catch((e: unknown) => e);
      expect(bad).to.be.instanceOf(TypeError);
      // the channel is untouched
      await ch.assertQueue('fine', { durable: false });
    });

    it('the management API and definitions refuse tables that are not AMQP field values (400 naming the field)', async () => {
      let deep: Record<string, unknown> = { leaf: 1 };
      for (let i = 0; i < 40; i++) deep = { d: deep };
      const q = await api(f.tb, 'PUT', '/api/queues/%2F/deep', { arguments: { 'x-custom': deep } });
      expect(q.status).to.equal(400);
      expect(q.body.reason ?? JSON.stringify(q.body)).to.match(/arguments\.x-custom(\.d)+: nested more than 16/);
      const many: Record<string, number> = {};
      for (let i = 0; i < 5000; i++) many[`k${i}`] = i;
      const p = await api(f.tb, 'POST', '/api/exchanges/%2F/amq.direct/publish', {
        routingKey: 'k',
        payload: 'x',
        properties: { headers: many },
      });
      expect(p.status).to.equal(400);
      expect(JSON.stringify(p.body)).to.match(/more than 4096 keys/);
      const d = await api(f.tb, 'POST', '/api/definitions', {
        queues: [{ name: 'dq', vhost: '/', arguments: { a: deep } }],
      });
      expect(d.status).to.equal(400);
      expect(JSON.stringify(d.body)).to.match(/queues\[0\]\.arguments\.a(\.d)+: nested more than 16/);
      expect((await api(f.tb, 'GET', '/api/queues')).status).to.equal(200);
    });
  });
});

describe('a store write that throws during a declare', () => {
  it('fails the declare (541) and leaves no queue, exchange or binding behind', async () => {
    const tmp = await makeTmpDir('store-fail');
    const store = LmdbStore.open({ path: tmp.dir, noSync: true });
    try {
      const vhost = new VirtualHost('/', store);
      // A value msgpack cannot encode (a BigInt beyond 64 bits): the store's write throws.
      const poison = { 'x-poison': 2n ** 70n };
      const q = (() => {
        try {
          vhost.declareQueue(
            { queue: 'dq', passive: false, durable: true, exclusive: false, autoDelete: false, arguments: poison },
            'c1',
          );
        } catch (err) {
          return err;
        }
        return undefined;
      })();
      expect(q).to.include({ code: 541 });
      expect((q as Error).message).to.match(/could not store queue 'dq'/);
      expect(vhost.queue('dq')).to.equal(undefined);

      expect(() =>
        vhost.declareExchange({
          exchange: 'dx',
          exchangeType: 'direct',
          passive: false,
          durable: true,
          autoDelete: false,
          internal: false,
          arguments: poison,
        }),
      ).to.throw(/could not store exchange 'dx'/);
      expect(vhost.exchange('dx')).to.equal(undefined);

      vhost.declareQueue(
        { queue: 'ok', passive: false, durable: true, exclusive: false, autoDelete: false, arguments: {} },
        'c1',
      );
      expect(() =>
        vhost.bind(
          {
            source: 'amq.headers',
            destination: 'ok',
            destinationKind: 'queue',
            routingKey: '',
            arguments: { 'x-match': 'all', h: 2n ** 70n },
          },
          'c1',
        ),
      ).to.throw(/could not store binding/);
      expect([...vhost.allBindings()].filter((b) => b.destination === 'ok')).to.deep.equal([]);
      vhost.stop();
    } finally {
      await store.close();
      await tmp.remove();
    }
  });
});
