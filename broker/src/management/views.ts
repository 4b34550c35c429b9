import type { BrokerHost as Broker } from '../broker-host.js';
import type { Queue } from '../queues/queue.js';
import type { Binding } from '../routing/binding.js';
import type { ServerChannel } from '../server/channel.js';
import type { Session as ClientConnection } from '../server/session.js';
import type { Exchange } from '../vhost/exchange.js';
import type { VirtualHost } from '../vhost/virtual-host.js';
import { eventLoopDelay } from '../metrics/event-loop-delay.js';
import { propertiesKey } from './binding-key.js';
import type { RateSampler } from './rates.js';
import { StreamQueue } from '../streams/stream-queue.js';

/** JSON shapes of the management API (spec/management.md §Endpoints): plain data, no I/O. */

export type View = Record<string, unknown>;

/** The name the management API and the dashboard show for the default exchange. */
export const DEFAULT_EXCHANGE_ALIAS = 'amq.default';

export function describeOverview(broker: Broker, sampler: RateSampler): View {
  let queues = 0;
  let exchanges = 0;
  let ready = 0;
  let unacked = 0;
  let consumers = 0;
  for (const vhost of broker.allVhosts()) {
    for (const q of vhost.allQueues()) {
      queues++;
      ready += q.messageCount;
      unacked += q.unacked;
      consumers += q.consumerCount;
    }
    for (const _ of vhost.allExchanges()) exchanges++;
  }
  let connections = 0;
  let channels = 0;
  for (const c of broker.allConnections()) {
    connections++;
    channels += c.channelCount;
  }
  const mem = process.memoryUsage();
  return {
    product: 'switchyard',
    version: broker.version,
    node: process.version,
    startedAt: new Date(broker.startedAt).toISOString(),
    uptimeMs: Date.now() - broker.startedAt,
    listeners: { client: broker.url, management: broker.managementUrl },
    alarms: {
      ...broker.alarms.state,
      memoryLimitBytes: broker.alarms.memoryLimitBytes,
      // What a fractional watermark is a fraction of: the host's memory or the container's limit.
      memoryTotalBytes: broker.alarms.memoryTotal.bytes,
      memoryTotalSource: broker.alarms.memoryTotal.source,
      diskFreeLimitBytes: broker.alarms.diskFreeLimitBytes,
    },
    connections,
    channels,
    consumers,
    queues,
    exchanges,
    messages: { ready, unacked, total: ready + unacked },
    rates: sampler.overviewRates(),
    totals: { ...broker.stats },
    storeBytes: broker.store.sizeBytes(),
    memory: { rss: mem.rss, heapUsed: mem.heapUsed, heapTotal: mem.heapTotal, external: mem.external },
    eventLoopDelayMs: eventLoopDelay().snapshot(),
  };
}

/**
 * `inStream` (cluster nodes): a durable queue's messages in its JetStream stream, ready and
 * unacked on every node; then `messages` is that count and `messagesUnacked` this node's
 * (spec/cluster.md §Management).
 */
export function describeQueue(
  vhost: VirtualHost,
  q: Queue,
  sampler: RateSampler,
  now = Date.now(),
  inStream?: (q: Queue) => number | undefined,
): View {
  const stream = inStream?.(q);
  return {
    vhost: vhost.name,
    name: q.name,
    durable: q.durable,
    autoDelete: q.autoDelete,
    exclusive: q.exclusiveOwner !== undefined,
    owner: q.exclusiveOwner ?? null,
    arguments: q.arguments,
    messagesReady: stream === undefined ? q.messageCount : Math.max(0, stream - q.unacked),
    messagesUnacked: q.unacked,
    messages: stream ?? q.messageCount + q.unacked,
    readyBytes: q.readyBytes,
    consumers: q.consumerCount,
    oldestMessageAgeMs: q.oldestReadyAgeMs(now),
    ...q.counters,
    rates: sampler.queueRates(q, now),
    // Streams: first/last offset and each reader's position and lag. spec/semantics.md §Streams.
    ...(q instanceof StreamQueue ? { type: 'stream', stream: q.describeStream() } : {}),
  };
}

export function describeQueues(
  vhosts: Iterable<VirtualHost>,
  sampler: RateSampler,
  inStream?: (q: Queue) => number | undefined,
): View[] {
  const now = Date.now();
  const out: View[] = [];
  for (const vhost of vhosts)
    for (const q of vhost.allQueues()) out.push(describeQueue(vhost, q, sampler, now, inStream));
  return out.sort(byVhostAndName);
}

