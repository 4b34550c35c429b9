/**
 * One federation link: a downstream exchange on this broker fed from an exchange on an
 * upstream broker (spec/links.md §Federated exchanges). It keeps a durable queue on the
 * upstream bound to the upstream exchange with the downstream exchange's bindings (kept in
 * step as they change), consumes it and republishes into the downstream exchange, adding
 * `x-received-from` (RabbitMQ's header) so loops stop by broker name and at `max-hops`.
 * Restarts itself forever with backoff, like a shovel.
 */
import type { Logger } from '../logging.js';
import type { UpstreamDefinition } from './federation-params.js';
import { forwardedProperties, stableMessageId } from './forwarding.js';
import type { LinkClient, LinkConnector, LinkMessage } from './link-client.js';
import { LinkRunner } from './link-runner.js';
import type { LinkStatus } from './link-status.js';
import type { LinkUri } from './link-uri.js';

/** How often the link compares the downstream exchange's bindings with the upstream queue's. */
export const BINDING_SYNC_MS = 500;

/** A binding of the downstream exchange, as the upstream queue repeats it. */
export interface FederatedBinding {
  routingKey: string;
  arguments: Record<string, unknown>;
}

/** What the link reads of its own broker. */
export interface DownstreamView {
  /** This broker's name (`cluster_name`). */
  readonly clusterName: string;
  /** The downstream exchange's bindings; undefined when the exchange does not exist. */
  bindings(): FederatedBinding[] | undefined;
}

/** One entry of `x-received-from`, as RabbitMQ writes it. */
interface ReceivedFrom {
  uri: string;
  exchange: string;
  redelivered: boolean;
  'cluster-name': string;
}

/**
 * Whether a message may cross into `localName`'s exchange: not when it already passed
 * through that broker (a loop) or has crossed `maxHops` brokers. Pure.
 */
export function mayForward(headers: Record<string, unknown> | undefined, localName: string, maxHops: number): boolean {
  const prior = headers?.['x-received-from'];
  if (!Array.isArray(prior)) return true;
  if (prior.length >= maxHops) return false;
  return !prior.some((e) => typeof e === 'object' && e !== null && (e as ReceivedFrom)['cluster-name'] === localName);
}

export class FederationLink extends LinkRunner {
  private dropped = 0;

  constructor(
    /** The upstream's parameter name. */
    readonly upstream: string,
    readonly vhost: string,
    /** The downstream exchange. */
    readonly exchange: string,
    readonly def: UpstreamDefinition,
    private readonly localUri: LinkUri,
    private readonly local: DownstreamView,
    private readonly connector: LinkConnector,
    logger: Logger,
  ) {
    super(logger, def.reconnectDelayMs);
  }

  protected logFields(): Record<string, unknown> {
    return { federation: this.exchange, upstream: this.upstream, vhost: this.vhost };
  }

  /** The upstream exchange: the `exchange` parameter, else the downstream's own name. */
  get upstreamExchange(): string {
    return this.def.exchange ?? this.exchange;
  }

  /** The upstream queue, named as RabbitMQ names it. */
  get queueName(): string {
    return `federation: ${this.upstreamExchange} -> ${this.local.clusterName}`;
  }

  status(): LinkStatus & { upstream: string; exchange: string; upstreamExchange: string; dropped: number } {
    return {
      name: `${this.exchange} <- ${this.upstream}`,
      vhost: this.vhost,
      type: 'federation',
      upstream: this.upstream,
      exchange: this.exchange,
      upstreamExchange: this.upstreamExchange,
      src: `${this.def.uri.redacted} exchange ${this.upstreamExchange}`,
      dest: `exchange ${this.exchange}`,
      dropped: this.dropped,
      lag: undefined,
      ...this.runStatus(),
    };
  }

