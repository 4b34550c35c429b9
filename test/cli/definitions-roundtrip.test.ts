import { expect } from 'chai';
import { createHash, randomBytes } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { connect } from '@switchyard/client';
import { spawnBroker } from '../helpers/broker-process.js';
import { startBroker, useBroker } from '../helpers/broker.js';
import { closeAll, type Connection } from '../helpers/client.js';
import { makeTmpDir } from '../helpers/tmp.js';
import { api } from '../helpers/http.js';
import { runCli } from '../helpers/run-cli.js';

interface Doc {
  users: { name: string; password_hash: string; hashing_algorithm: string; tags: string[] }[];
  vhosts: { name: string }[];
  permissions: { user: string; vhost: string; configure: string; write: string; read: string }[];
  queues: { name: string; vhost: string }[];
}

async function expectRefused(login: Promise<Connection>): Promise<void> {
  const err = await login.then(
    async (c) => {
      await c.close();
      return expect.fail('login should be refused');
    },
    (e: Error) => e,
  );
  expect(err.message).to.match(/invalid credentials/);
}

const sortedPermissions = (rows: Doc['permissions']): string[] =>
  rows.map((p) => JSON.stringify([p.user, p.vhost, p.configure, p.write, p.read])).sort();

/**
 * issue 11 item 16: an export from a broker with several vhosts, users and permissions imports
 * into a fresh broker (CLI and `server --definitions`), as rabbitmqctl import_definitions
 * does; users keep their passwords (exported as password_hash + hashing_algorithm).
 */