export function describeExchange(vhost: VirtualHost, x: Exchange): View {
  return {
    vhost: vhost.name,
    name: x.name,
    type: x.type,
    durable: x.durable,
    autoDelete: x.autoDelete,
    internal: x.internal,
    arguments: x.arguments,
    bindings: x.matcher.size,
  };
}

export function describeExchanges(vhosts: Iterable<VirtualHost>): View[] {
  const out: View[] = [];
  for (const vhost of vhosts) for (const x of vhost.allExchanges()) out.push(describeExchange(vhost, x));
  return out.sort(byVhostAndName);
}

export function describeBinding(vhost: VirtualHost, b: Binding): View {
  return {
    vhost: vhost.name,
    source: b.source,
    destination: b.destination,
    destinationType: b.destinationKind,
    routingKey: b.routingKey,
    arguments: b.arguments,
    propertiesKey: propertiesKey(b.routingKey, b.arguments),
  };
}

export function describeBindings(vhosts: Iterable<VirtualHost>, filter: (b: Binding) => boolean = () => true): View[] {
  const out: View[] = [];
  for (const vhost of vhosts) {
    for (const b of vhost.allBindings()) if (filter(b)) out.push(describeBinding(vhost, b));
  }
  return out;
}

/** The vhost name of a connection, or undefined before its hello. */
function vhostOf(conn: ClientConnection): string | undefined {
  try {
    return conn.vhost.name;
  } catch {
    return undefined;
  }
}

/**
 * Publishes not yet confirmed on a channel. Read through an optional accessor so this layer
 * works before and after the channel exposes it; null = not known.
 */
function unconfirmedOf(ch: ServerChannel): number | null {
  const v = (ch as unknown as { unconfirmedCount?: unknown }).unconfirmedCount;
  return typeof v === 'number' ? v : null;
}

export function describeChannel(conn: ClientConnection, ch: ServerChannel): View {
  return {
    connection: conn.id,
    number: ch.number,
    peer: conn.remoteAddress,
    user: conn.user,
    vhost: vhostOf(conn) ?? null,
    state: ch.state,
    consumers: ch.consumerCount,
    unacked: ch.unackedCount,
    unconfirmed: unconfirmedOf(ch),
    confirm: ch.confirmMode,
    prefetch: ch.prefetch.consumer,
    globalPrefetch: ch.prefetch.channel,
  };
}

export function describeConnection(conn: ClientConnection): View {
  let unacked = 0;
  let unconfirmed: number | null = 0;
  for (const ch of conn.channelList()) {
    unacked += ch.unackedCount;
    const u = unconfirmedOf(ch);
    unconfirmed = u === null || unconfirmed === null ? null : unconfirmed + u;
  }
  return {
    id: conn.id,
    peer: conn.remoteAddress,
    user: conn.user,
    vhost: vhostOf(conn) ?? null,
    state: conn.state,
    // RabbitMQ's name for its protocol; ours is the WebSocket frame protocol.
    protocol: conn.protocol === 'amqp' ? 'AMQP 0-9-1' : 'WebSocket',
    channels: conn.channelCount,
    unacked,
    unconfirmed,
    clientProperties: conn.clientProperties,
    connectedAt: new Date(conn.connectedAt).toISOString(),
  };
}

export function describeConnections(broker: Broker): View[] {
  return [...broker.allConnections()].map(describeConnection);
}

export function describeChannels(connections: Iterable<ClientConnection>): View[] {
  const out: View[] = [];
  for (const conn of connections) for (const ch of conn.channelList()) out.push(describeChannel(conn, ch));
  return out;
}

export function describeConsumers(
  connections: Iterable<ClientConnection>,
  filter: (q: Queue, vhost: string | undefined) => boolean = () => true,
): View[] {
  const out: View[] = [];
  for (const conn of connections) {
    const vhost = vhostOf(conn);
    for (const ch of conn.channelList()) {
      for (const c of ch.consumerList()) {
        if (!filter(c.queue, vhost)) continue;
        out.push({
          vhost: vhost ?? null,
          queue: c.queue.name,
          consumerTag: c.tag,
          connection: conn.id,
          peer: conn.remoteAddress,
          user: conn.user,
          channel: ch.number,
          noAck: c.noAck,
          exclusive: c.exclusive,
          priority: c.priority,
          active: c.active,
          prefetch: c.prefetch,
          unacked: c.unacked,
          arguments: c.args,
        });
      }
    }
  }
  return out;
}

function byVhostAndName(a: View, b: View): number {
  return String(a['vhost']).localeCompare(String(b['vhost'])) || String(a['name']).localeCompare(String(b['name']));
}
