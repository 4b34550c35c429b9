/**
 * A dynamic shovel: consumes from a source (a queue, or an exchange through a private
 * queue) and publishes to a destination, restarting itself forever with backoff
 * (spec/links.md). In on-confirm mode a source message is acked only once the destination
 * confirmed it; each forwarded message carries a stable id, so a destination with an
 * `x-deduplication-window` drops the copy a reconnect redelivers.
 */
import type { Logger } from '../logging.js';
import { forwardedProperties, stableMessageId, type ShovelOrigin } from './forwarding.js';
import type { LinkClient, LinkConnector, LinkMessage } from './link-client.js';
import { LinkRunner } from './link-runner.js';
import type { LinkStatus } from './link-status.js';
import type { ShovelDefinition } from './shovel-params.js';

/** How often a running shovel reads its source queue's length (the `lag` it reports). */
const LAG_CHECK_MS = 2_000;

export class Shovel extends LinkRunner {
  private lag: number | undefined;

  constructor(
    readonly name: string,
    readonly vhost: string,
    readonly def: ShovelDefinition,
    private readonly connector: LinkConnector,
    logger: Logger,
    /** Called once src-delete-after is reached: the manager removes the shovel. */
    private readonly onComplete: (s: Shovel) => void,
  ) {
    super(logger, def.reconnectDelayMs);
  }

  protected logFields(): Record<string, unknown> {
    return { link: this.name, vhost: this.vhost };
  }

  status(): LinkStatus {
    return {
      name: this.name,
      vhost: this.vhost,
      type: 'shovel',
      src: `${this.def.src.redacted} ${this.def.srcQueue !== undefined ? `queue ${this.def.srcQueue}` : `exchange ${this.def.srcExchange}`}`,
      dest: `${this.def.dest.redacted} ${this.def.destQueue !== undefined ? `queue ${this.def.destQueue}` : `exchange ${this.def.destExchange ?? ''}`}`,
      lag: this.lag,
      ...this.runStatus(),
    };
  }

  protected async runOnce(): Promise<Error> {
    const ended = new Promise<Error>((resolve) => (this.endRun = resolve));
    const connName = `shovel ${this.vhost}/${this.name}`;
    try {
      const src = await this.connector(this.def.src, connName);
      this.clients.push(src);
      const dest = await this.connector(this.def.dest, connName);
      this.clients.push(dest);
      const setup = this.setUp(src, dest);
      const first = await Promise.race([setup.then(() => undefined), ended, src.lost, dest.lost]);
      if (first !== undefined) return first;
      this.running();
      const lagTimer = this.watchLag(src);
      try {
        return await Promise.race([ended, src.lost, dest.lost]);
      } finally {
        clearInterval(lagTimer);
      }
    } catch (err) {
      return err instanceof Error ? err : new Error(String(err));
    } finally {
      this.endRun = undefined;
    }
  }

  private async setUp(src: LinkClient, dest: LinkClient): Promise<void> {
    const d = this.def;
    if (d.destQueue !== undefined) await dest.checkQueue(d.destQueue);
    else if (d.destExchange !== undefined && d.destExchange !== '') await dest.checkExchange(d.destExchange);
    let queue: string;
    if (d.srcQueue !== undefined) {
      const length = await src.checkQueue(d.srcQueue);
      this.lag = length;
      if (d.srcDeleteAfter === 'queue-length' && this.remaining === undefined) this.remaining = length;
      queue = d.srcQueue;
    } else {
      // RabbitMQ's shovel: a private, exclusive queue bound to the source exchange
      queue = await src.declareQueue('', { exclusive: true, durable: false });
      await src.bindQueue(queue, d.srcExchange!, d.srcExchangeKey);
    }
    if (typeof d.srcDeleteAfter === 'number' && this.remaining === undefined) this.remaining = d.srcDeleteAfter;
    if (this.remaining === 0) {
      this.complete();
      return;
    }
    await src.consume(queue, d.srcPrefetchCount, d.ackMode === 'no-ack', (m) => this.forward(dest, m));
  }

  /** Messages still to move before src-delete-after is reached; undefined: no limit. */
  private remaining: number | undefined;

  private forward(dest: LinkClient, m: LinkMessage): void {
    if (this.remaining !== undefined && this.remaining <= 0) return; // past the limit: left unacked, requeued on stop
    if (this.remaining !== undefined) this.remaining--;
    const d = this.def;
    const sourceName = `${d.src.redacted}/${d.srcQueue ?? `exchange:${d.srcExchange}`}`;
    const props = forwardedProperties(m.properties, stableMessageId(sourceName, m.properties, m.content), {
      ...(d.addForwardHeaders ? { origin: this.origin() } : {}),
      ...(d.addTimestampHeader ? { timestampSeconds: Math.floor(Date.now() / 1000) } : {}),
    });
    const exchange = d.destQueue !== undefined ? '' : (d.destExchange ?? m.exchange);
    const key = d.destQueue ?? d.destExchangeKey ?? m.routingKey;
    this.settle(m, dest.publish(exchange, key, m.content, props), d.ackMode, (n) => this.counted(n));
  }

  private counted(n: number): void {
    this.moved += n;
    if (this.lag !== undefined) this.lag = Math.max(0, this.lag - n);
    if (this.remaining === 0 && this.inFlight === 0) this.complete();
  }

  private complete(): void {
    this.logger.info('shovel reached src-delete-after; removing it', { component: 'links', link: this.name });
    this.stopped = true;
    this.onComplete(this);
  }

  private watchLag(src: LinkClient): NodeJS.Timeout | undefined {
    const q = this.def.srcQueue;
    if (q === undefined) return undefined;
    const t = setInterval(() => {
      src.checkQueue(q).then(
        (n) => (this.lag = n),
        () => undefined, // the run notices a lost connection itself
      );
    }, LAG_CHECK_MS);
    t.unref();
    return t;
  }

  private origin(): ShovelOrigin {
    const d = this.def;
    return {
      name: this.name,
      vhost: this.vhost,
      srcUri: d.src.redacted,
      srcQueue: d.srcQueue,
      srcExchange: d.srcExchange,
      destUri: d.dest.redacted,
      destQueue: d.destQueue,
      destExchange: d.destExchange,
    };
  }
}
