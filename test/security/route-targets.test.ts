import { expect } from 'chai';
import { connect } from '@switchyard/client';
import { startBroker, type TestBroker } from '../helpers/broker.js';
import { closeAll, type Connection } from '../helpers/client.js';
import { api, V } from '../management/http.js';

/**
 * Issue 11 item 6: an alternate exchange or a dead-letter exchange routes messages into
 * another exchange, so declaring one needs write permission on it (as RabbitMQ checks).
 */
describe('alternate and dead-letter exchanges need write permission on their target', function () {
  this.timeout(20_000);
  let tb: TestBroker;
  const conns: Connection[] = [];
  before(async () => {
    tb = await startBroker({ noSync: true });
    expect((await api(tb, 'PUT', '/api/users/rest', { password: 'pw', tags: [] })).status).to.equal(201);
    // configure/read/write only on rest.*: the exchange "secret" and the default exchange are off limits
    expect((await api(tb, 'PUT', `/api/permissions/${V}/rest`, { configure: 'rest\\..*|amq\\.gen-.*', write: 'rest\\..*', read: 'rest\\..*|amq\\.gen-.*' })).status).to.equal(200);
    const admin = await connect(tb.url);
    const ch = await admin.createChannel();
    await ch.assertExchange('secret', 'fanout', { durable: false });
    await ch.assertQueue('secret.q', { durable: false });
    await ch.bindQueue('secret.q', 'secret', '');
    await admin.close();
  });
  after(async () => {
    await closeAll(conns);
    await tb.stop();
  });

  async function rest() {
    const conn = await connect(tb.url, { username: 'rest', password: 'pw' });
    conns.push(conn);
    return conn.createChannel();
  }
  async function refusedWith(p: Promise<unknown>, message: string): Promise<void> {
    const err = await p.catch((e: unknown) => e);
    expect(err).to.include({ code: 403, name: 'ACCESS_REFUSED' });
    expect((err as Error).message).to.include(message);
  }
  const writeRefused = (x: string): string => `write access to exchange '${x}' in vhost '/' refused for user 'rest'`;

  it('refuses an alternate exchange the user may not write to', async () => {
    await refusedWith((await rest()).assertExchange('rest.x', 'fanout', { durable: false, alternateExchange: 'secret' }), writeRefused('secret'));
    await refusedWith((await rest()).assertExchange('rest.x2', 'fanout', { durable: false, arguments: { 'alternate-exchange': 'secret' } }), writeRefused('secret'));
    const ch = await rest();
    await ch.assertExchange('rest.ae', 'fanout', { durable: false });
    await ch.assertExchange('rest.x3', 'fanout', { durable: false, alternateExchange: 'rest.ae' });
  });

  it('refuses a dead-letter exchange the user may not write to, the default exchange included', async () => {
    await refusedWith((await rest()).assertQueue('rest.q', { durable: false, arguments: { 'x-dead-letter-exchange': 'secret' } }), writeRefused('secret'));
    await refusedWith(
      (await rest()).assertQueue('rest.q', { durable: false, arguments: { 'x-dead-letter-exchange': '', 'x-dead-letter-routing-key': 'secret.q' } }),
      writeRefused('amq.default'),
    );
    // server-named queues are checked under their generated name and removed when refused
    await refusedWith((await rest()).assertQueue('', { durable: false, arguments: { 'x-dead-letter-exchange': 'secret' } }), writeRefused('secret'));
    const ch = await rest();
    await ch.assertExchange('rest.dlx', 'fanout', { durable: false });
    await ch.assertQueue('rest.ok', { durable: false, arguments: { 'x-dead-letter-exchange': 'rest.dlx' } });
    const queues = (await api<{ name: string }[]>(tb, 'GET', '/api/queues')).body.map((q) => q.name);
    expect(queues.filter((n) => n.startsWith('amq.gen'))).to.deep.equal([]);
    expect(queues).to.not.include('rest.q');
  });

  it('cannot route a message into the forbidden exchange through a dead-letter queue', async () => {
    const ch = await rest();
    const err = await ch
      .assertQueue('rest.ttl', { durable: false, arguments: { 'x-message-ttl': 1, 'x-dead-letter-exchange': 'secret' } })
      .catch((e: unknown) => e);
    expect(err).to.include({ code: 403 });
    const depth = (await api<{ messages: number }>(tb, 'GET', `/api/queues/${V}/secret.q`)).body.messages;
    expect(depth).to.equal(0);
  });

  it('still lets an administrator declare them through the management API and definitions (spec/security.md)', async () => {
    expect((await api(tb, 'PUT', `/api/queues/${V}/admin.q`, { durable: false, arguments: { 'x-dead-letter-exchange': 'secret' } })).status).to.equal(201);
    const defs = { queues: [{ name: 'admin.q2', vhost: '/', durable: true, arguments: { 'x-dead-letter-exchange': 'secret' } }] };
    expect((await api(tb, 'POST', '/api/definitions', defs)).status).to.equal(200);
  });
});
