import { randomBytes } from 'node:crypto';
import {
  DeliverPolicy,
  RetentionPolicy,
  StorageType,
  type JetStreamClient,
  type JetStreamManager,
} from '@nats-io/jetstream';
import type { Logger } from '../logging.js';
import { applySchemaChange, type SchemaChange } from '../schemas/changes.js';
import { SchemaRegistryError } from '../schemas/errors.js';
import type { ParsedSchema } from '../schemas/parsed-schema.js';
import { SchemaRegistry, type SchemaRecordStore } from '../schemas/registry.js';

/** The stream of the cluster's schema registry changes (spec/schemas.md §Storage). */
export const SCHEMA_STREAM = 'SY_SCHEMAS';
const SUBJECT = 'sy.schemas';
/** How long a change waits for this node to apply it once logged (the log consumer is stalled beyond). */
const APPLY_WAIT_MS = 30_000;

/** A change in the log, with the random tag its node waits for the outcome by. */
interface LoggedChange {
  change: SchemaChange;
  tag: string;
}

type Outcome = { ok: true; value: unknown } | { ok: false; error: unknown };

/**
 * The cluster's schema registry as an ordered log of changes in an R3 JetStream stream:
 * every node applies every change in the stream's order to its own registry, so all nodes
 * reach the same subjects, versions, ids and levels, and two registrations at once on two
 * nodes get distinct ids and consecutive versions (the log orders them; nothing is
 * compare-and-set, which nats-server 2.9 does not enforce between concurrent clustered
 * writers). A change is answered once this node has applied it, with its outcome there.
 * A start replays the log.
 */
export class SchemaLog implements SchemaRecordStore {
  /** The registry's records as applied so far (what a registry built over this loads). */
  private readonly records = new Map<string, unknown>();
  /** Compiled schemas of applied ids, for the pre-checks (an id never changes its schema). */
  private readonly compiled = new Map<number, ParsedSchema>();
  private registry: SchemaRegistry;
  private readonly waiting = new Map<string, (o: Outcome) => void>();
  private applied = 0;
  private closed = false;
  private stop: (() => void) | undefined;

  private constructor(
    private readonly js: JetStreamClient,
    private readonly logger: Logger,
  ) {
    this.registry = new SchemaRegistry(this, this.compiled);
  }

  /** Creates the stream if missing and applies every change logged so far. */
  static async open(js: JetStreamClient, jsm: JetStreamManager, replicas: number, logger: Logger): Promise<SchemaLog> {
    const info = await jsm.streams.info(SCHEMA_STREAM).catch(() =>
      jsm.streams.add({
        name: SCHEMA_STREAM,
        subjects: [SUBJECT],
        retention: RetentionPolicy.Limits,
        storage: StorageType.File,
        num_replicas: replicas,
      }),
    );
    const log = new SchemaLog(js, logger);
    await log.follow$(info.state.last_seq);
    return log;
  }

  /** Consumes the log from its start; resolves once `upTo` is applied. */
  private async follow$(upTo: number): Promise<void> {
    const consumer = await this.js.consumers.get(SCHEMA_STREAM, { deliver_policy: DeliverPolicy.All });
    const messages = await consumer.consume();
    this.stop = () => void messages.close();
    let caughtUp: () => void = () => undefined;
    const ready = new Promise<void>((resolve) => (caughtUp = resolve));
    if (upTo === 0) caughtUp();
    void (async () => {
      for await (const m of messages) {
        if (this.closed) break;
        this.apply$(m.seq, m.string());
        if (m.seq >= upTo) caughtUp();
      }
    })().catch((err: Error) => {
      if (!this.closed)
        this.logger.error('stopped following the schema registry log', { component: 'cluster', error: err.message });
    });
    await ready;
  }

  private apply$(seq: number, body: string): void {
    if (seq <= this.applied) return;
    this.applied = seq;
    let logged: LoggedChange;
    try {
      logged = JSON.parse(body) as LoggedChange;
    } catch {
      this.logger.error('skipped an unreadable schema registry change', { component: 'cluster', seq });
      return;
    }
    let outcome: Outcome;
    try {
      outcome = { ok: true, value: applySchemaChange(this.registry, logged.change) };
    } catch (error) {
      outcome = { ok: false, error };
      if (!(error instanceof SchemaRegistryError))
        this.logger.error('a schema registry change failed', {
          component: 'cluster',
          seq,
          error: (error as Error).message,
        });
    }
    const waiter = this.waiting.get(logged.tag);
    if (waiter !== undefined) {
      this.waiting.delete(logged.tag);
      waiter(outcome);
    }
  }

  // A registry built over this store loads the applied records; its writes keep them current.
  loadSchemaRecords(): [string, unknown][] {
    return structuredClone([...this.records]);
  }
  putSchemaRecord(key: string, value: unknown): void {
    this.records.set(key, structuredClone(value));
  }
  removeSchemaRecord(key: string): void {
    this.records.delete(key);
  }

  /** From now on changes are applied to `registry` (built over this store), the broker's own. */
  follow(registry: SchemaRegistry): void {
    registry.reset(this.loadSchemaRecords()); // changes applied since it was built
    this.registry = registry;
  }

  /**
   * Logs `change` and resolves with its outcome once this node has applied it (rejects with
   * the registry's refusal). A change refused by the current state is refused without being
   * logged; one accepted is checked again where the log puts it.
   */
  async apply(change: SchemaChange): Promise<unknown> {
    this.precheck(change);
    const tag = randomBytes(12).toString('base64url');
    const outcome = new Promise<Outcome>((resolve) => this.waiting.set(tag, resolve));
    try {
      await this.js.publish(SUBJECT, JSON.stringify({ change, tag } satisfies LoggedChange));
    } catch (err) {
      this.waiting.delete(tag);
      throw err;
    }
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<Outcome>((resolve) => {
      timer = setTimeout(() => {
        this.waiting.delete(tag);
        resolve({
          ok: false,
          error: new Error(
            `the schema change is stored in ${SCHEMA_STREAM} but this node has not applied it within ${APPLY_WAIT_MS / 1000} s; check the cluster's health and GET it again`,
          ),
        });
      }, APPLY_WAIT_MS);
    });
    const o = await Promise.race([outcome, late]).finally(() => clearTimeout(timer));
    if (!o.ok) throw o.error;
    return o.value;
  }

  /** Runs `change` on a scratch copy of the applied state: throws its refusal, if any. */
  private precheck(change: SchemaChange): void {
    const known = new Set(this.compiled.keys());
    const compiled = new Map(this.compiled);
    const records = this.loadSchemaRecords();
    // Made by the broker's registry: its refusals are of the broker's SchemaRegistryError (this
    // module may be another instance of the schemas modules: it is imported dynamically).
    const scratch = this.registry.detached(records, compiled);
    // Schemas of applied ids compiled here are kept; a new id's is not (the log may give it another).
    for (const [id, parsed] of compiled)
      if (!known.has(id) && this.records.has(`s:${id}`)) this.compiled.set(id, parsed);
    applySchemaChange(scratch, change);
  }

  close(): void {
    this.closed = true;
    this.stop?.();
    for (const resolve of this.waiting.values())
      resolve({ ok: false, error: new Error('the broker is closing; the schema change may or may not be stored') });
    this.waiting.clear();
  }
}
