import type { BrokerHost as Broker } from '../broker-host.js';
import { LinkState } from '../links/link-status.js';
import type { ExpositionWriter } from './prometheus.js';

/**
 * Per-shovel families (spec/links.md §Metrics): state as one gauge per possible state (1 for
 * the current one, RabbitMQ-prometheus style, so an alert is `== 1` on `reconnecting`),
 * messages moved, in flight and source lag.
 */
export function writeLinkMetrics(w: ExpositionWriter, broker: Broker): void {
  writeFederationMetrics(w, broker);
  const rows = broker.links?.statuses() ?? [];
  if (rows.length === 0) return;
  w.family('switchyard_shovel_state', 'gauge', 'Shovel state: 1 for the current state, 0 for the others');
  for (const r of rows)
    for (const s of Object.values(LinkState))
      w.sample('switchyard_shovel_state', r.state === s ? 1 : 0, { vhost: r.vhost, shovel: r.name, state: s });
  w.family(
    'switchyard_shovel_messages_moved_total',
    'counter',
    'Messages a shovel moved (acked upstream) since it started',
  );
  for (const r of rows)
    w.sample('switchyard_shovel_messages_moved_total', r.messagesMoved, { vhost: r.vhost, shovel: r.name });
  w.family('switchyard_shovel_in_flight_messages', 'gauge', 'Messages published downstream, not yet confirmed');
  for (const r of rows)
    w.sample('switchyard_shovel_in_flight_messages', r.inFlight, { vhost: r.vhost, shovel: r.name });
  w.family('switchyard_shovel_lag_messages', 'gauge', 'Messages ready in the source queue at the last check');
  for (const r of rows) w.sample('switchyard_shovel_lag_messages', r.lag ?? 0, { vhost: r.vhost, shovel: r.name });
}

/**
 * Per federation link (labels `vhost`, `exchange`, `upstream`): state, messages moved,
 * dropped by the loop and hop check, in flight (spec/links.md §Metrics).
 */
function writeFederationMetrics(w: ExpositionWriter, broker: Broker): void {
  const rows = broker.links?.federationStatuses() ?? [];
  if (rows.length === 0) return;
  const labels = (r: (typeof rows)[number]): Record<string, string> => ({
    vhost: r.vhost,
    exchange: r.exchange,
    upstream: r.upstream,
  });
  w.family(
    'switchyard_federation_link_state',
    'gauge',
    'Federation link state: 1 for the current state, 0 for the others',
  );
  for (const r of rows)
    for (const s of Object.values(LinkState))
      w.sample('switchyard_federation_link_state', r.state === s ? 1 : 0, { ...labels(r), state: s });
  w.family(
    'switchyard_federation_link_messages_moved_total',
    'counter',
    'Messages a federation link moved into its exchange (acked upstream) since it started',
  );
  for (const r of rows) w.sample('switchyard_federation_link_messages_moved_total', r.messagesMoved, labels(r));
  w.family(
    'switchyard_federation_link_messages_dropped_total',
    'counter',
    'Messages a federation link dropped: already through this broker, or max-hops reached',
  );
  for (const r of rows) w.sample('switchyard_federation_link_messages_dropped_total', r.dropped, labels(r));
  w.family(
    'switchyard_federation_link_in_flight_messages',
    'gauge',
    'Messages published downstream, not yet confirmed',
  );
  for (const r of rows) w.sample('switchyard_federation_link_in_flight_messages', r.inFlight, labels(r));
}
