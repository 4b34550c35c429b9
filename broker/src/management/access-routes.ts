import type { BrokerHost as Broker } from '../broker-host.js';
import { createToken } from '../auth/token.js';
import { Body } from './body.js';
import { HttpError } from './http-util.js';
import type { Reply, RequestContext, Router } from './router.js';

const json = (body: unknown, status = 200): Reply => ({ status, json: body });

/**
 * Users, vhosts, permissions and login tokens (spec/management.md §Users, vhosts and permissions). Like
 * everything on the management port, these need an administrator's credentials.
 */
export function addAccessRoutes(r: Router, broker: Broker): void {
  const access = broker.access;
  const param = (ctx: RequestContext, name: string): string => ctx.params[name]!;

  r.add('GET', '/api/users', () => json(access.listUsers()));
  r.add('PUT', '/api/users/:name', async (ctx) => {
    const raw = await ctx.body();
    const body = new Body(raw, ['password', 'tags']);
    const name = param(ctx, 'name');
    const exists = access.listUsers().some((u) => u.name === name);
    // PUT creates or updates, as RabbitMQ's; the conditional headers of RFC 9110 §13.1 make
    // it create-only (`If-None-Match: *`, `users add`, like `rabbitmqctl add_user`) or
    // update-only (`If-Match: *`, `users set-password`, like `change_password`).
    // spec/management.md §Users, vhosts and permissions.
    if (exists && ctx.req.headers['if-none-match'] === '*') {
      throw new HttpError(
        412,
        'precondition_failed',
        `user '${name}' already exists; change its password with \`switchyard users set-password\``,
      );
    }
    if (!exists && ctx.req.headers['if-match'] === '*') throw new HttpError(404, 'not_found', `no user '${name}'`);
    if (!exists) {
      await access.addUser(name, body.string('password'), body.list('tags'));
      return json({ name, tags: body.list('tags') }, 201);
    }
    if (body.has('password')) await access.setPassword(name, body.string('password'));
    if (raw['tags'] !== undefined) access.setTags(name, body.list('tags'));
    return json(access.listUsers().find((u) => u.name === name));
  });
  r.add('DELETE', '/api/users/:name', (ctx) => {
    access.deleteUser(param(ctx, 'name'));
    return { status: 204 };
  });

  r.add('PUT', '/api/vhosts/:name', (ctx) => {
    const name = param(ctx, 'name');
    if (access.listVhosts().includes(name)) return json({ name });
    access.addVhost(name);
    return json({ name }, 201);
  });
  r.add('DELETE', '/api/vhosts/:name', (ctx) => {
    access.deleteVhost(param(ctx, 'name'));
    return { status: 204 };
  });

  r.add('GET', '/api/permissions', () => json(access.listPermissions()));
  r.add('PUT', '/api/permissions/:vhost/:user', async (ctx) => {
    const body = new Body(await ctx.body(), ['configure', 'write', 'read']);
    const spec = {
      configure: body.string('configure', ''),
      write: body.string('write', ''),
      read: body.string('read', ''),
    };
    access.setPermissions(param(ctx, 'user'), param(ctx, 'vhost'), spec);
    return json({ user: param(ctx, 'user'), vhost: param(ctx, 'vhost'), ...spec });
  });
  r.add('DELETE', '/api/permissions/:vhost/:user', (ctx) => {
    access.clearPermissions(param(ctx, 'user'), param(ctx, 'vhost'));
    return { status: 204 };
  });

  // Revokes every token of the user issued until now and closes connections made with one.
  r.add('DELETE', '/api/users/:name/tokens', (ctx) => {
    const revokedAt = access.revokeTokens(param(ctx, 'name'));
    return json({ user: param(ctx, 'name'), revokedBefore: new Date(revokedAt).toISOString() });
  });

  r.add('POST', '/api/tokens', async (ctx) => {
    const secret = broker.options.tokenSecret;
    if (secret === undefined)
      throw new HttpError(409, 'tokens_disabled', 'login tokens are disabled: start the broker with tokenSecret');
    const body = new Body(await ctx.body(), ['user', 'ttlSeconds', 'vhost']);
    const user = body.string('user');
    if (!access.listUsers().some((u) => u.name === user)) throw new HttpError(404, 'not_found', `no user '${user}'`);
    const ttl = body.int('ttlSeconds', 3600, 1, 7 * 24 * 3600);
    const vhost = body.has('vhost') ? body.string('vhost') : undefined;
    return json({ token: createToken(secret, user, ttl, vhost), expiresInSeconds: ttl }, 201);
  });
}
