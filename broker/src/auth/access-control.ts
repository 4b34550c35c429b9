import { createHmac, randomBytes } from 'node:crypto';
import { BrokerError, ErrorCode } from '@switchyard/client/protocol';
import type { AccessChange, AccessStore, PermissionRecord, UserRecord } from '../store/store.js';
import { isLoopbackAddress } from './loopback.js';
import { hashPassword, verifyPassword } from './password.js';
import { Permissions, checkPermissionSpec, type PermissionSpec } from './permissions.js';
import { isTokenRevoked, TOKEN_PREFIX, verifyToken } from './token.js';

/** RabbitMQ's default user: created on first start, may connect from loopback only. */
export const DEFAULT_USER = 'guest';
export const DEFAULT_VHOST = '/';
const FULL: PermissionSpec = { configure: '.*', write: '.*', read: '.*' };

/** Tags that mean something to the broker (others are kept, as RabbitMQ keeps them). */
export const ADMINISTRATOR_TAG = 'administrator';

const NAME_PATTERN = /^[^\u0000-\u001f]{1,255}$/;

function checkName(kind: string, name: unknown): string {
  if (typeof name !== 'string' || !NAME_PATTERN.test(name)) {
    throw new BrokerError(
      ErrorCode.PRECONDITION_FAILED,
      `invalid ${kind} name ${JSON.stringify(name)}: 1-255 printable characters`,
    );
  }
  return name;
}

/**
 * A change that takes access away from a user's open connections (spec/security.md
 * §Revoking access): the broker closes or trims those connections.
 */
export type AccessRevocation =
  | { kind: 'userDeleted'; user: string }
  | { kind: 'permissionsChanged'; user: string; vhost: string }
  | { kind: 'permissionsCleared'; user: string; vhost: string }
  | { kind: 'tokensRevoked'; user: string };

/** What a vhost lifecycle or access change asks of the broker. */
export interface VhostLifecycle {
  vhostAdded(name: string): void;
  vhostDeleted(name: string): void;
  /** Called after the change is stored; optional so embedders of AccessControl may ignore it. */
  accessRevoked?(change: AccessRevocation): void;
}

/** A successful login check: the user, and whether a token (rather than a password) was used. */
export interface Authenticated {
  user: string;
  viaToken: boolean;
  /** The vhost a token is limited to, if any (checked here when the vhost is known). */
  tokenVhost?: string;
}

/**
 * Users, vhosts and permissions, as RabbitMQ models them: scrypt-hashed passwords, tags,
 * per-user per-vhost configure/write/read patterns; the default `guest` user limited to
 * loopback; optional HMAC-signed tokens for browsers. Durable through the AccessStore.
 * spec/security.md.
 */
export class AccessControl {
  private readonly users = new Map<string, UserRecord>();
  private readonly vhosts = new Set<string>();
  private readonly permissions = new Map<string, Permissions>();
  /** Bumped on every change to users or permissions: invalidates cached logins. */
  generation = 0;
  /**
   * Recently verified passwords, as HMACs under a per-process key (never the passwords): a
   * reconnect storm after a restart must not cost every client a fresh scrypt.
   */
  private readonly verified = new Map<string, { mac: string; generation: number; until: number }>();
  private readonly cacheKey = randomBytes(32);

  constructor(
    private readonly store: AccessStore,
    private readonly lifecycle: VhostLifecycle,
    private readonly tokenSecret: string | undefined,
    /** Let `guest` connect from any address (RabbitMQ's `loopback_users = none`). Default false. */
    private readonly guestAnywhere = false,
  ) {}

  /** Loads access data; on a first start creates `/` and guest/guest with full permissions on it. */
  async load(): Promise<void> {
    const data = this.store.loadAccess();
    for (const u of data.users) this.users.set(u.name, u);
    for (const v of data.vhosts) this.vhosts.add(v.name);
    for (const p of data.permissions) this.permissions.set(key(p.user, p.vhost), new Permissions(p.user, p.vhost, p));
    if (!this.vhosts.has(DEFAULT_VHOST)) {
      this.vhosts.add(DEFAULT_VHOST);
      this.store.putVhost({ name: DEFAULT_VHOST });
    }
    if (data.users.length === 0) {
      await this.addUser(DEFAULT_USER, 'guest', [ADMINISTRATOR_TAG]);
      this.setPermissions(DEFAULT_USER, DEFAULT_VHOST, FULL);
    }
  }

