/**
 * The broker's links: creates, replaces, restarts and removes shovels from runtime
 * parameters, and federation links from `federation-upstream` (and `federation-upstream-set`)
 * parameters and the policies that apply them to exchanges; keeps both in the data directory
 * and starts them again after a restart (spec/links.md).
 */
import type { Logger } from '../logging.js';
import type { VirtualHost } from '../vhost/virtual-host.js';
import { connectAmqp } from './amqp-client.js';
import { FederationLink, type FederatedBinding } from './federation-link.js';
import {
  parsePolicy,
  parseUpstreamSetValue,
  parseUpstreamValue,
  policyFor,
  upstreamsOf,
  type PolicyDefinition,
  type UpstreamDefinition,
} from './federation-params.js';
import type { LinkConnector } from './link-client.js';
import { RUN_HERE, type LinkGate } from './link-gate.js';
import type { LinkStatus } from './link-status.js';
import { parseLinkUri, type LinkUri } from './link-uri.js';
import {
  fileParameterStore,
  type LinkParameters,
  type LinkParameterStore,
  type RuntimeParameter,
  type StoredPolicy,
} from './parameter-file.js';
import { Shovel } from './shovel.js';
import { LinkParameterError, parseShovelValue } from './shovel-params.js';
import { connectWs } from './ws-client.js';

/** Connects by the URI's scheme: the SDK for ws(s)://, amqplib for amqp(s)://. */
export const connectByScheme: LinkConnector = (uri, name) =>
  uri.scheme === 'ws' || uri.scheme === 'wss' ? connectWs(uri, name) : connectAmqp(uri, name);

/** Upper bound on links per broker: each holds two connections. */
export const MAX_LINKS = 1000;
/** Upper bound on policies per broker. */
export const MAX_POLICIES = 1000;
/** How often exchanges are matched against policies again (exchanges come and go). */
export const RECONCILE_MS = 1_000;

/** What the links read of the broker that runs them. */
export interface LinkHost {
  /** This broker's name (`cluster_name`), for federation's loop check. */
  readonly clusterName: string;
  /** The client URL (`ws://host:port`), that federation links publish into by default. */
  readonly url: string;
  vhost(name: string): VirtualHost | undefined;
}

/** A federation link's status row (GET /api/federation-links). */
export type FederationStatus = ReturnType<FederationLink['status']>;

interface Policy {
  stored: StoredPolicy;
  policy: PolicyDefinition;
}

export class LinkManager {
  private readonly params = new Map<string, RuntimeParameter>();
  private readonly shovels = new Map<string, Shovel>();
  private readonly policies = new Map<string, Policy>();
  /** Running federation links by vhost, exchange and upstream; `spec` says what they run. */
  private readonly federation = new Map<string, { link: FederationLink; spec: string }>();
  /** Every wanted link's hold on its gate, by link key; `spec` says what a federation link runs. */
  private readonly holds = new Map<string, { release(): Promise<void>; spec?: string }>();
  private reconcileTimer: NodeJS.Timeout | undefined;
  private readonly store: LinkParameterStore;

  /**
   * `storage` is the data directory (`links.json`) or, in a cluster, the shared parameter store;
   * `gate` decides where links run (every link here, or the lease holder's node).
   */
  constructor(
    storage: string | LinkParameterStore,
    private readonly logger: Logger,
    private readonly connector: LinkConnector = connectByScheme,
    private readonly host?: LinkHost,
    private readonly gate: LinkGate = RUN_HERE,
  ) {
    this.store = typeof storage === 'string' ? fileParameterStore(storage) : storage;
    this.store.onRemoteChange?.((all) => this.applyRemote(all));
  }

  private started = false;

  /** Reads the parameters and policies stored in the data directory (before definitions are imported). */
  load(): void {
    this.loadPolicies(this.store.read());
  }

  private loadPolicies(stored: LinkParameters): void {
    for (const p of stored.parameters) this.params.set(keyOf(p.component, p.vhost, p.name), p);
    for (const s of stored.policies) {
      try {
        this.policies.set(keyOf('policy', s.vhost, s.name), { stored: s, policy: parsePolicy(s) });
      } catch (err) {
        this.logger.error('stored policy no longer parses; fix it with PUT /api/policies', {
          component: 'links',
          policy: s.name,
          error: (err as Error).message,
        });
      }
    }
  }

  /**
   * Starts every link, once the broker listens (a link may point at this broker itself). A
   * stored value that no longer parses is logged and kept.
   */
  start(): void {
    this.started = true;
    for (const p of this.params.values()) if (p.component === 'shovel') this.startStoredShovel(p);
    void this.reconcile();
    this.reconcileTimer = setInterval(() => void this.reconcile(), RECONCILE_MS);
    this.reconcileTimer.unref();
  }

