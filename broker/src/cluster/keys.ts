import { createHash } from 'node:crypto';

/*
 * Names in the cluster: KV keys of the definitions bucket and the subject each durable queue
 * lives on. Pure, so it is unit-tested without a server. spec/cluster.md §Where the state lives.
 */

/**
 * One KV key token for a user-supplied name. KV keys allow only `[-/_=.A-Za-z0-9]`, so the
 * name is unpadded base64url; the leading `_` keeps the empty name (`/`'s default exchange,
 * an empty user) a non-empty token.
 */
export function keyToken(name: string): string {
  return `_${Buffer.from(name, 'utf8').toString('base64url')}`;
}

/** The name a `keyToken` encodes. */
export function tokenName(token: string): string {
  return Buffer.from(token.slice(1), 'base64url').toString('utf8');
}

/** A stable 64-bit hex digest: queues are addressed by it, so every node derives the same subject. */
export function digest(...parts: string[]): string {
  return createHash('sha256').update(parts.join('\u0000')).digest('hex').slice(0, 16);
}

/** Where a durable queue's messages live in JetStream. */
export interface QueueAddress {
  /** `SY_Q_<shard>`. */
  stream: string;
  /** `syq.<shard>.<digest>`. */
  subject: string;
  /** Durable pull consumer name `Q<digest>`: one per queue, shared by every node. */
  consumer: string;
}

/**
 * The address of queue `name` in vhost `vhost` on a cluster of `shards` streams. Derived from
 * the names, not from an allocated id, so two nodes agree without talking to each other.
 */
export function queueAddress(vhost: string, name: string, shards: number): QueueAddress {
  const d = digest(vhost, name);
  const shard = Number.parseInt(d.slice(0, 8), 16) % shards;
  return { stream: streamName(shard), subject: `syq.${shard}.${d}`, consumer: `Q${d}` };
}

export function streamName(shard: number): string {
  return `SY_Q_${shard}`;
}
