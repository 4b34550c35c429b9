import { createHash } from 'node:crypto';
import { expect } from 'chai';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startBroker, useBroker } from '../helpers/broker.js';
import { closeAll, open, text } from '../helpers/client.js';
import { makeTmpDir } from '../helpers/tmp.js';
import { api } from '../helpers/http.js';

function guestHash(): string {
  const salt = Buffer.from([1, 2, 3, 4]);
  return Buffer.concat([salt, createHash('sha256').update(salt).update('guest').digest()]).toString('base64');
}

/** A RabbitMQ-style export, as `rabbitmqctl export_definitions` writes one. */
const RABBIT_EXPORT = {
  rabbit_version: '3.13.0',
  // guest/guest in RabbitMQ's salted SHA-256 (the hash rabbitmqctl exports for it)
  users: [
    {
      name: 'guest',
      password_hash: guestHash(),
      hashing_algorithm: 'rabbit_password_hashing_sha256',
      tags: ['administrator'],
    },
  ],
  vhosts: [{ name: '/' }],
  permissions: [{ user: 'guest', vhost: '/', configure: '.*', write: '.*', read: '.*' }],
  policies: [],
  exchanges: [
    { name: 'orders', vhost: '/', type: 'topic', durable: true, auto_delete: false, internal: false, arguments: {} },
    { name: 'dlx', vhost: '/', type: 'fanout', durable: true, auto_delete: false, internal: false, arguments: {} },
  ],
  queues: [
    {
      name: 'orders.eu',
      vhost: '/',
      durable: true,
      auto_delete: false,
      arguments: { 'x-dead-letter-exchange': 'dlx', 'x-max-length': 1000 },
    },
    { name: 'dead', vhost: '/', durable: true, auto_delete: false, arguments: {} },
  ],
  bindings: [
    {
      source: 'orders',
      vhost: '/',
      destination: 'orders.eu',
      destination_type: 'queue',
      routing_key: 'eu.#',
      arguments: {},
    },
    { source: 'dlx', vhost: '/', destination: 'dead', destination_type: 'queue', routing_key: '', arguments: {} },
  ],
};

