import { errorFields, type Logger } from '../logging.js';
import type { CreateOutcome } from './kv-create.js';

/*
 * Leases: one node of the cluster at a time does a thing (runs a shovel, a federation link).
 * spec/cluster.md §Leases. A lease is a key of the R3 KV bucket `sy_leases`, whose `max_age`
 * is the lease's time to live: the holder rewrites its key every ttl/3, and a key nobody
 * rewrites is removed by the server ttl after its last write, so a dead holder's lease frees
 * itself. Taking a free lease is `createKey` (kv-create.ts), which has exactly one winner on
 * nats-server 2.9.10 too; renewing is an update by revision, which 2.9.10 checks only before
 * proposing (spec/cluster.md §Compare-and-set on 2.9.10) — enough here, because a renewal can
 * only race a create after the key expired, and by then the holder has given the lease up
 * (LeaseClock: it stops a third of the ttl before the earliest moment the server can expire it).
 */

/** Default lease time to live: a dead holder's work moves to another node within about this. */
export const DEFAULT_LEASE_TTL_MS = 15_000;

/**
 * When a held lease is still safe to act on (pure; no I/O). The server keeps a write for the
 * bucket's ttl from when it stored it, which is after the holder sent it, so the holder may act
 * until `sentAt + ttl`; it stops `margin` earlier so a slow renewal or a clock step cannot
 * overlap the next holder.
 */
export class LeaseClock {
  private validUntil = Number.NEGATIVE_INFINITY;

  constructor(
    readonly ttlMs: number,
    readonly marginMs: number = Math.floor(ttlMs / 3),
  ) {}

  /** How often the holder rewrites its key, and others try to take a free one. */
  get renewEveryMs(): number {
    return Math.max(50, Math.floor(this.ttlMs / 3));
  }

  /** A create or renewal sent at `sentAt` was stored. */
  confirmed(sentAt: number): void {
    this.validUntil = sentAt + this.ttlMs - this.marginMs;
  }

  /** Whether the holder may still act at `now`. */
  holds(now: number): boolean {
    return now < this.validUntil;
  }

  /** The lease was lost or given up. */
  reset(): void {
    this.validUntil = Number.NEGATIVE_INFINITY;
  }
}

/** The KV operations a lease needs: the I/O seam, so the lease logic runs against a real bucket in tests. */
export interface LeaseBucket {
  /** Writes `value` only if the key has no value; exactly one of concurrent creators wins. */
  create(key: string, value: string): Promise<CreateOutcome>;
  /**
   * Rewrites the key if its revision is still `revision`: the new revision, or `'conflict'` when
   * the key changed or is gone. Rejects when the outcome is unknown (no answer).
   */
  update(key: string, value: string, revision: number): Promise<number | 'conflict'>;
  /** Deletes the key if its revision is still `revision`. */
  remove(key: string, revision: number): Promise<void>;
}

/** What the lease's user does when it gets and loses the lease. */
export interface LeaseHandlers {
  /** This node now holds the lease: start the work. */
  acquired(): void;
  /** This node no longer holds it (renewal refused or too late, or `stop()`): stop the work. */
  lost(): void | Promise<void>;
}

/**
 * One named lease this node contends for: takes it when free, renews it while held, gives it
 * up (calling `lost`) when a renewal is refused or cannot be confirmed in time.
 */
export class ClusterLease {
  private readonly clock: LeaseClock;
  private timer: NodeJS.Timeout | undefined;
  private revision: number | undefined;
  private ticking: Promise<void> | undefined;
  private stopped = false;

  constructor(
    private readonly bucket: LeaseBucket,
    readonly key: string,
    /** This node and process (`node/incarnation`): a restarted node does not adopt its old lease. */
    private readonly owner: string,
    ttlMs: number,
    private readonly handlers: LeaseHandlers,
    private readonly logger: Logger,
  ) {
    this.clock = new LeaseClock(ttlMs);
  }

  /** Whether this node holds the lease now. */
  get held(): boolean {
    return this.revision !== undefined && this.clock.holds(Date.now());
  }

  start(): void {
    const tick = (): void => {
      this.ticking = this.tick().finally(() => {
        this.ticking = undefined;
        if (!this.stopped) this.timer = setTimeout(tick, this.clock.renewEveryMs).unref();
      });
    };
    tick();
  }

  /** Stops contending; if held, the work is stopped (`lost`) and the key deleted so another node takes over at once. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.ticking;
    const revision = this.revision;
    if (revision === undefined) return;
    await this.drop('released');
    await this.bucket.remove(this.key, revision).catch(() => undefined); // expires by itself otherwise
  }

  private async tick(): Promise<void> {
    const sentAt = Date.now();
    if (this.revision !== undefined) {
      if (!this.clock.holds(sentAt)) return this.drop('renewal too late');
      try {
        const revision = await this.bucket.update(this.key, this.owner, this.revision);
        if (revision === 'conflict') return this.drop('taken by another node');
        this.revision = revision;
        this.clock.confirmed(sentAt);
      } catch (err) {
        this.logger.warn('lease renewal failed; retrying', {
          component: 'cluster',
          lease: this.key,
          ...errorFields(err),
        });
        if (!this.clock.holds(Date.now())) return this.drop('renewal too late');
      }
      return;
    }
    try {
      const outcome = await this.bucket.create(this.key, this.owner);
      if (!outcome.created || this.stopped) {
        if (outcome.created) await this.bucket.remove(this.key, outcome.revision).catch(() => undefined);
        return;
      }
      this.revision = outcome.revision;
      this.clock.confirmed(sentAt);
      this.logger.info('lease taken', { component: 'cluster', lease: this.key, owner: this.owner });
      this.handlers.acquired();
    } catch (err) {
      this.logger.warn('lease attempt failed; retrying', {
        component: 'cluster',
        lease: this.key,
        ...errorFields(err),
      });
    }
  }

  private async drop(reason: string): Promise<void> {
    this.revision = undefined;
    this.clock.reset();
    this.logger.info('lease given up', { component: 'cluster', lease: this.key, owner: this.owner, reason });
    try {
      await this.handlers.lost();
    } catch (err) {
      this.logger.error('stopping the work of a lost lease failed', {
        component: 'cluster',
        lease: this.key,
        ...errorFields(err),
      });
    }
  }
}
