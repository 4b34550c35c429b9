import type { BrokerHost as Broker } from '../broker-host.js';
import { LinkState } from '../links/link-status.js';
import type { ExpositionWriter } from './prometheus.js';

/**
 * Per-shovel families (spec/links.md §Metrics): state as one gauge per possible state (1 for
 * the current one, RabbitMQ-prometheus style, so an alert is `== 1` on `reconnecting`),
 * messages moved, in flight and source lag.
 */
export function writeLinkMetrics(w: ExpositionWriter, broker: Broker): void {
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
