import { BrokerError, ErrorCode } from '@switchyard/client/protocol';

/** RabbitMQ's three permission kinds, each a regular expression over resource names. */
export interface PermissionSpec {
  configure: string;
  write: string;
  read: string;
}

export type PermissionKind = keyof PermissionSpec;
export type ResourceKind = 'exchange' | 'queue';

/** The default exchange's resource name in permission checks, as RabbitMQ names it. */
export const DEFAULT_EXCHANGE_RESOURCE = 'amq.default';

/**
 * A user's compiled permissions in one vhost. A pattern matches where it is found in the
 * name, as RabbitMQ's `re:run(Name, RE)` does (rabbit_auth_backend_internal): `orders`
 * grants `orders-archive` too, and `^orders$` only `orders`. An empty pattern grants nothing
 * (RabbitMQ reads it as `^$`, and no resource name is empty).
 */
export class Permissions {
  private readonly compiled: Record<PermissionKind, RegExp | undefined>;

  constructor(
    readonly user: string,
    readonly vhost: string,
    readonly spec: PermissionSpec,
  ) {
    const compile = (p: string): RegExp | undefined => (p === '' ? undefined : new RegExp(p));
    this.compiled = { configure: compile(spec.configure), write: compile(spec.write), read: compile(spec.read) };
  }

  allows(kind: PermissionKind, name: string): boolean {
    return this.compiled[kind]?.test(name === '' ? DEFAULT_EXCHANGE_RESOURCE : name) ?? false;
  }

  /** Throws 403 ACCESS_REFUSED naming the resource, in RabbitMQ's words. */
  require(kind: PermissionKind, resource: ResourceKind, name: string): void {
    if (this.allows(kind, name)) return;
    const shown = name === '' ? DEFAULT_EXCHANGE_RESOURCE : name;
    throw new BrokerError(
      ErrorCode.ACCESS_REFUSED,
      `${kind} access to ${resource} '${shown}' in vhost '${this.vhost}' refused for user '${this.user}'`,
    );
  }
}

/** Validates a permission spec from a client (API/CLI): every pattern must compile. */
export function checkPermissionSpec(spec: Partial<PermissionSpec>): PermissionSpec {
  const out = { configure: spec.configure ?? '', write: spec.write ?? '', read: spec.read ?? '' };
  for (const [k, v] of Object.entries(out)) {
    if (typeof v !== 'string') throw new TypeError(`permission "${k}" must be a regular expression string`);
    try {
      new RegExp(v);
    } catch (err) {
      throw new TypeError(`permission "${k}" is not a valid regular expression: ${(err as Error).message}`, {
        cause: err,
      });
    }
  }
  return out;
}
