import { expect } from 'chai';
import { connect } from '@switchyard/client';
import { createToken, isTokenRevoked } from '@switchyard/broker/internal';
import { useBroker } from '../helpers/broker.js';
import { nextEvent, waitFor, type Connection } from '../helpers/client.js';
import { runCli } from '../helpers/run-cli.js';
import { api, V } from '../helpers/http.js';

/** Issue 11 item 10: revoked permissions, deleted users and revoked tokens take effect at once. */
describe('revoking access', function () {
  this.timeout(30_000);
  const SECRET = 'a-test-secret-of-enough-length';
  const fx = useBroker({ noSync: true, tokenSecret: SECRET });
  const FULL = { configure: 'bob\\..*', write: '.*', read: 'bob\\..*' };

  beforeEach(async () => {
    expect((await api(fx.tb, 'PUT', '/api/users/bob', { password: 'pw', tags: [] })).status).to.equal(201);
    expect((await api(fx.tb, 'PUT', `/api/permissions/${V}/bob`, FULL)).status).to.equal(200);
  });

  async function bob(password = 'pw') {
    const conn = await connect(fx.tb.url, { username: password.startsWith('sy1.') ? '' : 'bob', password });
    fx.conns.push(conn);
    return { conn, ch: await conn.createChannel() };
  }
  const closedWith = (conn: Connection): Promise<unknown> =>
    new Promise((resolve) => {
      let error: unknown;
      conn.on('error', (e: unknown) => (error = e));
      conn.on('close', () => resolve(error));
    });

  it('cancels consumers on queues whose read permission was revoked, and only those', async () => {
    const { ch } = await bob();
    await ch.assertQueue('bob.a', { durable: false });
    await ch.assertQueue('bob.b', { durable: false });
    const got: string[] = [];
    const a = await ch.consume('bob.a', (m) => m && got.push(`a:${Buffer.from(m.content).toString()}`), {
      noAck: true,
    });
    await ch.consume('bob.b', (m) => m && got.push(`b:${Buffer.from(m.content).toString()}`), { noAck: true });
    const cancelled = nextEvent<{ consumerTag: string; reason: string }>(ch, 'cancel');
    expect((await api(fx.tb, 'PUT', `/api/permissions/${V}/bob`, { ...FULL, read: 'bob\\.b' })).status).to.equal(200);
    const notice = await cancelled;
    expect(notice.consumerTag).to.equal(a.consumerTag);
    expect(notice.reason).to.include("read access to queue 'bob.a' in vhost '/' revoked for user 'bob'");
    const consumers = (await api<{ queue: string }[]>(fx.tb, 'GET', '/api/consumers')).body.map((c) => c.queue);
    expect(consumers).to.deep.equal(['bob.b']);
    const admin = await connect(fx.tb.url);
    fx.conns.push(admin);
    const ach = await admin.createChannel();
    await ach.sendToQueue('bob.a', Buffer.from('1'));
    await ach.sendToQueue('bob.b', Buffer.from('2'));
    await waitFor(() => got.length === 1, 'the delivery to bob.b');
    expect(got).to.deep.equal(['b:2']);
    expect((await api<{ messages: number }>(fx.tb, 'GET', `/api/queues/${V}/bob.a`)).body.messages).to.equal(1);
  });

  it("closes the user's connections to a vhost when its permissions there are cleared", async () => {
    const { conn } = await bob();
    const closed = closedWith(conn);
    expect((await api(fx.tb, 'DELETE', `/api/permissions/${V}/bob`)).status).to.equal(204);
    const err = await closed;
    expect(err).to.include({ code: 320 });
    expect((err as Error).message).to.include("access to vhost '/' revoked for user 'bob'");
  });

  it("closes a deleted user's connections with 320 CONNECTION_FORCED, as RabbitMQ", async () => {
    const { conn } = await bob();
    const other = await connect(fx.tb.url);
    fx.conns.push(other);
    const closed = closedWith(conn);
    expect((await api(fx.tb, 'DELETE', '/api/users/bob')).status).to.equal(204);
    const err = await closed;
    expect(err).to.include({ code: 320, name: 'CONNECTION_FORCED' });
    expect((err as Error).message).to.include("user 'bob' was deleted");
    await (await other.createChannel()).close(); // others carry on
  });

  it('revokes tokens (CLI and API): old tokens are refused and their connections closed; new ones and passwords work', async () => {
    const old = createToken(SECRET, 'bob', 600);
    const { conn: viaToken } = await bob(old);
    const { conn: viaPassword, ch } = await bob();
    const closed = closedWith(viaToken);
    const r = await runCli(['token', 'revoke', 'bob', '--url', fx.tb.broker.managementUrl!]);
    expect(r.stderr).to.equal('');
    expect(r.code).to.equal(0);
    expect(r.stdout).to.match(/tokens of bob issued before .* revoked/);
    const err = await closed;
    expect((err as Error).message).to.include("login token of user 'bob' was revoked");
    const refused = await connect(fx.tb.url, { username: '', password: old }).catch((e: unknown) => e);
    expect(refused).to.include({ code: 403 });
    expect((refused as Error).message).to.match(/token revoked/);
    await ch.assertQueue('bob.still-here', { durable: false });
    void viaPassword;
    await new Promise((resolve) => setTimeout(resolve, 2)); // a token issued in a later millisecond
    const fresh = (await api<{ token: string }>(fx.tb, 'POST', '/api/tokens', { user: 'bob', ttlSeconds: 60 })).body
      .token;
    await bob(fresh);
    expect((await api(fx.tb, 'DELETE', '/api/users/bob/tokens')).status).to.equal(200);
    expect(await connect(fx.tb.url, { username: '', password: fresh }).catch((e: unknown) => e)).to.include({
      code: 403,
    });
  });

  it('refuses tokens issued to an earlier user of the same name', async () => {
    const old = createToken(SECRET, 'bob', 600, undefined, Date.now() - 1000);
    await api(fx.tb, 'DELETE', '/api/users/bob');
    await api(fx.tb, 'PUT', '/api/users/bob', { password: 'new', tags: [] });
    await api(fx.tb, 'PUT', `/api/permissions/${V}/bob`, FULL);
    const err = await connect(fx.tb.url, { username: '', password: old }).catch((e: unknown) => e);
    expect(err).to.include({ code: 403 });
  });

  it('keeps a revocation across a restart', async () => {
    const old = createToken(SECRET, 'bob', 600);
    await new Promise((resolve) => setTimeout(resolve, 2));
    await api(fx.tb, 'DELETE', '/api/users/bob/tokens');
    fx.tb = await fx.tb.restart();
    expect(await connect(fx.tb.url, { username: '', password: old }).catch((e: unknown) => e)).to.include({
      code: 403,
    });
  });

  it('decides revocation by issue time (pure)', () => {
    expect(isTokenRevoked({ sub: 'u', exp: 0, iat: 10 }, undefined)).to.equal(false);
    expect(isTokenRevoked({ sub: 'u', exp: 0, iat: 10 }, 10_001)).to.equal(true);
    expect(isTokenRevoked({ sub: 'u', exp: 0, iat: 10.002 }, 10_001)).to.equal(false);
    expect(isTokenRevoked({ sub: 'u', exp: 0 }, 1)).to.equal(true);
  });
});
