import type { Broker } from '../broker.js';

/** JSON shapes of the management API: plain data, no I/O. */
export function describeOverview(broker: Broker): Record<string, unknown> {
  let queues = 0;
  let ready = 0;
  let unacked = 0;
  for (const vhost of broker.allVhosts()) {
    for (const q of vhost.allQueues()) {
      queues++;
      ready += q.messageCount;
      unacked += q.unacked;
    }
  }
  return {
    product: 'switchyard',
    version: broker.version,
    uptimeMs: Date.now() - broker.startedAt,
    connections: [...broker.allConnections()].length,
    queues,
    messages: { ready, unacked, total: ready + unacked },
    totals: { ...broker.stats },
    storeBytes: broker.store.sizeBytes(),
  };
}

export function describeQueues(broker: Broker): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  for (const vhost of broker.allVhosts()) {
    for (const q of vhost.allQueues()) {
      out.push({
        vhost: vhost.name,
        name: q.name,
        durable: q.durable,
        autoDelete: q.autoDelete,
        exclusive: q.exclusiveOwner !== undefined,
        arguments: q.arguments,
        messagesReady: q.messageCount,
        messagesUnacked: q.unacked,
        messages: q.messageCount + q.unacked,
        readyBytes: q.readyBytes,
        consumers: q.consumerCount,
        ...q.counters,
      });
    }
  }
  return out;
}

export function describeExchanges(broker: Broker): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  for (const vhost of broker.allVhosts()) {
    for (const x of vhost.allExchanges()) {
      out.push({ vhost: vhost.name, name: x.name, type: x.type, durable: x.durable, autoDelete: x.autoDelete, internal: x.internal, arguments: x.arguments, bindings: x.matcher.size });
    }
  }
  return out;
}

export function describeConnections(broker: Broker): Record<string, unknown>[] {
  return [...broker.allConnections()].map((c) => ({
    id: c.id,
    peer: c.remoteAddress,
    user: c.user,
    state: c.state,
    channels: c.channelCount,
    clientProperties: c.clientProperties,
    connectedAt: new Date(c.connectedAt).toISOString(),
  }));
}