  /** Creates or replaces a parameter; returns true when created. @throws LinkParameterError */
  put(component: RuntimeParameter['component'], vhost: string, name: string, value: unknown): boolean {
    checkName(name);
    const key = keyOf(component, vhost, name);
    const created = !this.params.has(key);
    if (created && this.params.size >= MAX_LINKS)
      throw new LinkParameterError('name', `at most ${MAX_LINKS} links per broker; delete one first`);
    // refuse before anything changes
    if (component === 'shovel') parseShovelValue(value);
    else if (component === 'federation-upstream') parseUpstreamValue(value);
    else parseUpstreamSetValue(value);
    const p: RuntimeParameter = { component, vhost, name, value: value as RuntimeParameter['value'] };
    this.params.set(key, p);
    this.persist();
    if (component === 'shovel') this.startShovel(vhost, name, p.value);
    else void this.reconcile();
    return created;
  }

  /** Removes a parameter and stops its link(s); false when there was none. */
  async delete(component: RuntimeParameter['component'], vhost: string, name: string): Promise<boolean> {
    const key = keyOf(component, vhost, name);
    if (!this.params.delete(key)) return false;
    this.persist();
    if (component !== 'shovel') {
      await this.reconcile();
      return true;
    }
    await this.release(key);
    return true;
  }

  /** Creates or replaces a policy; returns true when created. @throws LinkParameterError */
  putPolicy(vhost: string, name: string, body: unknown): boolean {
    checkName(name);
    const policy = parsePolicy(body);
    const key = keyOf('policy', vhost, name);
    const created = !this.policies.has(key);
    if (created && this.policies.size >= MAX_POLICIES)
      throw new LinkParameterError('name', `at most ${MAX_POLICIES} policies per broker; delete one first`);
    const stored: StoredPolicy = {
      vhost,
      name,
      pattern: policy.source,
      'apply-to': policy.applyTo,
      priority: policy.priority,
      definition: policy.definition,
    };
    this.policies.set(key, { stored, policy });
    this.persist();
    void this.reconcile();
    return created;
  }

  async deletePolicy(vhost: string, name: string): Promise<boolean> {
    if (!this.policies.delete(keyOf('policy', vhost, name))) return false;
    this.persist();
    await this.reconcile();
    return true;
  }

  /** Policies in RabbitMQ's shape (`GET /api/policies`, definitions' `policies`). */
  policyList(vhost?: string): StoredPolicy[] {
    return [...this.policies.values()].map((p) => p.stored).filter((p) => vhost === undefined || p.vhost === vhost);
  }

  /** Reconnects a shovel at once; false when there is none. */
  restart(vhost: string, name: string): boolean {
    const s = this.shovels.get(keyOf('shovel', vhost, name));
    s?.restart();
    return s !== undefined;
  }

  /** Reconnects every federation link of an upstream at once; false when none runs. */
  restartFederation(vhost: string, upstream: string): boolean {
    let any = false;
    for (const { link } of this.federation.values())
      if (link.vhost === vhost && link.upstream === upstream) {
        link.restart();
        any = true;
      }
    return any;
  }

  parameters(component?: RuntimeParameter['component'], vhost?: string): RuntimeParameter[] {
    return [...this.params.values()].filter(
      (p) => (component === undefined || p.component === component) && (vhost === undefined || p.vhost === vhost),
    );
  }

  parameter(component: RuntimeParameter['component'], vhost: string, name: string): RuntimeParameter | undefined {
    return this.params.get(keyOf(component, vhost, name));
  }

  /** Shovel status rows. */
  statuses(vhost?: string): LinkStatus[] {
    return [...this.shovels.values()].filter((s) => vhost === undefined || s.vhost === vhost).map((s) => s.status());
  }

  /** Federation link status rows. */
  federationStatuses(vhost?: string): FederationStatus[] {
    return [...this.federation.values()]
      .filter(({ link }) => vhost === undefined || link.vhost === vhost)
      .map(({ link }) => link.status());
  }

  /** Stops every link (broker shutdown); the parameters stay stored. */
  async close(): Promise<void> {
    this.started = false;
    clearInterval(this.reconcileTimer);
    await Promise.all([...this.holds.keys()].map((key) => this.release(key)));
    this.shovels.clear();
    this.federation.clear();
  }

  /** Stops link `key` here and gives up its gate (in a cluster: its lease). */
  private async release(key: string): Promise<void> {
    const hold = this.holds.get(key);
    this.holds.delete(key);
    await hold?.release();
  }

  /**
   * Another node of the cluster changed parameters or policies: take them over, start,
   * replace or stop the shovels that changed, and match federation links to the policies.
   */
  private applyRemote(all: LinkParameters): void {
    const before = new Map(this.params);
    this.params.clear();
    this.policies.clear();
    this.loadPolicies(all);
    for (const [key, p] of before) if (p.component === 'shovel' && !this.params.has(key)) void this.release(key);
    for (const [key, p] of this.params) {
      if (p.component !== 'shovel') continue;
      if (JSON.stringify(before.get(key)?.value) === JSON.stringify(p.value) && this.holds.has(key)) continue;
      this.startStoredShovel(p);
    }
    void this.reconcile();
  }

