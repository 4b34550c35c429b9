import type { Logger } from '../logging.js';
import type { VirtualHost } from '../vhost/virtual-host.js';
import type { DefinitionChange } from './jetstream-store.js';

/** The connection id remote declares are made under (never a client's). */
const CLUSTER_CONNECTION_ID = 'cluster';

/** The scoped store prefixes names outside `/` with `<vhost>\u0001` (store/scoped-store.ts). */
function unprefixed(vhost: string, name: string): string {
  const prefix = vhost === '/' ? '' : `${vhost}\u0001`;
  return prefix !== '' && name.startsWith(prefix) ? name.slice(prefix.length) : name;
}

/**
 * Applies a definition another node wrote to this node's vhosts, so every node routes by the
 * same topology (spec/cluster.md §Definitions). The local declare writes the same value back,
 * which the store recognises as already there.
 */
export function applyRemoteChange(
  vhostOf: (name: string) => VirtualHost | undefined,
  change: DefinitionChange,
  logger: Logger,
): void {
  const vhostName = change.op === 'delete' && change.kind !== 'binding' ? change.vhost : (change.def.vhost ?? '/');
  const vhost = vhostOf(vhostName);
  if (vhost === undefined) return; // a vhost this node does not have (yet): loaded with it
  try {
    if (change.kind === 'binding') {
      const { source, destination, destinationKind, routingKey, arguments: args } = change.def;
      const b = { source, destination, destinationKind, routingKey, arguments: args };
      if (change.op === 'put') vhost.bind(b, undefined);
      else vhost.unbind(b, undefined);
    } else if (change.op === 'delete') {
      const name = unprefixed(vhostName, change.name);
      if (change.kind === 'queue') {
        const q = vhost.queue(name);
        if (q !== undefined) vhost.removeQueue(q, `queue '${name}' was deleted on another node`);
      } else vhost.deleteExchange(name, false);
    } else if (change.kind === 'queue') {
      const name = unprefixed(vhostName, change.def.name);
      if (vhost.queue(name) !== undefined)
        // Another node's definition stands over this node's (a declare race this node lost).
        vhost.adoptQueueDefinition(name, change.def.autoDelete, change.def.arguments);
      else
        vhost.declareQueue(
          {
            queue: name,
            passive: false,
            durable: true,
            exclusive: false,
            autoDelete: change.def.autoDelete,
            arguments: change.def.arguments,
          },
          CLUSTER_CONNECTION_ID,
        );
    } else {
      const def = change.def as import('../store/store.js').ExchangeDefinition;
      const name = unprefixed(vhostName, def.name);
      if (vhost.exchange(name) === undefined)
        vhost.declareExchange({
          exchange: name,
          exchangeType: def.type,
          passive: false,
          durable: def.durable,
          autoDelete: def.autoDelete,
          internal: def.internal,
          arguments: def.arguments,
        });
    }
  } catch (err) {
    logger.error('could not apply a definition made on another node', {
      component: 'cluster',
      change: change.kind,
      op: change.op,
      error: (err as Error).message,
    });
  }
}
