import type { NatsConnection } from '@nats-io/transport-node';
import { Kvm, type KV } from '@nats-io/kv';
import { errorFields, type Logger } from '../logging.js';
import type { LinkParameters, LinkParameterStore, RuntimeParameter } from '../links/parameter-file.js';
import { digest } from './keys.js';

/*
 * Shovels, federation upstreams, upstream sets and their policies in a cluster: one key per
 * parameter (whatever its component: the key hashes vhost, component and name) or policy in
 * the R3 KV bucket `sy_links`, so every node knows every link and the one that holds a link's
 * lease runs it (spec/cluster.md §Links). A PUT on any node replaces the key (last writer
 * wins, as RabbitMQ's PUT replaces); every node follows the bucket with a watch.
 */

const BUCKET = 'sy_links';

type Entry =
  | { kind: 'parameter'; value: LinkParameters['parameters'][number] }
  | { kind: 'policy'; value: LinkParameters['policies'][number] };

function keyOf(entry: Entry): string {
  const v = entry.value;
  return entry.kind === 'parameter'
    ? `p.${digest(v.vhost, (v as RuntimeParameter).component, v.name)}`
    : `pol.${digest(v.vhost, v.name)}`;
}

/** The cluster's link parameters, mirrored locally (reads stay synchronous). */
export class ClusterLinkParameters implements LinkParameterStore {
  /** KV key -> JSON of its entry, as last read or written. */
  private readonly mirror = new Map<string, string>();
  private listener: ((all: LinkParameters) => void) | undefined;
  private closed = false;

  private constructor(
    private readonly kv: KV,
    private readonly logger: Logger,
  ) {}

  static async open(nc: NatsConnection, replicas: number, logger: Logger): Promise<ClusterLinkParameters> {
    const kv = await new Kvm(nc).create(BUCKET, { replicas, history: 1 });
    const store = new ClusterLinkParameters(kv, logger);
    const keys: string[] = [];
    for await (const k of await kv.keys()) keys.push(k);
    for (const k of keys) {
      const e = await kv.get(k);
      if (e !== null && e.operation === 'PUT') store.mirror.set(k, e.string());
    }
    void store.follow();
    return store;
  }

  read(): LinkParameters {
    const all: LinkParameters = { parameters: [], policies: [] };
    for (const json of this.mirror.values()) {
      try {
        const entry = JSON.parse(json) as Entry;
        if (entry.kind === 'parameter') all.parameters.push(entry.value);
        else if (entry.kind === 'policy') all.policies.push(entry.value);
      } catch {
        // a value this version cannot read: skipped (written by a newer node)
      }
    }
    return all;
  }

  /** Writes what differs from the mirror: one put per changed entry, one delete per removed one. */
  write(all: LinkParameters): void {
    const next = new Map<string, string>();
    for (const value of all.parameters) {
      const entry: Entry = { kind: 'parameter', value };
      next.set(keyOf(entry), JSON.stringify(entry));
    }
    for (const value of all.policies) {
      const entry: Entry = { kind: 'policy', value };
      next.set(keyOf(entry), JSON.stringify(entry));
    }
    for (const [key, json] of next) {
      if (this.mirror.get(key) === json) continue;
      this.mirror.set(key, json);
      this.kv.put(key, json).catch((err: unknown) => this.failed('put', key, err));
    }
    for (const key of [...this.mirror.keys()]) {
      if (next.has(key)) continue;
      this.mirror.delete(key);
      this.kv.delete(key).catch((err: unknown) => this.failed('delete', key, err));
    }
  }

  /** Calls `listener` with everything whenever another node changed a parameter or policy. */
  onRemoteChange(listener: (all: LinkParameters) => void): void {
    this.listener = listener;
  }

  close(): void {
    this.closed = true;
  }

  private async follow(): Promise<void> {
    try {
      const w = await this.kv.watch({ include: 'updates' });
      for await (const e of w) {
        if (this.closed) break;
        const json = e.operation === 'PUT' ? e.string() : undefined;
        if (this.mirror.get(e.key) === json) continue; // our own write, or no change
        if (json === undefined) this.mirror.delete(e.key);
        else this.mirror.set(e.key, json);
        this.listener?.(this.read());
      }
    } catch (err) {
      if (!this.closed)
        this.logger.error('link parameters watch ended; links changed on other nodes are not seen until restart', {
          component: 'cluster',
          ...errorFields(err),
        });
    }
  }

  private failed(op: string, key: string, err: unknown): void {
    this.logger.error('writing a link parameter to the cluster failed; PUT it again', {
      component: 'cluster',
      op,
      key,
      ...errorFields(err),
    });
  }
}
