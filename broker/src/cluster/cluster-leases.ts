import type { NatsConnection } from '@nats-io/transport-node';
import { jetstream, jetstreamManager, JetStreamApiCodes, JetStreamApiError } from '@nats-io/jetstream';
import { Kvm, type KV } from '@nats-io/kv';
import { randomBytes } from 'node:crypto';
import type { Logger } from '../logging.js';
import { createKey } from './kv-create.js';
import { digest } from './keys.js';
import { ClusterLease, type LeaseBucket, type LeaseHandlers } from './lease.js';

/** The cluster's leases: KV bucket `sy_leases`, whose `max_age` is the lease ttl (spec/cluster.md §Leases). */
const BUCKET = 'sy_leases';

/** A refused compare-and-set: the key changed (another holder) or is gone (expired). */
function isConflict(err: unknown): boolean {
  if (err instanceof JetStreamApiError)
    return err.code === JetStreamApiCodes.StreamWrongLastSequence || err.code === JetStreamApiCodes.NoMessageFound;
  return /wrong last sequence/i.test((err as Error)?.message ?? '');
}

/** The leases of one node, in the cluster's `sy_leases` bucket. */
export class ClusterLeases {
  private readonly owner: string;

  private constructor(
    private readonly bucket: LeaseBucket,
    nodeName: string,
    readonly ttlMs: number,
    private readonly logger: Logger,
  ) {
    this.owner = `${nodeName}/${randomBytes(6).toString('base64url')}`;
  }

  /** Opens (creating if missing) the lease bucket with `max_age` = `ttlMs`. */
  static async open(
    nc: NatsConnection,
    nodeName: string,
    replicas: number,
    ttlMs: number,
    logger: Logger,
  ): Promise<ClusterLeases> {
    const kv: KV = await new Kvm(nc).create(BUCKET, { replicas, history: 1, ttl: ttlMs });
    const js = jetstream(nc, { timeout: 5_000 });
    const jsm = await jetstreamManager(nc);
    const bucket: LeaseBucket = {
      create: (key, value) => createKey(js, jsm, BUCKET, key, value),
      update: (key, value, revision) =>
        kv.update(key, value, revision).catch((err: unknown) => {
          if (isConflict(err)) return 'conflict' as const;
          throw err;
        }),
      remove: (key, revision) => kv.delete(key, { previousSeq: revision }),
    };
    return new ClusterLeases(bucket, nodeName, ttlMs, logger);
  }

  /** Contends for lease `name` from now on (links/link-gate.ts `LinkGate`); `release` gives it up. */
  hold(name: string, handlers: LeaseHandlers): { release(): Promise<void> } {
    const lease = this.lease(name, handlers);
    lease.start();
    return { release: () => lease.stop() };
  }

  /** A lease on `name` (any text: its digest is the key) for this node; `start()` it. */
  lease(name: string, handlers: LeaseHandlers): ClusterLease {
    return new ClusterLease(this.bucket, `L${digest(name)}`, this.owner, this.ttlMs, handlers, this.logger);
  }
}
