import { expect } from 'chai';
import { EXCHANGE_TYPES } from '@switchyard/client/protocol';
import { startBroker, useBroker } from '../helpers/broker.js';
import { nextEvent, open, text, waitFor } from '../helpers/client.js';
import { api, GUEST_AUTH, V } from '../helpers/http.js';
import { brokerInternals } from '@switchyard/broker/internal';

describe('management API: actions', () => {
  const fx = useBroker({}, { per: 'suite' });

  describe('PUT /api/queues/:vhost/:name (declare)', () => {
    it('creates a durable queue (201), then answers 200 for an equivalent redeclare', async () => {
      const a = await api(fx.tb, 'PUT', `/api/queues/${V}/aq-1`, { arguments: { 'x-max-length': 10 } });
      expect(a.status).to.equal(201);
      expect(a.body).to.include({ name: 'aq-1', durable: true, autoDelete: false, messagesReady: 0 });
      const b = await api(fx.tb, 'PUT', `/api/queues/${V}/aq-1`, { durable: true, arguments: { 'x-max-length': 10 } });
      expect(b.status).to.equal(200);
      const { ch } = await open(fx.tb.url, fx.conns);
      expect((await ch.checkQueue('aq-1')).queue).to.equal('aq-1');
    });

    it('declares with an empty body and without content-type', async () => {
      const res = await fetch(`${fx.tb.broker.managementUrl}/api/queues/${V}/aq-empty`, {
        method: 'PUT',
        headers: { authorization: GUEST_AUTH },
      });
      expect(res.status).to.equal(201);
    });

    it('400s a bad body naming the field', async () => {
      const a = await api(fx.tb, 'PUT', `/api/queues/${V}/aq-2`, { durable: 'yes' });
      expect(a.status).to.equal(400);
      expect(a.body).to.deep.equal({
        error: 'bad_request',
        reason: 'field "durable": expected true or false, got "yes"',
        field: 'durable',
      });
      const b = await api(fx.tb, 'PUT', `/api/queues/${V}/aq-2`, { auto_delete: true });
      expect(b.status).to.equal(400);
      expect(b.body.field).to.equal('auto_delete');
      expect(b.body.reason).to.match(/unknown field; this endpoint accepts "durable", "autoDelete", "arguments"/);
      const c = await api(fx.tb, 'PUT', `/api/queues/${V}/aq-2`, { arguments: [1] });
      expect(c.status).to.equal(400);
      expect(c.body.field).to.equal('arguments');
      const d = await api(fx.tb, 'PUT', `/api/queues/${V}/aq-2`, '{"durable": tru', {
        'content-type': 'application/json',
      });
      expect(d.status).to.equal(400);
      expect(d.body.reason).to.match(/not valid JSON/);
      const e = await api(fx.tb, 'PUT', `/api/queues/${V}/aq-2`, '[]', { 'content-type': 'application/json' });
      expect(e.status).to.equal(400);
      expect((await api(fx.tb, 'GET', `/api/queues/${V}/aq-2`)).status).to.equal(404);
    });

    it('400s an invalid queue argument (field "arguments"), keeping the AMQP code', async () => {
      const r = await api(fx.tb, 'PUT', `/api/queues/${V}/aq-3`, { arguments: { 'x-max-length': 'ten' } });
      expect(r.status).to.equal(400);
      expect(r.body).to.include({ error: 'PRECONDITION_FAILED', code: 406, field: 'arguments' });
      expect(r.body.reason).to.match(/x-max-length/);
    });

    it('415s a body that is not JSON', async () => {
      const r = await api(fx.tb, 'PUT', `/api/queues/${V}/aq-4`, 'durable=true', {
        'content-type': 'application/x-www-form-urlencoded',
      });
      expect(r.status).to.equal(415);
    });

    it('409s an inequivalent redeclare with PRECONDITION_FAILED 406', async () => {
      await api(fx.tb, 'PUT', `/api/queues/${V}/aq-5`, { durable: true });
      const r = await api(fx.tb, 'PUT', `/api/queues/${V}/aq-5`, { durable: false });
      expect(r.status).to.equal(409);
      expect(r.body).to.include({ error: 'PRECONDITION_FAILED', code: 406 });
      expect(r.body.reason).to.match(/inequivalent arg 'durable'/);
    });

    it('403s a reserved amq. name', async () => {
      const r = await api(fx.tb, 'PUT', `/api/queues/${V}/amq.mine`, {});
      expect(r.status).to.equal(403);
      expect(r.body).to.include({ error: 'ACCESS_REFUSED', code: 403 });
    });

    it('409s access to a queue exclusive to a client... but the administrator may purge it', async () => {
      const { ch } = await open(fx.tb.url, fx.conns);
      await ch.assertQueue('aq-excl', { exclusive: true });
      await ch.sendToQueue('aq-excl', Buffer.from('x'));
      const redeclare = await api(fx.tb, 'PUT', `/api/queues/${V}/aq-excl`, {});
      expect(redeclare.status).to.equal(409);
      expect(redeclare.body).to.include({ error: 'RESOURCE_LOCKED', code: 405 });
      expect((await api(fx.tb, 'DELETE', `/api/queues/${V}/aq-excl/contents`)).body).to.deep.equal({ messageCount: 1 });
    });
  });

  describe('DELETE /api/queues/:vhost/:name', () => {
    it('deletes a queue, returning how many messages it held; 404 when unknown', async () => {
      const { ch } = await open(fx.tb.url, fx.conns);
      await ch.assertQueue('dq-1');
      await ch.sendToQueue('dq-1', Buffer.from('a'));
      await ch.sendToQueue('dq-1', Buffer.from('b'));
      const r = await api(fx.tb, 'DELETE', `/api/queues/${V}/dq-1`);
      expect(r.status).to.equal(200);
      expect(r.body).to.deep.equal({ messageCount: 2 });
      expect((await api(fx.tb, 'DELETE', `/api/queues/${V}/dq-1`)).status).to.equal(404);
    });

    it('honours ifEmpty and ifUnused with 409', async () => {
      const { ch } = await open(fx.tb.url, fx.conns);
      await ch.assertQueue('dq-2');
      await ch.sendToQueue('dq-2', Buffer.from('a'));
      const notEmpty = await api(fx.tb, 'DELETE', `/api/queues/${V}/dq-2?ifEmpty=true`);
      expect(notEmpty.status).to.equal(409);
      expect(notEmpty.body.reason).to.match(/not empty/);
      await ch.consume('dq-2', () => undefined);
      const inUse = await api(fx.tb, 'DELETE', `/api/queues/${V}/dq-2?ifUnused=true`);
      expect(inUse.status).to.equal(409);
      expect(inUse.body.reason).to.match(/in use/);
      const bad = await api(fx.tb, 'DELETE', `/api/queues/${V}/dq-2?ifUnused=maybe`);
      expect(bad.status).to.equal(400);
      expect(bad.body.field).to.equal('ifUnused');
    });

    it('cancels consumers of a deleted queue', async () => {
      const { ch } = await open(fx.tb.url, fx.conns);
      await ch.assertQueue('dq-3');
      const cancelled = nextEvent(ch, 'cancel').catch(() => undefined);
      await ch.consume('dq-3', () => undefined);
      await api(fx.tb, 'DELETE', `/api/queues/${V}/dq-3`);
      await cancelled;
      expect(
        (await api(fx.tb, 'GET', `/api/consumers/${V}`)).body.filter((c: any) => c.queue === 'dq-3'),
      ).to.have.length(0);
    });
  });

  describe('DELETE /api/queues/:vhost/:name/contents (purge)', () => {
    it('removes ready messages and says how many; 404 when unknown', async () => {
      const { ch } = await open(fx.tb.url, fx.conns);
      await ch.assertQueue('pq-1');
      for (let i = 0; i < 3; i++) await ch.sendToQueue('pq-1', Buffer.from('x'));
      const r = await api(fx.tb, 'DELETE', `/api/queues/${V}/pq-1/contents`);
      expect(r.status).to.equal(200);
      expect(r.body).to.deep.equal({ messageCount: 3 });
      expect((await ch.checkQueue('pq-1')).messageCount).to.equal(0);
      expect((await api(fx.tb, 'DELETE', `/api/queues/${V}/nope/contents`)).status).to.equal(404);
    });
  });

  describe('exchanges: PUT and DELETE /api/exchanges/:vhost/:name', () => {
    it('declares (201/200), refuses bad types (400) and reserved names (403), deletes (204) and 404s unknown', async () => {
      expect((await api(fx.tb, 'PUT', `/api/exchanges/${V}/ax-1`, { type: 'fanout' })).status).to.equal(201);
      expect((await api(fx.tb, 'PUT', `/api/exchanges/${V}/ax-1`, { type: 'fanout' })).status).to.equal(200);
      const mismatch = await api(fx.tb, 'PUT', `/api/exchanges/${V}/ax-1`, { type: 'topic' });
      expect(mismatch.status).to.equal(409);
      const badType = await api(fx.tb, 'PUT', `/api/exchanges/${V}/ax-2`, { type: 'x-delayed' });
      expect(badType.status).to.equal(400);
      expect(badType.body.field).to.equal('type');
      expect((await api(fx.tb, 'PUT', `/api/exchanges/${V}/amq.default`, {})).status).to.equal(403);
      expect((await api(fx.tb, 'PUT', `/api/exchanges/${V}/amq.custom`, {})).status).to.equal(403);
      expect((await api(fx.tb, 'DELETE', `/api/exchanges/${V}/amq.topic`)).status).to.equal(403);
      expect((await api(fx.tb, 'DELETE', `/api/exchanges/${V}/ax-1`)).status).to.equal(204);
      expect((await api(fx.tb, 'DELETE', `/api/exchanges/${V}/ax-1`)).status).to.equal(404);
    });

    it('declares every exchange type the broker routes with, x-consistent-hash included (one list)', async () => {
      expect(EXCHANGE_TYPES).to.include('x-consistent-hash');
      for (const type of EXCHANGE_TYPES) {
        expect((await api(fx.tb, 'PUT', `/api/exchanges/${V}/types-${type}`, { type })).status, type).to.equal(201);
        const x = await api(fx.tb, 'GET', `/api/exchanges/${V}/types-${type}`);
        expect(x.body.type, type).to.equal(type);
      }
    });

    it('409s deleting an exchange in use with ifUnused', async () => {
      await api(fx.tb, 'PUT', `/api/exchanges/${V}/ax-3`, { type: 'direct' });
      await api(fx.tb, 'PUT', `/api/queues/${V}/aq-x3`, {});
      await api(fx.tb, 'POST', `/api/bindings/${V}/e/ax-3/q/aq-x3`, { routingKey: 'k' });
      const r = await api(fx.tb, 'DELETE', `/api/exchanges/${V}/ax-3?ifUnused=true`);
      expect(r.status).to.equal(409);
      expect(r.body.code).to.equal(406);
    });
  });

  describe('bindings: POST and DELETE /api/bindings/:vhost/e/:source/(q|e)/:destination', () => {
    it('binds a queue so publishes route, and unbinds it by properties key', async () => {
      await api(fx.tb, 'PUT', `/api/exchanges/${V}/bx-1`, { type: 'topic' });
      await api(fx.tb, 'PUT', `/api/queues/${V}/bq-1`, {});
      const b = await api(fx.tb, 'POST', `/api/bindings/${V}/e/bx-1/q/bq-1`, { routingKey: 'orders.#' });
      expect(b.status).to.equal(201);
      expect(b.body).to.include({
        source: 'bx-1',
        destination: 'bq-1',
        destinationType: 'queue',
        routingKey: 'orders.#',
        propertiesKey: 'orders.#',
      });
      const p = await api(fx.tb, 'POST', `/api/exchanges/${V}/bx-1/publish`, {
        routingKey: 'orders.eu',
        payload: 'hi',
      });
      expect(p.body).to.deep.equal({ routed: true, queues: 1 });
      const del = await api(fx.tb, 'DELETE', `/api/bindings/${V}/e/bx-1/q/bq-1/${encodeURIComponent('orders.#')}`);
      expect(del.status).to.equal(204);
      expect(
        (await api(fx.tb, 'POST', `/api/exchanges/${V}/bx-1/publish`, { routingKey: 'orders.eu', payload: 'hi' })).body
          .routed,
      ).to.equal(false);
      expect(
        (await api(fx.tb, 'DELETE', `/api/bindings/${V}/e/bx-1/q/bq-1/${encodeURIComponent('orders.#')}`)).status,
      ).to.equal(404);
    });

    it('binds with arguments and exchange to exchange', async () => {
      await api(fx.tb, 'PUT', `/api/exchanges/${V}/bx-2`, { type: 'fanout' });
      await api(fx.tb, 'PUT', `/api/exchanges/${V}/bx-3`, { type: 'headers' });
      await api(fx.tb, 'PUT', `/api/queues/${V}/bq-2`, {});
      expect((await api(fx.tb, 'POST', `/api/bindings/${V}/e/bx-2/e/bx-3`, {})).status).to.equal(201);
      const hb = await api(fx.tb, 'POST', `/api/bindings/${V}/e/bx-3/q/bq-2`, {
        arguments: { 'x-match': 'all', kind: 'pdf' },
      });
      expect(hb.status).to.equal(201);
      const r1 = await api(fx.tb, 'POST', `/api/exchanges/${V}/bx-2/publish`, {
        payload: 'a',
        properties: { headers: { kind: 'pdf' } },
      });
      const r2 = await api(fx.tb, 'POST', `/api/exchanges/${V}/bx-2/publish`, {
        payload: 'b',
        properties: { headers: { kind: 'png' } },
      });
      expect([r1.body.routed, r2.body.routed]).to.deep.equal([true, false]);
      const del = await api(
        fx.tb,
        'DELETE',
        `/api/bindings/${V}/e/bx-3/q/bq-2/${encodeURIComponent(hb.body.propertiesKey)}`,
      );
      expect(del.status).to.equal(204);
    });

    it('404s unknown source or destination and 400s bad binding arguments', async () => {
      await api(fx.tb, 'PUT', `/api/queues/${V}/bq-3`, {});
      expect((await api(fx.tb, 'POST', `/api/bindings/${V}/e/nope/q/bq-3`, {})).status).to.equal(404);
      expect((await api(fx.tb, 'POST', `/api/bindings/${V}/e/amq.direct/q/nope`, {})).status).to.equal(404);
      const bad = await api(fx.tb, 'POST', `/api/bindings/${V}/e/amq.direct/q/bq-3`, { routingKey: 7 });
      expect(bad.status).to.equal(400);
      expect(bad.body.field).to.equal('routingKey');
      const hdr = await api(fx.tb, 'POST', `/api/bindings/${V}/e/amq.headers/q/bq-3`, {
        arguments: { 'x-match': 'sometimes' },
      });
      expect(hdr.status).to.equal(409);
      expect(hdr.body.code).to.equal(406);
      expect((await api(fx.tb, 'POST', `/api/bindings/${V}/e/amq.default/q/bq-3`, {})).status).to.equal(403);
    });
  });

  describe('POST /api/exchanges/:vhost/:name/publish', () => {
    it('publishes through the default exchange with properties; a client receives it', async () => {
      const { ch } = await open(fx.tb.url, fx.conns);
      await ch.assertQueue('mq-1', { durable: true });
      const r = await api(fx.tb, 'POST', `/api/exchanges/${V}/amq.default/publish`, {
        routingKey: 'mq-1',
        payload: 'hello',
        properties: { contentType: 'text/plain', persistent: true, headers: { a: 1 }, messageId: 'm-1' },
      });
      expect(r.status).to.equal(200);
      expect(r.body).to.deep.equal({ routed: true, queues: 1 });
      const m = await ch.get('mq-1', { noAck: true });
      expect(text(m)).to.equal('hello');
      expect(m && m.properties).to.include({ contentType: 'text/plain', messageId: 'm-1' });
      expect(m && m.properties.headers).to.deep.equal({ a: 1 });
    });

    it('publishes base64 payloads byte for byte', async () => {
      const { ch } = await open(fx.tb.url, fx.conns);
      await ch.assertQueue('mq-2');
      const bytes = Buffer.from([0, 255, 1, 254]);
      await api(fx.tb, 'POST', `/api/exchanges/${V}/amq.default/publish`, {
        routingKey: 'mq-2',
        payload: bytes.toString('base64'),
        payloadEncoding: 'base64',
      });
      const m = await ch.get('mq-2', { noAck: true });
      expect(m && Buffer.from(m.content).equals(bytes)).to.equal(true);
    });

    it('reports an unroutable message; 404s an unknown exchange; 403s an internal one', async () => {
      const un = await api(fx.tb, 'POST', `/api/exchanges/${V}/amq.direct/publish`, {
        routingKey: 'nobody',
        payload: 'x',
      });
      expect(un.status).to.equal(200);
      expect(un.body).to.deep.equal({ routed: false, queues: 0 });
      expect((await api(fx.tb, 'POST', `/api/exchanges/${V}/nope/publish`, { payload: 'x' })).status).to.equal(404);
      await api(fx.tb, 'PUT', `/api/exchanges/${V}/mx-int`, { type: 'fanout', internal: true });
      const internal = await api(fx.tb, 'POST', `/api/exchanges/${V}/mx-int/publish`, { payload: 'x' });
      expect(internal.status).to.equal(403);
    });

    it('400s bad properties, payload and encoding naming the field', async () => {
      const a = await api(fx.tb, 'POST', `/api/exchanges/${V}/amq.direct/publish`, {
        payload: 'x',
        properties: { priority: 'high' },
      });
      expect(a.status).to.equal(400);
      expect(a.body.field).to.equal('properties');
      expect(a.body.reason).to.match(/priority/);
      const b = await api(fx.tb, 'POST', `/api/exchanges/${V}/amq.direct/publish`, { payload: 42 });
      expect(b.body.field).to.equal('payload');
      const c = await api(fx.tb, 'POST', `/api/exchanges/${V}/amq.direct/publish`, {
        payload: 'x',
        payloadEncoding: 'hex',
      });
      expect(c.body.field).to.equal('payloadEncoding');
      const d = await api(fx.tb, 'POST', `/api/exchanges/${V}/amq.direct/publish`, {
        payload: '!!!',
        payloadEncoding: 'base64',
      });
      expect(d.body.field).to.equal('payload');
    });

    it('413s a message larger than maxMessageBytes', async () => {
      const small = await startBroker({ maxMessageBytes: 10 });
      try {
        const r = await api(small, 'POST', `/api/exchanges/${V}/amq.direct/publish`, { payload: 'x'.repeat(11) });
        expect(r.status).to.equal(413);
        expect(r.body.error).to.equal('CONTENT_TOO_LARGE');
      } finally {
        await small.stop();
      }
    });
  });

  describe('POST /api/queues/:vhost/:name/get', () => {
    it('requeues by default (messages come back redelivered) and acks on request', async () => {
      const { ch } = await open(fx.tb.url, fx.conns);
      await ch.assertQueue('gq-1');
      for (const s of ['one', 'two', 'three']) await ch.sendToQueue('gq-1', Buffer.from(s), { headers: { s } });
      const peek = await api(fx.tb, 'POST', `/api/queues/${V}/gq-1/get`, { count: 2 });
      expect(peek.status).to.equal(200);
      expect(peek.body.map((m: any) => m.payload)).to.deep.equal(['one', 'two']);
      expect(peek.body[0]).to.include({
        exchange: '',
        routingKey: 'gq-1',
        redelivered: false,
        payloadEncoding: 'string',
        payloadBytes: 3,
        messageCount: 2,
      });
      expect(peek.body[0].properties.headers).to.deep.equal({ s: 'one' });
      expect((await ch.checkQueue('gq-1')).messageCount).to.equal(3);
      const take = await api(fx.tb, 'POST', `/api/queues/${V}/gq-1/get`, { count: 10, ackMode: 'ack' });
      expect(take.body.map((m: any) => [m.payload, m.redelivered])).to.deep.equal([
        ['one', true],
        ['two', true],
        ['three', false],
      ]);
      expect((await ch.checkQueue('gq-1')).messageCount).to.equal(0);
      expect((await api(fx.tb, 'POST', `/api/queues/${V}/gq-1/get`, {})).body).to.deep.equal([]);
    });

    it('returns binary payloads as base64', async () => {
      const { ch } = await open(fx.tb.url, fx.conns);
      await ch.assertQueue('gq-2');
      await ch.sendToQueue('gq-2', Buffer.from([0xff, 0xfe]));
      const r = await api(fx.tb, 'POST', `/api/queues/${V}/gq-2/get`, { ackMode: 'ack' });
      expect(r.body[0]).to.include({ payload: '//4=', payloadEncoding: 'base64' });
    });

    it('400s a bad count or ackMode, 404s an unknown queue', async () => {
      await api(fx.tb, 'PUT', `/api/queues/${V}/gq-3`, {});
      expect((await api(fx.tb, 'POST', `/api/queues/${V}/gq-3/get`, { count: 0 })).body.field).to.equal('count');
      expect((await api(fx.tb, 'POST', `/api/queues/${V}/gq-3/get`, { ackMode: 'reject' })).body.field).to.equal(
        'ackMode',
      );
      expect((await api(fx.tb, 'POST', `/api/queues/${V}/nope/get`, {})).status).to.equal(404);
    });
  });

  describe('DELETE /api/connections/:id', () => {
    it('closes a client connection with 320 CONNECTION_FORCED and the reason; 404 when unknown', async () => {
      const { conn } = await open(fx.tb.url, fx.conns);
      const errored = nextEvent<Error & { code?: number }>(conn, 'error');
      const list = await api(fx.tb, 'GET', '/api/connections');
      const id = list.body[list.body.length - 1].id as string;
      const r = await api(fx.tb, 'DELETE', `/api/connections/${id}?reason=${encodeURIComponent('maintenance window')}`);
      expect(r.status).to.equal(204);
      const err = await errored;
      expect(err.code).to.equal(320);
      expect(err.message).to.match(/maintenance window/);
      await waitFor(
        () => [...brokerInternals(fx.tb.broker).allConnections()].every((c) => c.id !== id),
        'the connection to go',
      );
      expect((await api(fx.tb, 'DELETE', `/api/connections/${id}`)).status).to.equal(404);
    });
  });
});
