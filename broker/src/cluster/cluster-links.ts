import type { Logger } from '../logging.js';
import type { LinkGate } from '../links/link-gate.js';
import type { LinkParameterStore } from '../links/parameter-file.js';
import { retry, SETUP_RETRY_MS, type JetStreamStore } from './jetstream-store.js';
import { ClusterLeases } from './cluster-leases.js';
import { DEFAULT_LEASE_TTL_MS } from './lease.js';
import { ClusterLinkParameters } from './link-parameters.js';

/** What a cluster node's links need: the shared parameters and the leases (spec/cluster.md §Links). */
export interface ClusterLinks {
  parameters: LinkParameterStore;
  gate: LinkGate;
  close(): void;
}

/** Opens the cluster's link parameters (`sy_links`) and leases (`sy_leases`) over the store's connection. */
export async function openClusterLinks(
  store: JetStreamStore,
  options: { replicas?: number; leaseTtlMs?: number },
  logger: Logger,
): Promise<ClusterLinks> {
  const replicas = options.replicas ?? 3;
  // Retried as the store's own streams and buckets are (a cluster electing, or a loaded machine).
  const parameters = await retry(() => ClusterLinkParameters.open(store.nc, replicas, logger), SETUP_RETRY_MS);
  const ttl = options.leaseTtlMs ?? DEFAULT_LEASE_TTL_MS;
  const gate = await retry(() => ClusterLeases.open(store.nc, store.nodeName, replicas, ttl, logger), SETUP_RETRY_MS);
  return { parameters, gate, close: () => parameters.close() };
}
