import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import type { Logger } from '../logging.js';
import { keyToken } from './keys.js';
import type { DefinitionsRegistry } from './node-local.js';

/*
 * The cluster's Switchyard nodes, for management (spec/cluster.md §Management): each node
 * registers itself in the definitions bucket (`node.<name>`, removed when it stops cleanly) and
 * answers `sy.nodes.describe` with what it holds now (its connections, its JetStream server).
 * `GET /api/nodes` asks every registered node at once and lists the ones that did not answer
 * as unreachable (a node killed without stopping stays registered until it starts again).
 */

const SUBJECT = 'sy.nodes.describe';
/** How long `/api/nodes` waits for the registered nodes to answer. */
const DESCRIBE_WAIT_MS = 2_000;

/** A node as registered in the bucket. */
export interface NodeRegistration {
  name: string;
  startedAt: string;
}

/** A node as `/api/nodes` lists it: its own description, or `reachable: false`. */
export type NodeView = NodeRegistration & { reachable: boolean } & Record<string, unknown>;

export class NodeDirectory {
  private subscription: Subscription | undefined;
  private readonly registration: NodeRegistration;

  constructor(
    private readonly nc: NatsConnection,
    nodeName: string,
    private readonly registry: DefinitionsRegistry,
    private readonly logger: Logger,
  ) {
    this.registration = { name: nodeName, startedAt: new Date().toISOString() };
  }

  /** Registers this node and answers descriptions with `describe()` from now on. */
  serve(describe: () => Record<string, unknown>): void {
    this.registry.write(`node.${keyToken(this.registration.name)}`, JSON.stringify(this.registration));
    this.subscription = this.nc.subscribe(SUBJECT, {
      callback: (err, msg) => {
        if (err !== null) return;
        try {
          const jetstream = { connectedTo: this.nc.getServer(), serverVersion: this.nc.info?.version ?? null };
          msg.respond(JSON.stringify({ ...describe(), ...this.registration, jetstream, reachable: true }));
        } catch (e) {
          this.logger.warn('could not describe this node', { component: 'cluster', error: (e as Error).message });
        }
      },
    });
  }

  /** Every registered node, described by itself where it answered; sorted by name. */
  async list(): Promise<NodeView[]> {
    const registered = new Map<string, NodeRegistration>();
    for (const key of this.registry.keys()) {
      if (!key.startsWith('node.')) continue;
      const r = JSON.parse(this.registry.get(key) ?? 'null') as NodeRegistration | null;
      if (r !== null) registered.set(r.name, r);
    }
    const answers = new Map<string, NodeView>();
    const replies = await this.nc.requestMany(SUBJECT, '', {
      strategy: 'count',
      maxMessages: Math.max(1, registered.size),
      maxWait: DESCRIBE_WAIT_MS,
    });
    try {
      for await (const m of replies) {
        const v = JSON.parse(m.string()) as NodeView;
        answers.set(v.name, v);
      }
    } catch {
      // Fewer answers than registered nodes within the wait: the rest are unreachable.
    }
    for (const r of registered.values()) if (!answers.has(r.name)) answers.set(r.name, { ...r, reachable: false });
    return [...answers.values()].sort((a, b) => a.name.localeCompare(b.name));
  }

  /** Unregisters (a clean stop): the node is no longer listed. */
  close(): void {
    this.subscription?.unsubscribe();
    this.registry.remove(`node.${keyToken(this.registration.name)}`);
  }
}
