import { expect } from 'chai';
import { connect } from '@switchyard/client';
import { useBroker } from '../helpers/broker.js';
import { api, V } from '../helpers/http.js';

/** spec/semantics.md §Validated user id (RabbitMQ's validated user-id). */
describe('validated userId', () => {
  const fx = useBroker();

  async function login(user: string, tags: string[]): Promise<Awaited<ReturnType<typeof connect>>> {
    expect((await api(fx.tb, 'PUT', `/api/users/${user}`, { password: 'pw', tags })).status).to.equal(201);
    expect(
      (await api(fx.tb, 'PUT', `/api/permissions/${V}/${user}`, { configure: '.*', write: '.*', read: '.*' })).status,
    ).to.equal(200);
    const conn = await connect(fx.tb.url, { username: user, password: 'pw' });
    fx.conns.push(conn);
    return conn;
  }

  it('accepts the logged-in user name and no userId at all', async () => {
    const ch = await (await login('alice', [])).createChannel();
    await ch.assertQueue('uid');
    await ch.sendToQueue('uid', Buffer.from('a'), { userId: 'alice' });
    await ch.sendToQueue('uid', Buffer.from('b'));
    expect((await ch.checkQueue('uid')).messageCount).to.equal(2);
  });

  it("refuses another user's name with 406 and closes only the channel", async () => {
    const conn = await login('alice', []);
    const ch = await conn.createChannel();
    ch.on('error', () => undefined);
    await ch.assertQueue('uid');
    const err = await ch.sendToQueue('uid', Buffer.from('forged'), { userId: 'bob' }).catch((e: unknown) => e);
    expect(err).to.include({ code: 406 });
    expect((err as Error).message).to.match(/user_id property set to 'bob' but authenticated user was 'alice'/);
    const other = await conn.createChannel();
    expect((await other.checkQueue('uid')).messageCount).to.equal(0);
  });

  it('lets an impersonator set any userId', async () => {
    const ch = await (await login('relay', ['impersonator'])).createChannel();
    await ch.assertQueue('uid');
    await ch.sendToQueue('uid', Buffer.from('on behalf'), { userId: 'bob' });
    const msg = await ch.get('uid', { noAck: true });
    expect(msg && msg.properties.userId).to.equal('bob');
  });
});
