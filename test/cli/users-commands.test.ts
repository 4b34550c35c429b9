import { expect } from 'chai';
import { useBroker, type TestBroker } from '../helpers/broker.js';
import { GUEST_AUTH } from '../helpers/http.js';
import { runCli, type CliResult } from '../helpers/run-cli.js';

/** Status of GET /api/overview with these Basic credentials: 200 admin, 403 not admin, 401 wrong password. */
async function loginStatus(tb: TestBroker, user: string, password: string): Promise<number> {
  const res = await fetch(`${tb.broker.managementUrl}/api/overview`, {
    headers: { authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` },
  });
  await res.arrayBuffer();
  return res.status;
}

/** issue 11 item 17: `users add` never replaces an existing user's password (rabbitmqctl add_user). */
describe('switchyard users (real binary, real broker)', function () {
  this.timeout(30_000);
  const fx = useBroker({ noSync: true });
  const sy = (...args: string[]): Promise<CliResult> => runCli([...args, '--url', fx.tb.broker.managementUrl!]);

  it('users add on an existing user fails (exit 3, "already exists") and keeps its password', async () => {
    expect((await sy('users', 'add', 'ops', 'first', '--tags', 'administrator')).code).to.equal(0);
    const again = await sy('users', 'add', 'ops', 'second');
    expect(again.code, again.stderr).to.equal(3);
    expect(again.stderr.trimEnd().split('\n')).to.have.length(1);
    expect(again.stderr).to.match(
      /^switchyard: user 'ops' already exists; change its password with `switchyard users set-password`/,
    );
    expect(await loginStatus(fx.tb, 'ops', 'first')).to.equal(200);
    expect(await loginStatus(fx.tb, 'ops', 'second')).to.equal(401);
  });

  it('users set-password changes the password of an existing user, and fails (exit 2) without creating one', async () => {
    expect((await sy('users', 'add', 'ops', 'first', '--tags', 'administrator')).code).to.equal(0);
    expect((await sy('users', 'set-password', 'ops', 'second')).code).to.equal(0);
    expect(await loginStatus(fx.tb, 'ops', 'second')).to.equal(200);
    const missing = await sy('users', 'set-password', 'ghost', 'boo');
    expect(missing.code, missing.stderr).to.equal(2);
    expect(missing.stderr).to.match(/no user 'ghost'/);
    const tags = await sy('users', 'set-tags', 'ghost', 'administrator');
    expect(tags.code, tags.stderr).to.equal(2);
    expect(await loginStatus(fx.tb, 'ghost', 'boo')).to.equal(401);
  });

  it('PUT /api/users/{name} without conditions still creates or updates, as RabbitMQ', async () => {
    const put = async (body: unknown): Promise<number> =>
      (
        await fetch(`${fx.tb.broker.managementUrl}/api/users/ops`, {
          method: 'PUT',
          headers: { authorization: GUEST_AUTH, 'content-type': 'application/json' },
          body: JSON.stringify(body),
        })
      ).status;
    expect(await put({ password: 'first', tags: ['administrator'] })).to.equal(201);
    expect(await put({ password: 'second' })).to.equal(200);
    expect(await loginStatus(fx.tb, 'ops', 'second')).to.equal(200);
  });
});