  /**
   * Checks a login: username/password, or a token in `password` when a token secret is
   * configured. Resolves to the user and whether a token was used; rejects with 403 ACCESS_REFUSED.
   */
  async authenticate(
    username: string,
    password: string,
    remoteAddress: string,
    vhost: string | undefined,
  ): Promise<Authenticated> {
    let user: string;
    let viaToken = false;
    let tokenVhost: string | undefined;
    if (this.tokenSecret !== undefined && password.startsWith(TOKEN_PREFIX)) {
      const claims = verifyToken(this.tokenSecret, password);
      if (typeof claims === 'string') throw new BrokerError(ErrorCode.ACCESS_REFUSED, `login refused: ${claims}`);
      if (username !== '' && username !== claims.sub)
        throw new BrokerError(
          ErrorCode.ACCESS_REFUSED,
          `login refused: token is for user '${claims.sub}', not '${username}'`,
        );
      if (claims.vhost !== undefined && vhost !== undefined && claims.vhost !== vhost)
        throw new BrokerError(ErrorCode.ACCESS_REFUSED, `login refused: token is for vhost '${claims.vhost}'`);
      tokenVhost = claims.vhost;
      const record = this.users.get(claims.sub);
      if (record === undefined)
        throw new BrokerError(ErrorCode.ACCESS_REFUSED, `login refused: user '${claims.sub}' does not exist`);
      if (isTokenRevoked(claims, record.tokensRevokedAt)) {
        throw new BrokerError(
          ErrorCode.ACCESS_REFUSED,
          `login refused: token revoked (tokens of user '${claims.sub}' issued before ${new Date(record.tokensRevokedAt!).toISOString()} are refused); get a new token`,
        );
      }
      user = claims.sub;
      viaToken = true;
    } else {
      const record = this.users.get(username);
      // Hash even for unknown users, so timing does not reveal which names exist.
      const ok =
        record !== undefined
          ? await this.verifyCached(username, password, record)
          : (await hashPassword(password), false);
      if (!ok)
        throw new BrokerError(ErrorCode.ACCESS_REFUSED, `login refused: user '${username}' - invalid credentials`);
      user = username;
    }
    if (!this.mayLogInFrom(user, remoteAddress)) {
      throw new BrokerError(
        ErrorCode.ACCESS_REFUSED,
        `login refused: user '${DEFAULT_USER}' can only connect via localhost`,
      );
    }
    return { user, viaToken, ...(tokenVhost !== undefined ? { tokenVhost } : {}) };
  }

  /**
   * Whether `user` may log in from `remoteAddress`: `guest` only from loopback unless
   * `guestAnywhere` (RabbitMQ's `loopback_users`), spec/security.md §Users and authentication.
   * Client connections and the management API both ask here.
   */
  mayLogInFrom(user: string, remoteAddress: string | undefined): boolean {
    return user !== DEFAULT_USER || this.guestAnywhere || isLoopbackAddress(remoteAddress);
  }

  private async verifyCached(user: string, password: string, record: UserRecord): Promise<boolean> {
    const mac = createHmac('sha256', this.cacheKey).update(user).update('\u0000').update(password).digest('base64');
    const hit = this.verified.get(user);
    const now = Date.now();
    if (hit !== undefined && hit.mac === mac && hit.generation === this.generation && hit.until > now) return true;
    const ok = await verifyPassword(password, record.passwordHash);
    if (ok) {
      if (this.verified.size > 10_000) this.verified.clear();
      this.verified.set(user, { mac, generation: this.generation, until: now + 5 * 60_000 });
    }
    return ok;
  }

  /** The user's permissions in a vhost; 530 NOT_ALLOWED when it has none (RabbitMQ). */
  requireVhostAccess(user: string, vhost: string): Permissions {
    if (!this.vhosts.has(vhost)) throw new BrokerError(ErrorCode.NOT_ALLOWED, `vhost '${vhost}' not found`);
    const p = this.permissions.get(key(user, vhost));
    if (p === undefined)
      throw new BrokerError(ErrorCode.NOT_ALLOWED, `access to vhost '${vhost}' refused for user '${user}'`);
    return p;
  }

  permissionsOf(user: string, vhost: string): Permissions | undefined {
    return this.permissions.get(key(user, vhost));
  }