describe('definitions (export and import)', () => {
  const fx = useBroker({});

  it('imports a RabbitMQ export (users and permissions included) and routes by it', async () => {
    const r = await api(fx.tb, 'POST', '/api/definitions', RABBIT_EXPORT);
    expect(r.status).to.equal(200);
    expect(r.body).to.deep.include({ exchanges: 2, queues: 2, bindings: 2 });
    expect(r.body).to.deep.include({ users: 1, vhosts: 1, permissions: 1 });
    expect(r.body.skipped).to.deep.equal([]);
    const { ch } = await open(fx.tb.url, fx.conns);
    await ch.publish('orders', 'eu.de', Buffer.from('o-1'));
    expect(text(await ch.get('orders.eu', { noAck: true }))).to.equal('o-1');
  });

  it('is idempotent: importing twice changes nothing and keeps messages', async () => {
    await api(fx.tb, 'POST', '/api/definitions', RABBIT_EXPORT);
    const { ch } = await open(fx.tb.url, fx.conns);
    await ch.publish('orders', 'eu.fr', Buffer.from('keep me'));
    const again = await api(fx.tb, 'POST', '/api/definitions', RABBIT_EXPORT);
    expect(again.status).to.equal(200);
    expect((await ch.checkQueue('orders.eu')).messageCount).to.equal(1);
    const bindings = (await api(fx.tb, 'GET', '/api/bindings')).body as unknown[];
    expect(bindings).to.have.length(2);
  });

  it('exports what it imported, in the same format, without built-ins or exclusive queues', async () => {
    await api(fx.tb, 'POST', '/api/definitions', RABBIT_EXPORT);
    const { ch } = await open(fx.tb.url, fx.conns);
    await ch.assertQueue('', { exclusive: true });
    await ch.assertQueue('mine-only', { exclusive: true });
    const r = await api(fx.tb, 'GET', '/api/definitions');
    expect(r.status).to.equal(200);
    expect(r.body.switchyard_version).to.equal(fx.tb.broker.version);
    expect(r.body.vhosts).to.deep.equal([{ name: '/' }]);
    expect(r.body.exchanges).to.have.deep.members(RABBIT_EXPORT.exchanges);
    expect(r.body.queues).to.have.deep.members(RABBIT_EXPORT.queues);
    expect(r.body.bindings).to.have.deep.members(RABBIT_EXPORT.bindings);
  });

  it('round-trips into another broker', async () => {
    await api(fx.tb, 'POST', '/api/definitions', RABBIT_EXPORT);
    const exported = (await api(fx.tb, 'GET', '/api/definitions')).body;
    const other = await startBroker();
    try {
      expect((await api(other, 'POST', '/api/definitions', exported)).status).to.equal(200);
      expect((await api(other, 'GET', '/api/definitions')).body).to.deep.equal(exported);
    } finally {
      await other.stop();
    }
  });

  it('400s a malformed document naming the entry', async () => {
    const a = await api(fx.tb, 'POST', '/api/definitions', { queues: [{ name: 'q', durable: 'yes' }] });
    expect(a.status).to.equal(400);
    expect(a.body).to.deep.include({ error: 'bad_request', field: 'queues[0].durable' });
    expect(a.body.reason).to.equal('queues[0].durable: expected true or false, got "yes"');
    const b = await api(fx.tb, 'POST', '/api/definitions', {
      bindings: [{ source: 'x', destination: 'q', destination_type: 'topic' }],
    });
    expect(b.body.field).to.equal('bindings[0].destination_type');
    const c = await api(fx.tb, 'POST', '/api/definitions', { queuez: [] });
    expect(c.body.field).to.equal('queuez');
    const d = await api(fx.tb, 'POST', '/api/definitions', { queues: [{ name: 'q', vhost: 'elsewhere' }] });
    expect(d.status).to.equal(400);
    expect(d.body.reason).to.match(/vhost 'elsewhere' does not exist/);
  });

  it('409s a definition that conflicts with what exists, naming the entry', async () => {
    await api(fx.tb, 'PUT', '/api/queues/%2F/orders.eu', { durable: false });
    const r = await api(fx.tb, 'POST', '/api/definitions', RABBIT_EXPORT);
    expect(r.status).to.equal(409);
    expect(r.body.code).to.equal(406);
    expect(r.body.reason).to.match(/^queues\[0\] \(queue 'orders.eu'\): inequivalent arg 'durable'/);
  });

  describe('at boot (the definitions option / switchyard server --definitions)', () => {
    it('loads the file before accepting clients, and again idempotently on restart', async () => {
      const tmp = await makeTmpDir('defs');
      const file = join(tmp.dir, 'defs.json');
      await writeFile(file, JSON.stringify(RABBIT_EXPORT));
      let booted = await startBroker({ definitions: file });
      try {
        const names = ((await api(booted, 'GET', '/api/queues')).body as { name: string }[]).map((q) => q.name);
        expect(names).to.have.members(['orders.eu', 'dead']);
        const { ch } = await open(booted.url, fx.conns);
        await ch.publish('orders', 'eu.x', Buffer.from('durable'), { persistent: true });
        await closeAll(fx.conns);
        booted = await booted.restart();
        const { ch: ch2 } = await open(booted.url, fx.conns);
        expect((await ch2.checkQueue('orders.eu')).messageCount).to.equal(1);
        expect((await api(booted, 'GET', '/api/bindings')).body).to.have.length(2);
      } finally {
        await closeAll(fx.conns);
        await booted.stop();
        await tmp.remove();
      }
    });

    it('refuses to start with a missing or bad file, saying which', async () => {
      const tmp = await makeTmpDir('defs');
      try {
        const missing = join(tmp.dir, 'nope.json');
        const err1 = await startBroker({ definitions: missing }, tmp.dir).then(
          () => undefined,
          (e: Error) => e,
        );
        expect(err1?.message).to.match(/cannot read definitions file '.*nope\.json'/);
        const bad = join(tmp.dir, 'bad.json');
        await writeFile(bad, JSON.stringify({ exchanges: [{ name: 'x', type: 'x-random' }] }));
        const err2 = await startBroker({ definitions: bad }, tmp.dir).then(
          () => undefined,
          (e: Error) => e,
        );
        expect(err2?.message).to.match(
          /definitions file '.*bad\.json': exchanges\[0\] \(exchange 'x'\): invalid exchange type 'x-random'/,
        );
      } finally {
        await tmp.remove();
      }
    });
  });
});
