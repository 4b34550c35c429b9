/**
 * The broker's links: creates, replaces, restarts and removes shovels from runtime
 * parameters, keeps those parameters in the data directory and starts them again after a
 * restart (spec/links.md).
 */
import type { Logger } from '../logging.js';
import { connectAmqp } from './amqp-client.js';
import type { LinkConnector } from './link-client.js';
import type { LinkStatus } from './link-status.js';
import { readParameters, writeParameters, type RuntimeParameter } from './parameter-file.js';
import { Shovel } from './shovel.js';
import { LinkParameterError, parseShovelValue } from './shovel-params.js';
import { connectWs } from './ws-client.js';

/** Connects by the URI's scheme: the SDK for ws(s)://, amqplib for amqp(s)://. */
export const connectByScheme: LinkConnector = (uri, name) =>
  uri.scheme === 'ws' || uri.scheme === 'wss' ? connectWs(uri, name) : connectAmqp(uri, name);

/** Upper bound on links per broker: each holds two connections. */
export const MAX_LINKS = 1000;

export class LinkManager {
  private readonly params = new Map<string, RuntimeParameter>();
  private readonly shovels = new Map<string, Shovel>();

  constructor(
    private readonly dataDir: string,
    private readonly logger: Logger,
    private readonly connector: LinkConnector = connectByScheme,
  ) {}

  private started = false;

  /** Reads the parameters stored in the data directory (before definitions are imported). */
  load(): void {
    for (const p of readParameters(this.dataDir)) this.params.set(keyOf(p.component, p.vhost, p.name), p);
  }

  /**
   * Starts every link, once the broker listens (a link may point at this broker itself). A
   * stored value that no longer parses is logged and kept.
   */
  start(): void {
    this.started = true;
    for (const p of this.params.values()) {
      if (p.component !== 'shovel') continue;
      try {
        this.startShovel(p.vhost, p.name, p.value);
      } catch (err) {
        this.logger.error('stored shovel cannot start; fix it with PUT /api/parameters/shovel', {
          component: 'links',
          link: p.name,
          error: (err as Error).message,
        });
      }
    }
  }

  /** Creates or replaces a parameter; returns true when created. @throws LinkParameterError */
  put(component: RuntimeParameter['component'], vhost: string, name: string, value: unknown): boolean {
    if (name === '' || name.length > 255) throw new LinkParameterError('name', 'a link name is 1 to 255 characters');
    const key = keyOf(component, vhost, name);
    const created = !this.params.has(key);
    if (created && this.params.size >= MAX_LINKS)
      throw new LinkParameterError('name', `at most ${MAX_LINKS} links per broker; delete one first`);
    if (component === 'shovel')
      parseShovelValue(value); // refuse before anything changes
    else throw new LinkParameterError('component', 'federation upstreams are not supported yet (spec/links.md)');
    const p: RuntimeParameter = { component, vhost, name, value: value as Record<string, unknown> };
    this.params.set(key, p);
    this.persist();
    void this.shovels.get(key)?.stop();
    this.startShovel(vhost, name, p.value);
    return created;
  }

  /** Removes a parameter and stops its link; false when there was none. */
  async delete(component: RuntimeParameter['component'], vhost: string, name: string): Promise<boolean> {
    const key = keyOf(component, vhost, name);
    if (!this.params.delete(key)) return false;
    this.persist();
    const s = this.shovels.get(key);
    this.shovels.delete(key);
    await s?.stop();
    return true;
  }

  /** Reconnects a shovel at once; false when there is none. */
  restart(vhost: string, name: string): boolean {
    const s = this.shovels.get(keyOf('shovel', vhost, name));
    s?.restart();
    return s !== undefined;
  }

  parameters(component?: RuntimeParameter['component'], vhost?: string): RuntimeParameter[] {
    return [...this.params.values()].filter(
      (p) => (component === undefined || p.component === component) && (vhost === undefined || p.vhost === vhost),
    );
  }

  parameter(component: RuntimeParameter['component'], vhost: string, name: string): RuntimeParameter | undefined {
    return this.params.get(keyOf(component, vhost, name));
  }

  statuses(vhost?: string): LinkStatus[] {
    return [...this.shovels.values()].filter((s) => vhost === undefined || s.vhost === vhost).map((s) => s.status());
  }

  /** Stops every link (broker shutdown); the parameters stay stored. */
  async close(): Promise<void> {
    this.started = false;
    await Promise.all([...this.shovels.values()].map((s) => s.stop()));
    this.shovels.clear();
  }

  private startShovel(vhost: string, name: string, value: unknown): void {
    if (!this.started) return;
    const s = new Shovel(name, vhost, parseShovelValue(value), this.connector, this.logger, (done) => {
      if (this.shovels.get(keyOf('shovel', vhost, name)) === done) void this.delete('shovel', vhost, name);
    });
    this.shovels.set(keyOf('shovel', vhost, name), s);
    s.start();
  }

  private persist(): void {
    writeParameters(this.dataDir, [...this.params.values()]);
  }
}

function keyOf(component: string, vhost: string, name: string): string {
  return `${component}\u0000${vhost}\u0000${name}`;
}
