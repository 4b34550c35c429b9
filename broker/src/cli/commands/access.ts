import type { Command } from 'commander';
import { seg } from '../client.js';
import { clientOf, jsonText, withClientOptions, type ClientFlags } from '../common.js';
import { table } from '../output.js';
import type { CliIo } from '../io.js';

interface UserRow {
  name: string;
  tags: string[];
}

interface PermissionRow {
  user: string;
  vhost: string;
  configure: string;
  write: string;
  read: string;
}

const tagList = (v: string | undefined): string[] =>
  v === undefined
    ? []
    : v
        .split(',')
        .map((t) => t.trim())
        .filter(Boolean);

/** `switchyard users add|delete|list|set-password|set-tags`. */
export function registerUsersCommand(program: Command, io: CliIo): void {
  const users = program
    .command('users')
    .description('manage users (passwords are stored scrypt-hashed)')
    .addHelpText(
      'after',
      '\nExamples:\n  $ switchyard users add alice s3cret --tags administrator\n  $ switchyard users set-password alice n3w\n  $ switchyard users list\n',
    );
  withClientOptions(users.command('list').description('list users and their tags'), true).action(
    async (f: ClientFlags) => {
      const rows = await clientOf(f).get<UserRow[]>('/api/users');
      io.stdout(
        f.json
          ? jsonText(rows)
          : table(rows, [
              { header: 'name', value: (u) => u.name },
              { header: 'tags', value: (u) => u.tags.join(',') },
            ]),
      );
    },
  );
  withClientOptions(
    users
      .command('add')
      .description('add a user')
      .argument('<name>')
      .argument('<password>')
      .option('--tags <list>', 'comma-separated tags, e.g. administrator'),
  ).action(async (name: string, password: string, f: ClientFlags & { tags?: string }) => {
    // Create-only: an existing user's password is never replaced by `add` (rabbitmqctl add_user).
    await clientOf(f).request(
      'PUT',
      `/api/users/${seg(name)}`,
      { password, tags: tagList(f.tags) },
      { 'if-none-match': '*' },
    );
    io.stdout(`user ${name} added\n`);
  });
  withClientOptions(
    users.command('set-password').description("change a user's password").argument('<name>').argument('<password>'),
  ).action(async (name: string, password: string, f: ClientFlags) => {
    await clientOf(f).request('PUT', `/api/users/${seg(name)}`, { password }, { 'if-match': '*' });
    io.stdout(`password of ${name} changed\n`);
  });
  withClientOptions(
    users
      .command('set-tags')
      .description("replace a user's tags")
      .argument('<name>')
      .argument('[tags]', 'comma-separated tags (none = clear)'),
  ).action(async (name: string, tags: string | undefined, f: ClientFlags) => {
    await clientOf(f).request('PUT', `/api/users/${seg(name)}`, { tags: tagList(tags) }, { 'if-match': '*' });
    io.stdout(`tags of ${name} set\n`);
  });
  withClientOptions(
    users.command('delete').description('delete a user (and its permissions)').argument('<name>'),
  ).action(async (name: string, f: ClientFlags) => {
    await clientOf(f).request('DELETE', `/api/users/${seg(name)}`);
    io.stdout(`user ${name} deleted\n`);
  });
}

/** `switchyard vhosts add|delete|list`. */
export function registerVhostsCommand(program: Command, io: CliIo): void {
  const vhosts = program
    .command('vhosts')
    .description('manage virtual hosts (isolated sets of exchanges, queues and bindings)')
    .addHelpText(
      'after',
      '\nExamples:\n  $ switchyard vhosts add staging\n  $ switchyard permissions set staging alice ".*" ".*" ".*"\n',
    );
  withClientOptions(vhosts.command('list').description('list vhosts'), true).action(async (f: ClientFlags) => {
    const rows = await clientOf(f).get<{ name: string }[]>('/api/vhosts');
    io.stdout(f.json ? jsonText(rows) : table(rows, [{ header: 'name', value: (v) => v.name }]));
  });
  withClientOptions(vhosts.command('add').description('add a vhost').argument('<name>')).action(
    async (name: string, f: ClientFlags) => {
      await clientOf(f).request('PUT', `/api/vhosts/${seg(name)}`);
      io.stdout(`vhost ${name} added\n`);
    },
  );
  withClientOptions(
    vhosts.command('delete').description('delete a vhost with everything in it').argument('<name>'),
  ).action(async (name: string, f: ClientFlags) => {
    await clientOf(f).request('DELETE', `/api/vhosts/${seg(name)}`);
    io.stdout(`vhost ${name} deleted\n`);
  });
}