  /** Starts a shovel stored earlier (or by another node); a value that no longer parses is logged and kept. */
  private startStoredShovel(p: RuntimeParameter): void {
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

  /**
   * Makes the running federation links match the policies, upstreams and exchanges: starts
   * the missing ones, restarts those whose upstream changed, stops those no longer wanted.
   * Resolves once the stopped ones have stopped.
   */
  private reconcile(): Promise<void> {
    if (!this.started || this.host === undefined) return Promise.resolve();
    const want = new Map<string, { vhost: string; exchange: string; upstream: string; value: unknown }>();
    const byVhost = new Map<string, Policy[]>();
    for (const p of this.policies.values()) {
      const list = byVhost.get(p.stored.vhost) ?? [];
      list.push(p);
      byVhost.set(p.stored.vhost, list);
    }
    for (const [vhostName, policies] of byVhost) {
      const vhost = this.host.vhost(vhostName);
      if (vhost === undefined) continue;
      const upstreams = new Map(
        this.parameters('federation-upstream', vhostName).map((u) => [u.name, u.value as Record<string, unknown>]),
      );
      const sets = new Map(this.parameters('federation-upstream-set', vhostName).map((u) => [u.name, u.value]));
      for (const x of vhost.allExchanges()) {
        if (x.name === '' || x.name.startsWith('amq.')) continue; // RabbitMQ applies no policy to these
        const p = policyFor(x.name, policies);
        if (p === undefined) continue;
        for (const u of upstreamsOf(p.policy.upstream, upstreams, sets))
          want.set(keyOf(vhostName, x.name, u.name), {
            vhost: vhostName,
            exchange: x.name,
            upstream: u.name,
            value: u.value,
          });
      }
    }
    const stopping: Promise<void>[] = [];
    for (const [key, hold] of this.holds) {
      if (hold.spec === undefined) continue; // a shovel
      const w = want.get(key);
      if (w !== undefined && JSON.stringify(w.value) === hold.spec) continue;
      stopping.push(this.release(key));
    }
    for (const [key, w] of want) {
      if (this.holds.has(key)) continue;
      let def: UpstreamDefinition;
      try {
        def = parseUpstreamValue(w.value);
      } catch {
        continue; // a stored value that no longer parses: logged once at PUT time, skipped here
      }
      const host = this.host;
      const spec = JSON.stringify(w.value);
      const hold = this.gate.hold(`federation/${w.vhost}/${w.exchange}/${w.upstream}`, {
        acquired: () => {
          const link = new FederationLink(
            w.upstream,
            w.vhost,
            w.exchange,
            def,
            def.localUri ?? this.localUri(w.vhost),
            { clusterName: host.clusterName, bindings: () => this.bindingsOf(w.vhost, w.exchange) },
            this.connector,
            this.logger,
          );
          this.federation.set(key, { link, spec });
          link.start();
        },
        lost: async () => {
          const running = this.federation.get(key);
          this.federation.delete(key);
          await running?.link.stop();
        },
      });
      this.holds.set(key, { release: () => hold.release(), spec });
    }
    return Promise.all(stopping).then(() => undefined);
  }

  /** guest over loopback into this broker: the default way a federation link publishes here. */
  private localUri(vhost: string): LinkUri {
    const u = new URL(this.host!.url);
    return parseLinkUri(`${u.protocol}//guest:guest@${u.host}/${encodeURIComponent(vhost)}`);
  }

  private bindingsOf(vhostName: string, exchange: string): FederatedBinding[] | undefined {
    const x = this.host?.vhost(vhostName)?.exchange(exchange);
    if (x === undefined) return undefined;
    return [...x.matcher.bindings()].map((b) => ({ routingKey: b.routingKey, arguments: { ...b.arguments } }));
  }

  /**
   * Starts shovel `name` where the gate lets it run, or replaces the one running here with
   * `value` (keeping its gate: in a cluster the lease stays with this node).
   */
  private startShovel(vhost: string, name: string, value: unknown): void {
    if (!this.started) return;
    parseShovelValue(value); // refuse a bad value before anything changes
    const key = keyOf('shovel', vhost, name);
    // Reads the parameter when it runs: a node that gets the lease later runs the latest value.
    const run = (): void => {
      const p = this.params.get(key);
      if (p === undefined) return;
      const s = new Shovel(name, vhost, parseShovelValue(p.value), this.connector, this.logger, (done) => {
        if (this.shovels.get(key) === done) void this.delete('shovel', vhost, name);
      });
      this.shovels.set(key, s);
      s.start();
    };
    if (this.holds.has(key)) {
      const running = this.shovels.get(key);
      if (running === undefined) return; // another node holds it and runs the new value
      void running.stop();
      run();
      return;
    }
    const hold = this.gate.hold(`shovel/${vhost}/${name}`, {
      acquired: run,
      lost: async () => {
        const s = this.shovels.get(key);
        this.shovels.delete(key);
        await s?.stop();
      },
    });
    this.holds.set(key, hold);
  }

  private persist(): void {
    this.store.write({ parameters: [...this.params.values()], policies: this.policyList() });
  }
}

function checkName(name: string): void {
  if (name === '' || name.length > 255) throw new LinkParameterError('name', 'a name is 1 to 255 characters');
}

function keyOf(component: string, vhost: string, name: string): string {
  return `${component}\u0000${vhost}\u0000${name}`;
}
