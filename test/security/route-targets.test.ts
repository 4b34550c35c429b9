import { expect } from 'chai';
import { connect } from '@switchyard/client';
import { useBroker } from '../helpers/broker.js';
import { api, V } from '../helpers/http.js';

/**
 * Issue 11 item 6: an alternate exchange or a dead-letter exchange routes messages into
 * another exchange, so declaring one needs write permission on it (as RabbitMQ checks).
 */
describe('alternate and dead-letter exchanges need write permission on their target', function () {
  this.timeout(20_000);
  const fx = useBroker({ noSync: true }, { per: 'suite' });
  before(async () => {
    expect((await api(fx.tb, 'PUT', '/api/users/rest', { password: 'pw', tags: [] })).status).to.equal(201);
    // configure/read/write only on rest.*: the exchange "secret" and the default exchange are off limits
    expect(
      (
        await api(fx.tb, 'PUT', `/api/permissions/${V}/rest`, {
          configure: 'rest\\..*|amq\\.gen-.*',
          write: 'rest\\..*',
          read: 'rest\\..*|amq\\.gen-.*',
        })
      ).status,
    ).to.equal(200);
    const admin = await connect(fx.tb.url);
    const ch = await admin.createChannel();
    await ch.assertExchange('secret', 'fanout', { durable: false });
    await ch.assertQueue('secret.q', { durable: false });
    await ch.bindQueue('secret.q', 'secret', '');
    await admin.close();
  });

  async function rest() {
    const conn = await connect(fx.tb.url, { username: 'rest', password: 'pw' });
    fx.conns.push(conn);
    return conn.createChannel();
  }
  async function refusedWith(p: Promise<unknown>, message: string): Promise<void> {
    const err = await p.catch((e: unknown) => e);
    expect(err).to.include({ code: 403, name: 'ACCESS_REFUSED' });
    expect((err as Error).message).to.include(message);
  }
  const writeRefused = (x: string): string => `write access to exchange '${x}' in vhost '/' refused for user 'rest'`;

  it('refuses an alternate exchange the user may not write to', async () => {
    await refusedWith(
      (await rest()).assertExchange('rest.x', 'fanout', { durable: false, alternateExchange: 'secret' }),
      writeRefused('secret'),
    );
    await refusedWith(
      (await rest()).assertExchange('rest.x2', 'fanout', {
        durable: false,
        arguments: { 'alternate-exchange': 'secret' },
      }),
      writeRefused('secret'),
    );
    const ch = await rest();
    await ch.assertExchange('rest.ae', 'fanout', { durable: false });
    await ch.assertExchange('rest.x3', 'fanout', { durable: false, alternateExchange: 'rest.ae' });
  });

  it('refuses a dead-letter exchange the user may not write to, the default exchange included', async () => {
    await refusedWith(
      (await rest()).assertQueue('rest.q', { durable: false, arguments: { 'x-dead-letter-exchange': 'secret' } }),
      writeRefused('secret'),
    );
    await refusedWith(
      (await rest()).assertQueue('rest.q', {
        durable: false,
        arguments: { 'x-dead-letter-exchange': '', 'x-dead-letter-routing-key': 'secret.q' },
      }),
      writeRefused('amq.default'),
    );
    // server-named queues are checked under their generated name and removed when refused
    await refusedWith(
      (await rest()).assertQueue('', { durable: false, arguments: { 'x-dead-letter-exchange': 'secret' } }),
      writeRefused('secret'),
    );
    const ch = await rest();
    await ch.assertExchange('rest.dlx', 'fanout', { durable: false });
    await ch.assertQueue('rest.ok', { durable: false, arguments: { 'x-dead-letter-exchange': 'rest.dlx' } });
    const queues = (await api<{ name: string }[]>(fx.tb, 'GET', '/api/queues')).body.map((q) => q.name);
    expect(queues.filter((n) => n.startsWith('amq.gen'))).to.deep.equal([]);
    expect(queues).to.not.include('rest.q');
  });

  it('cannot route a message into the forbidden exchange through a dead-letter queue', async () => {
    const ch = await rest();
    const err = await ch
      .assertQueue('rest.ttl', {
        durable: false,
        arguments: { 'x-message-ttl': 1, 'x-dead-letter-exchange': 'secret' },
      })
      .catch((e: unknown) => e);
    expect(err).to.include({ code: 403 });
    const depth = (await api<{ messages: number }>(fx.tb, 'GET', `/api/queues/${V}/secret.q`)).body.messages;
    expect(depth).to.equal(0);
  });

  const sweepSeed = Number(process.env['FUZZ_SEED'] ?? Date.now() % 100_000);
  it(`whatever a restricted user declares and publishes, nothing reaches the forbidden exchange (seeded random run, seed ${sweepSeed})`, async () => {
    let seed = sweepSeed;
    const rand = (n: number): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % n);
    const targets = ['secret', '', 'amq.direct', 'rest.ok-x', 'rest.fan'];
    const admin = await connect(fx.tb.url);
    fx.conns.push(admin);
    await (await admin.createChannel()).assertExchange('rest.fan', 'fanout', { durable: false });
    let ch = await rest();
    for (let i = 0; i < 60; i++) {
      const target = targets[rand(targets.length)]!;
      // 'rest.fan' is no dead-letter target here: queues bound to a fanout that is also their
      // DLX, with a TTL, copy each expired message to every other such queue, and so on
      // (a dead-letter amplification loop, not a permission question).
      const dlxTarget = target === 'rest.fan' ? 'rest.ok-x' : target;
      const args: Record<string, unknown> =
        rand(2) === 0 ? { 'x-dead-letter-exchange': dlxTarget } : { 'alternate-exchange': target };
      if (rand(2) === 0) args['x-dead-letter-routing-key'] = 'secret.q';
      if (rand(2) === 0) args['x-message-ttl'] = 1;
      if (rand(3) === 0) args['x-max-length'] = 0;
      const op = rand(3);
      const name = `rest.r${i}`;
      const step =
        op === 0
          ? ch.assertQueue(name, { durable: false, arguments: args })
          : op === 1
            ? ch.assertExchange(name, 'fanout', { durable: false, arguments: args })
            : ch
                .publish('rest.fan', 'secret.q', Buffer.from('x'))
                .then(() => ch.publish(`rest.r${rand(i + 1)}`, 'secret.q', Buffer.from('y')));
      if (op === 0) await step.then(() => ch.bindQueue(name, 'rest.fan', '')).catch(() => undefined);
      else await step.catch(() => undefined);
      if (ch.state !== 'open') ch = await rest();
    }
    await new Promise((r) => setTimeout(r, 50)); // TTL expiries dead-letter by now
    expect((await api<{ messages: number }>(fx.tb, 'GET', `/api/queues/${V}/secret.q`)).body.messages).to.equal(0);
  });

  it('still lets an administrator declare them through the management API and definitions (spec/security.md)', async () => {
    expect(
      (
        await api(fx.tb, 'PUT', `/api/queues/${V}/admin.q`, {
          durable: false,
          arguments: { 'x-dead-letter-exchange': 'secret' },
        })
      ).status,
    ).to.equal(201);
    const defs = {
      queues: [{ name: 'admin.q2', vhost: '/', durable: true, arguments: { 'x-dead-letter-exchange': 'secret' } }],
    };
    expect((await api(fx.tb, 'POST', '/api/definitions', defs)).status).to.equal(200);
  });
});
