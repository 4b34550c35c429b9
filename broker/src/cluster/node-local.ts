import { headers, type NatsConnection, type Subscription } from '@nats-io/transport-node';
import type { Logger } from '../logging.js';
import { decodeRecord, encodeRecord } from '../store/record-codec.js';
import type { MessageRecord } from '../store/store.js';
import type { NodeLocalQueues } from '../vhost/node-local.js';
import type { VirtualHost } from '../vhost/virtual-host.js';
import { keyToken, tokenName } from './keys.js';

/*
 * Node-local queues in a cluster (spec/cluster.md §Node-local queues): exclusive and
 * transient queues stay in the memory of the node that declared them; the definitions bucket
 * says which node holds each (`nl.<vhost>.<queue>` -> { node }), and a message another node
 * routes to one by the default exchange is forwarded to the holder over core NATS: a request
 * to `sy.node.<node>.enqueue`, answered once the holder has enqueued it. The forward is
 * tracked like a store write, so the publisher's confirm waits for the answer.
 */

/** A registration as stored under `nl.<vhost>.<queue>`. */
interface Registration {
  node: string;
}

/** What the forwarding and the node directory need of the store's mirror of `sy_defs`. */
export interface DefinitionsRegistry {
  get(key: string): string | undefined;
  keys(): Iterable<string>;
  write(key: string, value: string): void;
  remove(key: string): void;
  /** Confirms wait for `p` as for a store write (a rejection is logged, not nacked). */
  track(p: Promise<unknown>): void;
}

const HEADER_VHOST = 'Sy-Vhost';
const HEADER_QUEUE = 'Sy-Queue';
/** How long a forward waits for the holder's answer. */
const FORWARD_TIMEOUT_MS = 5_000;

function subjectOf(node: string): string {
  return `sy.node.${keyToken(node)}.enqueue`;
}

function keyOf(vhost: string, queue: string): string {
  return `nl.${keyToken(vhost)}.${keyToken(queue)}`;
}

/** Registers this node's node-local queues and forwards messages to other nodes' (spec/cluster.md §Node-local queues). */
export class NodeLocalForwarding implements NodeLocalQueues {
  private subscription: Subscription | undefined;

  constructor(
    private readonly nc: NatsConnection,
    private readonly nodeName: string,
    private readonly registry: DefinitionsRegistry,
    private readonly logger: Logger,
  ) {}

  /**
   * Answers forwards to this node's queues, and removes registrations a previous run of this
   * node left (it died holding them: they died with it).
   */
  serve(vhostOf: (name: string) => VirtualHost | undefined): void {
    for (const key of [...this.registry.keys()]) {
      if (!key.startsWith('nl.')) continue;
      const value = this.registry.get(key);
      if (value !== undefined && (JSON.parse(value) as Registration).node === this.nodeName) this.registry.remove(key);
    }
    this.subscription = this.nc.subscribe(subjectOf(this.nodeName), {
      callback: (err, msg) => {
        if (err !== null) return;
        const vhost = tokenName(msg.headers?.get(HEADER_VHOST) ?? '_');
        const queue = tokenName(msg.headers?.get(HEADER_QUEUE) ?? '_');
        const q = vhostOf(vhost)?.queue(queue);
        if (q === undefined || (q.durable && q.exclusiveOwner === undefined)) {
          msg.respond('gone');
          return;
        }
        try {
          const r = decodeRecord(msg.data);
          msg.respond(q.enqueue(r.exchange, r.routingKey, r.properties, r.content));
        } catch (e) {
          // Not a record (another program on the subject?): refused, and the node carries on.
          this.logger.warn('refused a forward that is not a message record', {
            component: 'cluster',
            queue,
            error: (e as Error).message,
          });
          msg.respond('refused');
        }
      },
    });
  }

  added(vhost: string, queue: string): void {
    this.registry.write(keyOf(vhost, queue), JSON.stringify({ node: this.nodeName } satisfies Registration));
  }

  removed(vhost: string, queue: string): void {
    const key = keyOf(vhost, queue);
    const value = this.registry.get(key);
    if (value !== undefined && (JSON.parse(value) as Registration).node === this.nodeName) this.registry.remove(key);
  }

  forward(vhost: string, queue: string, record: MessageRecord): boolean {
    const value = this.registry.get(keyOf(vhost, queue));
    if (value === undefined) return false;
    const { node } = JSON.parse(value) as Registration;
    if (node === this.nodeName) return false; // ours, and gone from the vhost: unroutable
    const h = headers();
    h.set(HEADER_VHOST, keyToken(vhost));
    h.set(HEADER_QUEUE, keyToken(queue));
    // Encoded now: `record.content` may be a view into a read buffer that is reused.
    const data = encodeRecord(record, { expiresAt: 0, priority: 0 });
    this.registry.track(
      this.nc.request(subjectOf(node), data, { timeout: FORWARD_TIMEOUT_MS, headers: h }).then(
        (reply) => {
          if (reply.string() === 'gone')
            this.logger.debug('forwarded to a node-local queue that is gone', { node, queue });
        },
        // The holder is gone (no responders) or did not answer: as a message to a queue that
        // does not exist (spec/cluster.md §Node-local queues), confirmed and not delivered.
        (err: Error) =>
          this.logger.warn('could not forward to a node-local queue on another node; message dropped', {
            component: 'cluster',
            node,
            queue,
            error: err.message,
          }),
      ),
    );
    return true;
  }

  close(): void {
    this.subscription?.unsubscribe();
  }
}
