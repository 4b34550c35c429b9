import { BrokerError, ErrorCode } from '@switchyard/client/protocol';
import type { VirtualHost } from './virtual-host.js';

/**
 * The `maxQueues` limit, for every path that creates queues (client declare, management API,
 * definitions import): declaring a queue that does not exist yet in a vhost that already has
 * `max` queues is 406 PRECONDITION_FAILED. `name` '' is a server-named (new) queue.
 * spec/security.md §Limits.
 */
export function checkQueueLimit(vhost: VirtualHost, name: string, max: number): void {
  if ((name === '' || vhost.queue(name) === undefined) && vhost.queueCount >= max) {
    throw new BrokerError(
      ErrorCode.PRECONDITION_FAILED,
      `queue limit reached: vhost '${vhost.name}' has ${max} queues (maxQueues); delete some or raise the limit`,
    );
  }
}
