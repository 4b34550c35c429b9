import { expect } from 'chai';
import { networkInterfaces } from 'node:os';
import { connect } from '@switchyard/client';
import { createToken } from '@switchyard/broker/internal';
import { startBroker, useBroker } from '../helpers/broker.js';
import { closeAll } from '../helpers/client.js';
import { api } from '../helpers/http.js';

describe('users, vhosts and permissions', function () {
  this.timeout(30_000);
  const SECRET = 'a-test-secret-of-enough-length';
  const fx = useBroker({ noSync: true, tokenSecret: SECRET }, { per: 'suite' });
  before(async () => {
    expect((await api(fx.tb, 'PUT', '/api/users/alice', { password: 'wonderland', tags: [] })).status).to.equal(201);
    expect(
      (await api(fx.tb, 'PUT', '/api/users/admin2', { password: 'root', tags: ['administrator'] })).status,
    ).to.equal(201);
    expect((await api(fx.tb, 'PUT', '/api/vhosts/staging')).status).to.equal(201);
    // alice: configure only her own resources, write to exchanges "pub.*" and her queues,
    // read her queues and the exchange "feed" (anchored: patterns match anywhere in a name,
    // as RabbitMQ's do)
    expect(
      (
        await api(fx.tb, 'PUT', '/api/permissions/%2F/alice', {
          configure: '^alice\\.',
          write: '^(pub|alice)\\.',
          read: '^(alice\\..*|feed)$',
        })
      ).status,
    ).to.equal(200);
    const { conn } = await adminChannel();
    await conn.close();
  });
  afterEach(async () => {
    await closeAll(fx.conns);
  });

  async function as(username: string, password: string, vhost = '/') {
    const conn = await connect(fx.tb.url, { username, password, vhost });
    fx.conns.push(conn);
    return { conn, ch: await conn.createChannel() };
  }

  async function adminChannel() {
    const r = await as('guest', 'guest');
    await r.ch.assertExchange('pub.orders', 'direct', { durable: false });
    await r.ch.assertExchange('feed', 'fanout', { durable: false });
    await r.ch.assertExchange('secret', 'fanout', { durable: false });
    await r.ch.assertQueue('other', { durable: false });
    return r;
  }

  describe('authentication', () => {
    it('refuses a wrong password and an unknown user with 403', async () => {
      for (const [u, p] of [
        ['alice', 'nope'],
        ['mallory', 'x'],
      ]) {
        const err = await connect(fx.tb.url, { username: u, password: p }).catch((e: unknown) => e);
        expect(err).to.include({ code: 403, name: 'ACCESS_REFUSED' });
        expect((err as Error).message).to.match(new RegExp(`login refused: user '${u}' - invalid credentials`));
      }
    });

    it('refuses a vhost the user has no permissions on with 530', async () => {
      const err = await connect(fx.tb.url, { username: 'alice', password: 'wonderland', vhost: 'staging' }).catch(
        (e: unknown) => e,
      );
      expect(err).to.include({ code: 530, name: 'NOT_ALLOWED' });
      expect((err as Error).message).to.match(/access to vhost 'staging' refused for user 'alice'/);
    });

    it('accepts an HMAC-signed token and refuses expired or forged ones', async () => {
      const token = createToken(SECRET, 'alice', 60);
      const conn = await connect(fx.tb.url, { username: '', password: token });
      fx.conns.push(conn);
      const expired = createToken(SECRET, 'alice', -10);
      expect(await connect(fx.tb.url, { username: '', password: expired }).catch((e: unknown) => e)).to.include({
        code: 403,
      });
      const forged = createToken('some-other-secret-value', 'alice', 60);
      const err = await connect(fx.tb.url, { username: '', password: forged }).catch((e: unknown) => e);
      expect((err as Error).message).to.match(/bad token signature/);
    });

    it('issues tokens through the management API', async () => {
      const r = await api(fx.tb, 'POST', '/api/tokens', { user: 'alice', ttlSeconds: 60 });
      expect(r.status).to.equal(201);
      const conn = await connect(fx.tb.url, { username: 'alice', password: r.body.token });
      fx.conns.push(conn);
    });

    it('lets guest in only from loopback', async function () {
      const external = Object.values(networkInterfaces())
        .flat()
        .find((a) => a && a.family === 'IPv4' && !a.internal);
      if (external === undefined) this.skip();
      const wide = await startBroker({ noSync: true, host: '0.0.0.0' });
      try {
        const port = new URL(wide.url).port;
        const err = await connect(`ws://${external.address}:${port}`).catch((e: unknown) => e);
        expect(err).to.include({ code: 403 });
        expect((err as Error).message).to.match(/user 'guest' can only connect via localhost/);
        await (await connect(`ws://127.0.0.1:${port}`)).close();
      } finally {
        await wide.stop();
      }
    });
  });

  describe('permission matrix', () => {
    const refused = async (p: Promise<unknown>, kind: string, resource: string): Promise<void> => {
      const err = await p.catch((e: unknown) => e);
      expect(err, `${kind} ${resource} should be refused`).to.include({ code: 403, name: 'ACCESS_REFUSED' });
      expect((err as Error).message).to.match(
        new RegExp(`${kind} access to ${resource} in vhost '/' refused for user 'alice'`),
      );
    };

    it('configure: declare and delete queues and exchanges', async () => {
      const { conn, ch } = await as('alice', 'wonderland');
      await ch.assertQueue('alice.q1', { durable: false });
      await ch.assertExchange('alice.x', 'direct', { durable: false });
      await ch.deleteExchange('alice.x');
      await refused(ch.assertQueue('bob.q', { durable: false }), 'configure', "queue 'bob.q'");
      const ch2 = await conn.createChannel();
      await refused(ch2.assertExchange('bob.x', 'direct', { durable: false }), 'configure', "exchange 'bob.x'");
      const ch3 = await conn.createChannel();
      await refused(ch3.deleteQueue('other'), 'configure', "queue 'other'");
      const ch4 = await conn.createChannel();
      await ch4.checkQueue('other'); // passive declare needs no permission
    });

    it('write: publish only to permitted exchanges (the default exchange is amq.default)', async () => {
      const { conn, ch } = await as('alice', 'wonderland');
      await ch.publish('pub.orders', 'k', Buffer.from('ok'));
      await refused(ch.publish('secret', 'k', Buffer.from('no')), 'write', "exchange 'secret'");
      const ch2 = await conn.createChannel();
      await refused(ch2.sendToQueue('alice.q1', Buffer.from('no')), 'write', "exchange 'amq.default'");
    });

    it('read: consume, get and purge only permitted queues', async () => {
      const { conn, ch } = await as('alice', 'wonderland');
      await ch.assertQueue('alice.q2', { durable: false });
      await ch.get('alice.q2');
      await ch.purgeQueue('alice.q2');
      await refused(
        ch.consume('other', () => undefined),
        'read',
        "queue 'other'",
      );
      const ch2 = await conn.createChannel();
      await refused(ch2.get('other'), 'read', "queue 'other'");
      const ch3 = await conn.createChannel();
      await refused(ch3.purgeQueue('other'), 'read', "queue 'other'");
    });

    it('bind: write on the queue and read on the exchange', async () => {
      const { conn, ch } = await as('alice', 'wonderland');
      await ch.assertQueue('alice.q3', { durable: false });
      await ch.bindQueue('alice.q3', 'feed', '');
      await refused(ch.bindQueue('alice.q3', 'secret', ''), 'read', "exchange 'secret'");
      const ch2 = await conn.createChannel();
      await refused(ch2.bindQueue('other', 'feed', ''), 'write', "queue 'other'");
    });

    it("a pattern matches anywhere in the name, as RabbitMQ's: 'feed' grants 'feedback' and 'old.feed'", async () => {
      await api(fx.tb, 'PUT', '/api/permissions/%2F/alice', { configure: 'feed', write: '', read: '' });
      try {
        const { conn, ch } = await as('alice', 'wonderland');
        await ch.assertQueue('feedback', { durable: false });
        await ch.assertQueue('old.feed', { durable: false });
        await refused(ch.assertQueue('fee', { durable: false }), 'configure', "queue 'fee'");
        void conn;
      } finally {
        await api(fx.tb, 'PUT', '/api/permissions/%2F/alice', {
          configure: '^alice\\.',
          write: '^(pub|alice)\\.',
          read: '^(alice\\..*|feed)$',
        });
      }
    });

    it('applies a permission change to open connections at once', async () => {
      const { conn, ch } = await as('alice', 'wonderland');
      await ch.publish('pub.orders', 'k', Buffer.from('ok'));
      await api(fx.tb, 'PUT', '/api/permissions/%2F/alice', {
        configure: '^alice\\.',
        write: '',
        read: '^(alice\\..*|feed)$',
      });
      try {
        await refused(ch.publish('pub.orders', 'k', Buffer.from('now refused')), 'write', "exchange 'pub.orders'");
      } finally {
        await api(fx.tb, 'PUT', '/api/permissions/%2F/alice', {
          configure: '^alice\\.',
          write: '^(pub|alice)\\.',
          read: '^(alice\\..*|feed)$',
        });
      }
      void conn;
    });
  });

  describe('vhosts', () => {
    it('isolates exchanges and queues per vhost', async () => {
      await api(fx.tb, 'PUT', '/api/permissions/staging/guest', { configure: '.*', write: '.*', read: '.*' });
      const root = await as('guest', 'guest', '/');
      const staging = await as('guest', 'guest', 'staging');
      await root.ch.assertQueue('same-name', { durable: true });
      await staging.ch.assertQueue('same-name', { durable: true });
      await root.ch.sendToQueue('same-name', Buffer.from('root'), { persistent: true });
      expect((await staging.ch.checkQueue('same-name')).messageCount).to.equal(0);
      expect((await root.ch.checkQueue('same-name')).messageCount).to.equal(1);
      const queues = (await api(fx.tb, 'GET', '/api/queues/staging')).body as { name: string }[];
      expect(queues.map((q) => q.name)).to.include('same-name');
    });

    it('deleting a vhost closes its connections and removes its queues', async () => {
      await api(fx.tb, 'PUT', '/api/vhosts/temp');
      await api(fx.tb, 'PUT', '/api/permissions/temp/guest', { configure: '.*', write: '.*', read: '.*' });
      const { conn, ch } = await as('guest', 'guest', 'temp');
      await ch.assertQueue('doomed', { durable: true });
      const closed = new Promise((resolve) => conn.on('close', resolve));
      expect((await api(fx.tb, 'DELETE', '/api/vhosts/temp')).status).to.equal(204);
      await closed;
      const err = await connect(fx.tb.url, { vhost: 'temp' }).catch((e: unknown) => e);
      expect(err).to.include({ code: 530 });
    });

    it('keeps users, vhosts, permissions and per-vhost queues across a restart', async () => {
      await api(fx.tb, 'PUT', '/api/permissions/staging/guest', { configure: '.*', write: '.*', read: '.*' });
      const s = await as('guest', 'guest', 'staging');
      await s.ch.assertQueue('kept', { durable: true });
      await s.ch.sendToQueue('kept', Buffer.from('x'), { persistent: true });
      await closeAll(fx.conns);
      fx.tb = await fx.tb.restart();
      const again = await as('alice', 'wonderland');
      await again.ch.assertQueue('alice.after-restart', { durable: false });
      const s2 = await as('guest', 'guest', 'staging');
      expect((await s2.ch.checkQueue('kept')).messageCount).to.equal(1);
      const rootErr = await (await as('guest', 'guest', '/')).ch.checkQueue('kept').catch((e: unknown) => e);
      expect(rootErr).to.include({ code: 404 });
    });
  });

  describe('management API access', () => {
    it('requires credentials of an administrator', async () => {
      expect((await api(fx.tb, 'GET', '/api/overview', undefined, { authorization: '' })).status).to.equal(401);
      const alice = `Basic ${Buffer.from('alice:wonderland').toString('base64')}`;
      expect((await api(fx.tb, 'GET', '/api/overview', undefined, { authorization: alice })).status).to.equal(403);
      const admin = `Basic ${Buffer.from('admin2:root').toString('base64')}`;
      expect((await api(fx.tb, 'GET', '/api/overview', undefined, { authorization: admin })).status).to.equal(200);
      expect((await api(fx.tb, 'GET', '/api/users')).body.map((u: { name: string }) => u.name)).to.include.members([
        'guest',
        'alice',
        'admin2',
      ]);
    });

    it('refuses bad requests naming the problem', async () => {
      const r = await api(fx.tb, 'PUT', '/api/users/bob', { tags: [] });
      expect(r.status).to.equal(400);
      expect(JSON.stringify(r.body)).to.match(/password/);
      const bad = await api(fx.tb, 'PUT', '/api/permissions/%2F/alice', { configure: '(' });
      expect(bad.status).to.equal(409);
      expect(JSON.stringify(bad.body)).to.match(/not a valid regular expression/);
      expect((await api(fx.tb, 'DELETE', '/api/users/nobody')).status).to.equal(404);
    });
  });
});
