import type { BrokerHost as Broker } from '../broker-host.js';
import type { Queue } from '../queues/queue.js';
import { describeConnections } from './views.js';

/**
 * What management reads of a cluster node's store (broker/src/cluster/jetstream-store.ts),
 * spec/cluster.md §Management. Declared here so management does not load the NATS client.
 */
export interface ClusterManagement {
  health(): Promise<object>;
  refreshStreamCounts(): Promise<void>;
  streamMessages(queueId: number): number | undefined;
  queueReplicas(queueId: number): Promise<object | undefined>;
  directory: { list(): Promise<object[]> };
}

/** The cluster side of the broker's store; undefined on a single node. */
export function clusterOf(broker: Broker): ClusterManagement | undefined {
  const store = broker.store as Partial<ClusterManagement>;
  return typeof store.refreshStreamCounts === 'function' ? (store as ClusterManagement) : undefined;
}

/**
 * On a cluster node, the function that gives a durable queue's message count from its stream
 * (every node's messages, not only this node's), counts read at most a second ago; undefined
 * on a single node. A failed read leaves the last counts.
 */
export async function streamCounts(broker: Broker): Promise<((q: Queue) => number | undefined) | undefined> {
  const cluster = clusterOf(broker);
  if (cluster === undefined) return undefined;
  await cluster.refreshStreamCounts().catch(() => undefined);
  return (q) => cluster.streamMessages(q.id);
}

/** This node as `/api/nodes` lists it: its listeners and the connections it holds. */
export function describeNode(broker: Broker): Record<string, unknown> {
  return {
    url: broker.url,
    managementUrl: broker.managementUrl ?? null,
    connections: describeConnections(broker).map(({ id, user, vhost, peer, protocol, channels }) => ({
      id,
      user,
      vhost,
      peer,
      protocol,
      channels,
    })),
  };
}