  protected async runOnce(): Promise<Error> {
    const ended = new Promise<Error>((resolve) => (this.endRun = resolve));
    const connName = `federation ${this.vhost}/${this.exchange} <- ${this.upstream}`;
    let syncTimer: NodeJS.Timeout | undefined;
    try {
      const up = await this.connector(this.def.uri, connName);
      this.clients.push(up);
      const down = await this.connector(this.localUri, connName);
      this.clients.push(down);
      const bound = new Map<string, FederatedBinding>();
      const setup = this.setUp(up, down, bound);
      const first = await Promise.race([setup.then(() => undefined), ended, up.lost, down.lost]);
      if (first !== undefined) return first;
      this.running();
      // Bindings are followed by comparing, not by events: a missed event can never leave
      // the upstream queue bound wrong for longer than one period.
      let syncing = false;
      syncTimer = setInterval(() => {
        if (syncing) return;
        syncing = true;
        this.syncBindings(up, bound).then(
          () => (syncing = false),
          (err: Error) => this.endRun?.(err),
        );
      }, BINDING_SYNC_MS);
      return await Promise.race([ended, up.lost, down.lost]);
    } catch (err) {
      return err instanceof Error ? err : new Error(String(err));
    } finally {
      clearInterval(syncTimer);
      this.endRun = undefined;
    }
  }

  private async setUp(up: LinkClient, down: LinkClient, bound: Map<string, FederatedBinding>): Promise<void> {
    await down.checkExchange(this.exchange);
    await up.checkExchange(this.upstreamExchange);
    const args: Record<string, unknown> = {};
    if (this.def.expiresMs !== undefined) args['x-expires'] = this.def.expiresMs;
    if (this.def.messageTtlMs !== undefined) args['x-message-ttl'] = this.def.messageTtlMs;
    await up.declareQueue(this.queueName, { exclusive: false, durable: true, arguments: args });
    await this.syncBindings(up, bound);
    const source = up.serverName ?? this.def.uri.redacted;
    await up.consume(this.queueName, this.def.prefetchCount, this.def.ackMode === 'no-ack', (m) =>
      this.forward(down, source, m),
    );
  }

  /**
   * Binds the upstream queue with each binding of the downstream exchange and unbinds what
   * the downstream no longer has. `bound` is what this run bound; a binding left from an
   * earlier run whose downstream binding went while the link was down stays until the
   * queue expires (RabbitMQ's link has the same gap; spec/links.md).
   */
  private async syncBindings(up: LinkClient, bound: Map<string, FederatedBinding>): Promise<void> {
    const want = this.local.bindings();
    if (want === undefined) throw Object.assign(new Error(`NOT_FOUND - no exchange '${this.exchange}'`), { code: 404 });
    const wanted = new Map(want.map((b) => [bindingId(b), b]));
    for (const [id, b] of wanted) {
      if (bound.has(id)) continue;
      await up.bindQueue(this.queueName, this.upstreamExchange, b.routingKey, b.arguments);
      bound.set(id, b);
    }
    for (const [id, b] of bound) {
      if (wanted.has(id)) continue;
      await up.unbindQueue(this.queueName, this.upstreamExchange, b.routingKey, b.arguments);
      bound.delete(id);
    }
  }

  private forward(down: LinkClient, source: string, m: LinkMessage): void {
    if (!mayForward(m.properties.headers, this.local.clusterName, this.def.maxHops)) {
      this.dropped++;
      this.settleUnforwarded(m, this.def.ackMode);
      return;
    }
    const prior = m.properties.headers?.['x-received-from'];
    const entry: ReceivedFrom = {
      uri: this.def.uri.redacted,
      exchange: this.upstreamExchange,
      redelivered: m.redelivered,
      'cluster-name': source,
    };
    const base = {
      ...m.properties,
      headers: {
        ...m.properties.headers,
        'x-received-from': [...(Array.isArray(prior) ? (prior as unknown[]) : []), entry],
      },
    };
    const id = stableMessageId(`${source}/${this.vhost}/${this.queueName}`, m.properties, m.content);
    const props = forwardedProperties(base, id, {});
    this.settle(m, down.publish(this.exchange, m.routingKey, m.content, props), this.def.ackMode, (n) => {
      this.moved += n;
    });
  }
}

function bindingId(b: FederatedBinding): string {
  return JSON.stringify([
    b.routingKey,
    Object.keys(b.arguments)
      .sort()
      .map((k) => [k, b.arguments[k]]),
  ]);
}