  isAdministrator(user: string): boolean {
    return this.hasTag(user, ADMINISTRATOR_TAG);
  }

  /** True when the user exists and carries `tag` (RabbitMQ user tags). */
  hasTag(user: string, tag: string): boolean {
    return this.users.get(user)?.tags.includes(tag) ?? false;
  }

  /** Basic-auth check for the management API: the user, if the password is right. */
  async checkPassword(username: string, password: string): Promise<boolean> {
    const record = this.users.get(username);
    return record !== undefined && (await this.verifyCached(username, password, record));
  }

  // ---- administration (management API and CLI) ------------------------------------

  listUsers(): { name: string; tags: string[] }[] {
    return [...this.users.values()].map((u) => ({ name: u.name, tags: [...u.tags] }));
  }

  /** Users with their password hashes, for a definitions export. */
  exportUsers(): UserRecord[] {
    return [...this.users.values()].map((u) => ({ ...u, tags: [...u.tags] }));
  }

  /**
   * Creates or replaces a user with an already hashed password (a definitions import, as
   * `rabbitmqctl import_definitions` overwrites users). `passwordHash` is in stored form.
   */
  importUser(name: string, passwordHash: string, tags: string[]): void {
    checkName('user', name);
    const record: UserRecord = { name, passwordHash, tags: [...tags] };
    this.users.set(name, record);
    this.generation++;
    this.store.putUser(record);
  }

  async addUser(name: string, password: string, tags: string[] = []): Promise<void> {
    checkName('user', name);
    if (typeof password !== 'string' || password === '')
      throw new BrokerError(ErrorCode.PRECONDITION_FAILED, `user '${name}' needs a non-empty password`);
    if (this.users.has(name))
      throw new BrokerError(
        ErrorCode.PRECONDITION_FAILED,
        `user '${name}' already exists; use set-password to change its password`,
      );
    // Tokens issued to an earlier user of the same name must not log in as this one.
    const record: UserRecord = {
      name,
      passwordHash: await hashPassword(password),
      tags: [...tags],
      tokensRevokedAt: Date.now(),
    };
    this.users.set(name, record);
    this.generation++;
    this.store.putUser(record);
  }

  async setPassword(name: string, password: string): Promise<void> {
    const record = this.users.get(name);
    if (record === undefined) throw new BrokerError(ErrorCode.NOT_FOUND, `no user '${name}'`);
    if (typeof password !== 'string' || password === '')
      throw new BrokerError(ErrorCode.PRECONDITION_FAILED, `user '${name}' needs a non-empty password`);
    record.passwordHash = await hashPassword(password);
    this.generation++;
    this.store.putUser(record);
  }

  setTags(name: string, tags: string[]): void {
    const record = this.users.get(name);
    if (record === undefined) throw new BrokerError(ErrorCode.NOT_FOUND, `no user '${name}'`);
    record.tags = [...tags];
    this.generation++;
    this.store.putUser(record);
  }

  /** Deletes a user: its permissions go, and its open connections are closed (RabbitMQ 3.7+). */
  deleteUser(name: string): void {
    if (!this.users.delete(name)) throw new BrokerError(ErrorCode.NOT_FOUND, `no user '${name}'`);
    this.generation++;
    this.store.removeUser(name);
    for (const vhost of this.vhosts.keys()) this.clearPermissions(name, vhost, true, false);
    this.lifecycle.accessRevoked?.({ kind: 'userDeleted', user: name });
  }

  /**
   * Refuses every login token of `name` issued until now (a leaked token, a logged-out
   * session), and closes the user's connections that logged in with one. Durable.
   */
  revokeTokens(name: string): number {
    const record = this.users.get(name);
    if (record === undefined) throw new BrokerError(ErrorCode.NOT_FOUND, `no user '${name}'`);
    record.tokensRevokedAt = Date.now();
    this.generation++;
    this.store.putUser(record);
    this.lifecycle.accessRevoked?.({ kind: 'tokensRevoked', user: name });
    return record.tokensRevokedAt;
  }

  listVhosts(): string[] {
    return [...this.vhosts];
  }

  addVhost(name: string): void {
    checkName('vhost', name);
    if (this.vhosts.has(name)) throw new BrokerError(ErrorCode.PRECONDITION_FAILED, `vhost '${name}' already exists`);
    this.vhosts.add(name);
    this.store.putVhost({ name });
    this.lifecycle.vhostAdded(name);
  }