/** `switchyard permissions set|clear|list`. */
export function registerPermissionsCommand(program: Command, io: CliIo): void {
  const perms = program
    .command('permissions')
    .description("manage users' configure / write / read permissions per vhost (regular expressions)")
    .addHelpText(
      'after',
      '\nExamples:\n  $ switchyard permissions set / alice "^alice-.*" ".*" ".*"\n  $ switchyard permissions clear / alice\n',
    );
  withClientOptions(perms.command('list').description('list permissions'), true).action(async (f: ClientFlags) => {
    const rows = await clientOf(f).get<PermissionRow[]>('/api/permissions');
    io.stdout(
      f.json
        ? jsonText(rows)
        : table(rows, [
            { header: 'vhost', value: (p) => p.vhost },
            { header: 'user', value: (p) => p.user },
            { header: 'configure', value: (p) => p.configure },
            { header: 'write', value: (p) => p.write },
            { header: 'read', value: (p) => p.read },
          ]),
    );
  });
  withClientOptions(
    perms
      .command('set')
      .description('set the permissions of a user in a vhost')
      .argument('<vhost>')
      .argument('<user>')
      .argument('<configure>')
      .argument('<write>')
      .argument('<read>'),
  ).action(async (vhost: string, user: string, configure: string, write: string, read: string, f: ClientFlags) => {
    await clientOf(f).request('PUT', `/api/permissions/${seg(vhost)}/${seg(user)}`, { configure, write, read });
    io.stdout(`permissions of ${user} in ${vhost} set\n`);
  });
  withClientOptions(
    perms
      .command('clear')
      .description('remove the permissions of a user in a vhost')
      .argument('<vhost>')
      .argument('<user>'),
  ).action(async (vhost: string, user: string, f: ClientFlags) => {
    await clientOf(f).request('DELETE', `/api/permissions/${seg(vhost)}/${seg(user)}`);
    io.stdout(`permissions of ${user} in ${vhost} cleared\n`);
  });
}

/** `switchyard token create`: a login token for a browser (the broker must have tokenSecret). */
export function registerTokenCommand(program: Command, io: CliIo): void {
  const token = program.command('token').description('issue short-lived login tokens for browsers');
  withClientOptions(
    token
      .command('create')
      .description('print a token a page can connect with')
      .argument('<user>')
      .option('--ttl <seconds>', 'lifetime in seconds', '3600')
      .option('--for-vhost <vhost>', 'restrict the token to one vhost'),
  ).action(async (user: string, f: ClientFlags & { ttl: string; forVhost?: string }) => {
    const r = await clientOf(f).request<{ token: string }>('POST', '/api/tokens', {
      user,
      ttlSeconds: Number(f.ttl),
      ...(f.forVhost !== undefined ? { vhost: f.forVhost } : {}),
    });
    io.stdout(`${r.token}\n`);
  });
  withClientOptions(
    token
      .command('revoke')
      .description("refuse every token of a user issued until now, and close the user's connections made with one")
      .argument('<user>'),
  ).action(async (user: string, f: ClientFlags) => {
    const r = await clientOf(f).request<{ revokedBefore: string }>('DELETE', `/api/users/${seg(user)}/tokens`);
    io.stdout(`tokens of ${user} issued before ${r.revokedBefore} revoked\n`);
  });
}