describe('definitions round-trip: vhosts, users with password hashes, permissions', function () {
  this.timeout(60_000);
  const fx = useBroker({ noSync: true }, { per: 'suite' });
  let tmp: { dir: string; remove: () => Promise<void> };
  let file: string;

  before(async () => {
    tmp = await makeTmpDir('defs-roundtrip');
    file = join(tmp.dir, 'defs.json');
    const url = fx.tb.broker.managementUrl!;
    const sy = async (...args: string[]): Promise<void> => {
      const r = await runCli([...args, '--url', url]);
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).to.equal(0);
    };
    await sy('vhosts', 'add', 'staging');
    await sy('vhosts', 'add', 'prod');
    await sy('users', 'add', 'alice', 'wonderland');
    await sy('users', 'add', 'ops', 'op-secret', '--tags', 'administrator,monitoring');
    await sy('permissions', 'set', 'staging', 'alice', 'alice\\..*', '.*', 'alice\\..*');
    await sy('permissions', 'set', 'prod', 'alice', '', '', 'feed');
    await sy('permissions', 'set', 'prod', 'ops', '.*', '.*', '.*');
    await sy('declare', 'queue', 'alice.inbox', '--vhost', 'staging');
    const exported = await runCli(['definitions', 'export', file, '--url', url]);
    expect(exported.code, exported.stderr).to.equal(0);
    expect(exported.stdout).to.match(
      /^exported 3 vhosts, 3 users, 4 permissions, 0 exchanges, 1 queues, 0 bindings to /,
    );
  });
  after(async () => {
    await tmp.remove();
  });

  it('exports users with RabbitMQ-format password hashes, vhosts and permissions (file readable by its owner only)', async () => {
    const doc = JSON.parse(await readFile(file, 'utf8')) as Doc;
    expect(doc.vhosts.map((v) => v.name).sort()).to.deep.equal(['/', 'prod', 'staging']);
    const ops = doc.users.find((u) => u.name === 'ops')!;
    expect(ops).to.include({ hashing_algorithm: 'switchyard_password_hashing_scrypt' });
    expect(ops.password_hash).to.match(/^scrypt\$/);
    expect(ops.tags).to.deep.equal(['administrator', 'monitoring']);
    expect(JSON.stringify(doc)).not.to.include('op-secret');
    expect(doc.permissions).to.deep.include({ user: 'alice', vhost: 'prod', configure: '', write: '', read: 'feed' });
    expect((await stat(file)).mode & 0o777).to.equal(0o600);
  });

  /** alice logs in to staging with her password and has exactly her permissions there. */
  async function expectAliceWorks(wsUrl: string): Promise<void> {
    const conn = await connect(wsUrl, { username: 'alice', password: 'wonderland', vhost: 'staging' });
    fx.conns.push(conn);
    const ch = await conn.createChannel();
    expect((await ch.checkQueue('alice.inbox')).queue).to.equal('alice.inbox');
    await ch.assertQueue('alice.more');
    const refused = await ch.assertQueue('bob.q').then(
      () => undefined,
      (e: { code?: number }) => e,
    );
    expect(refused?.code).to.equal(403);
    await expectRefused(connect(wsUrl, { username: 'alice', password: 'wrong', vhost: 'staging' }));
  }

  it('imports into a fresh broker with `switchyard definitions import`: users log in with the same password', async () => {
    const fresh = await startBroker({ noSync: true });
    try {
      const r = await runCli(['definitions', 'import', file, '--url', fresh.broker.managementUrl!]);
      expect(r.code, r.stderr).to.equal(0);
      expect(r.stdout).to.match(/^imported 3 vhosts, 3 users, 4 permissions, 0 exchanges, 1 queues, 0 bindings\n$/);
      await expectAliceWorks(fresh.url);
      const doc = JSON.parse(await readFile(file, 'utf8')) as Doc;
      expect(sortedPermissions((await api(fresh, 'GET', '/api/permissions')).body)).to.deep.equal(
        sortedPermissions(doc.permissions),
      );
      const ops = `Basic ${Buffer.from('ops:op-secret').toString('base64')}`;
      expect((await api(fresh, 'GET', '/api/overview', undefined, { authorization: ops })).status).to.equal(200);
      // idempotent: a second import changes nothing and succeeds
      expect((await runCli(['definitions', 'import', file, '--url', fresh.broker.managementUrl!])).code).to.equal(0);
      await expectAliceWorks(fresh.url);
    } finally {
      await closeAll(fx.conns);
      await fresh.stop();
    }
  });

  it('imports into a fresh broker at boot with `switchyard server --definitions`', async () => {
    const dir = await makeTmpDir('defs-boot');
    const p = await spawnBroker(dir.dir, ['--definitions', file]);
    try {
      await expectAliceWorks(p.url);
    } finally {
      await closeAll(fx.conns);
      p.child.kill('SIGTERM');
      await p.exited;
      await dir.remove();
    }
  });

  it("imports users from a RabbitMQ export with RabbitMQ's salted SHA-256 hashes; they log in with their passwords", async () => {
    const salt = randomBytes(4);
    const hash = Buffer.concat([salt, createHash('sha256').update(salt).update('from-rabbit').digest()]).toString(
      'base64',
    );
    const fresh = await startBroker({ noSync: true });
    try {
      const doc = {
        rabbit_version: '3.13.0',
        users: [
          {
            name: 'carol',
            password_hash: hash,
            hashing_algorithm: 'rabbit_password_hashing_sha256',
            tags: '',
            limits: {},
          },
        ],
        vhosts: [{ name: '/', description: '', tags: [], metadata: {} }],
        permissions: [{ user: 'carol', vhost: '/', configure: '.*', write: '.*', read: '.*' }],
      };
      const r = await api(fresh, 'POST', '/api/definitions', doc);
      expect(r.status, JSON.stringify(r.body)).to.equal(200);
      const conn = await connect(fresh.url, { username: 'carol', password: 'from-rabbit' });
      fx.conns.push(conn);
      await expectRefused(connect(fresh.url, { username: 'carol', password: 'nope' }));
      // and it exports back in RabbitMQ's form
      const out = (await api(fresh, 'GET', '/api/definitions')).body as Doc;
      expect(out.users.find((u) => u.name === 'carol')).to.deep.equal({
        name: 'carol',
        password_hash: hash,
        hashing_algorithm: 'rabbit_password_hashing_sha256',
        tags: [],
      });
      const bad = await api(fresh, 'POST', '/api/definitions', {
        users: [{ name: 'dave', password_hash: 'x', hashing_algorithm: 'rabbit_password_hashing_md5' }],
      });
      expect(bad.status).to.equal(400);
      expect(bad.body.field).to.equal('users[0].password_hash');
    } finally {
      await closeAll(fx.conns);
      await fresh.stop();
    }
  });
});