  deleteVhost(name: string): void {
    if (!this.vhosts.has(name)) throw new BrokerError(ErrorCode.NOT_FOUND, `no vhost '${name}'`);
    if (name === DEFAULT_VHOST)
      throw new BrokerError(ErrorCode.ACCESS_REFUSED, `the default vhost '/' cannot be deleted`);
    this.lifecycle.vhostDeleted(name);
    this.vhosts.delete(name);
    this.store.removeVhost(name);
    for (const user of this.users.keys()) this.clearPermissions(user, name, true);
  }

  listPermissions(): PermissionRecord[] {
    return [...this.permissions.values()].map((p) => ({ user: p.user, vhost: p.vhost, ...p.spec }));
  }

  setPermissions(user: string, vhost: string, spec: Partial<PermissionSpec>): void {
    if (!this.users.has(user)) throw new BrokerError(ErrorCode.NOT_FOUND, `no user '${user}'`);
    if (!this.vhosts.has(vhost)) throw new BrokerError(ErrorCode.NOT_FOUND, `no vhost '${vhost}'`);
    let full: PermissionSpec;
    try {
      full = checkPermissionSpec(spec);
    } catch (err) {
      throw new BrokerError(ErrorCode.PRECONDITION_FAILED, (err as Error).message);
    }
    this.permissions.set(key(user, vhost), new Permissions(user, vhost, full));
    this.generation++;
    this.store.putPermission({ user, vhost, ...full });
    this.lifecycle.accessRevoked?.({ kind: 'permissionsChanged', user, vhost });
  }

  /** Removes a user's access to a vhost; its connections to that vhost are closed. */
  clearPermissions(user: string, vhost: string, quiet = false, notify = true): void {
    if (!this.permissions.delete(key(user, vhost))) {
      if (!quiet) throw new BrokerError(ErrorCode.NOT_FOUND, `user '${user}' has no permissions on vhost '${vhost}'`);
      return;
    }
    this.generation++;
    this.store.removePermission(user, vhost);
    if (notify) this.lifecycle.accessRevoked?.({ kind: 'permissionsCleared', user, vhost });
  }

  /**
   * Applies a change another cluster node stored (spec/cluster.md §Definitions): the same
   * effects on this node's logins and open connections as the local call, without storing it
   * again. A change this node already has is a no-op.
   */
  applyRemote(change: AccessChange): void {
    const revoked = (r: AccessRevocation): void => this.lifecycle.accessRevoked?.(r);
    switch (change.kind) {
      case 'user': {
        const name = change.op === 'put' ? change.user.name : change.name;
        const before = this.users.get(name);
        if (change.op === 'delete') {
          if (before === undefined) return;
          this.users.delete(name);
          for (const [k, p] of this.permissions) if (p.user === name) this.permissions.delete(k);
          this.generation++;
          revoked({ kind: 'userDeleted', user: name });
          return;
        }
        this.users.set(name, change.user);
        this.generation++;
        if (before !== undefined && before.tokensRevokedAt !== change.user.tokensRevokedAt)
          revoked({ kind: 'tokensRevoked', user: name });
        return;
      }
      case 'vhost':
        if (change.op === 'put') {
          if (this.vhosts.has(change.name)) return;
          this.vhosts.add(change.name);
          this.lifecycle.vhostAdded(change.name);
          return;
        }
        if (!this.vhosts.has(change.name)) return;
        this.lifecycle.vhostDeleted(change.name);
        this.vhosts.delete(change.name);
        for (const [k, p] of this.permissions) if (p.vhost === change.name) this.permissions.delete(k);
        this.generation++;
        return;
      case 'permission': {
        const { user, vhost } = change.op === 'put' ? change.permission : change;
        if (change.op === 'put') {
          this.permissions.set(key(user, vhost), new Permissions(user, vhost, change.permission));
          this.generation++;
          revoked({ kind: 'permissionsChanged', user, vhost });
        } else if (this.permissions.delete(key(user, vhost))) {
          this.generation++;
          revoked({ kind: 'permissionsCleared', user, vhost });
        }
        return;
      }
    }
  }
}

function key(user: string, vhost: string): string {
  return `${user}\u0000${vhost}`;
}
