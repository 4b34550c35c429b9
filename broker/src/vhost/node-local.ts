import type { MessageRecord } from '../store/store.js';

/**
 * Cluster nodes: node-local queues (exclusive, transient) other nodes route to, and the
 * forwarding of a message routed to another node's (spec/cluster.md §Node-local queues).
 * Unset on a single node.
 */
export interface NodeLocalQueues {
  /** A queue that stays on this node was declared in `vhost`. */
  added(vhost: string, queue: string): void;
  /** It was deleted. */
  removed(vhost: string, queue: string): void;
  /**
   * Hands a message the default exchange routed to `queue` (not on this node) to the node
   * that holds it; false when no node does.
   */
  forward(vhost: string, queue: string, record: MessageRecord): boolean;
}
