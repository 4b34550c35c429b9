import { createHash } from 'node:crypto';
import type { NatsConnection } from '@nats-io/transport-node';
import { Kvm, type KV, type KvEntry } from '@nats-io/kv';
import type { Logger } from '../logging.js';
import type { ParsedSchema } from '../schemas/parsed-schema.js';
import { SchemaRegistry, type SchemaRecord, type SchemaRecordStore } from '../schemas/registry.js';

/** The KV bucket of the cluster's schema registry (spec/schemas.md §Storage). */
export const SCHEMA_BUCKET = 'sy_schemas';
/** The one key every registry change is a compare-and-set on: subjects, versions, ids, levels. */
const INDEX_KEY = 'index';
/** Registry changes give up after this many lost compare-and-sets in a row (other nodes kept winning). */
const MAX_ATTEMPTS = 100;

/** A schema record in the index: its text is in `t.<sha256>`, written once, shared by equal texts. */
interface IndexedSchema {
  id: number;
  schemaType: SchemaRecord['schemaType'];
  sha: string;
}

/**
 * The schema registry's records in JetStream KV, shared by every node of a cluster. The
 * registry's records (the same ones LMDB keeps) live in one `index` value, schema texts by
 * content hash beside it. Every change is a compare-and-set of the index on its revision
 * (update-by-revision, never create-after-delete: nats-server issue #4320), retried on
 * conflict, so two nodes registering at once get distinct ids and consecutive versions. A
 * watch of the index resets each node's registry to the latest state.
 */
export class SchemaBucket implements SchemaRecordStore {
  private readonly texts = new Map<string, string>();
  private records: [string, unknown][] = [];
  /** Revision of the index the local registry shows (0: none yet). */
  private applied = 0;
  private registry: SchemaRegistry | undefined;
  /** Compiled schemas by id, shared by the local registry and the scratch ones. */
  readonly compiled = new Map<number, ParsedSchema>();
  /** Serializes the local applies (a watch entry and our own write may race). */
  private chain: Promise<void> = Promise.resolve();
  private closed = false;

  private constructor(
    private readonly kv: KV,
    private readonly logger: Logger,
  ) {}

  /** Opens (creating if missing) the bucket and loads the registry's records. */
  static async open(nc: NatsConnection, replicas: number, logger: Logger): Promise<SchemaBucket> {
    const kv = await new Kvm(nc).create(SCHEMA_BUCKET, { replicas, history: 1 });
    const bucket = new SchemaBucket(kv, logger);
    const e = await kv.get(INDEX_KEY);
    if (e !== null && e.operation === 'PUT') {
      bucket.records = await bucket.hydrate(e);
      bucket.applied = e.revision;
    }
    return bucket;
  }

  // The registry built over this store reads the loaded records; its writes are no-ops here:
  // every change goes through apply(), which writes the index and then resets the registry.
  loadSchemaRecords(): [string, unknown][] {
    return this.records;
  }
  putSchemaRecord(): void {}
  removeSchemaRecord(): void {}

  /** Keeps `registry` (built over this store) current with every other node's changes. */
  follow(registry: SchemaRegistry): void {
    this.registry = registry;
    void (async () => {
      const w = await this.kv.watch({ key: INDEX_KEY, include: 'updates' });
      for await (const e of w) {
        if (this.closed) break;
        if (e.operation === 'PUT') void this.enqueue(e).catch(() => undefined); // logged by the chain
      }
    })().catch((err: Error) => {
      if (!this.closed)
        this.logger.error('stopped following schema registry changes of other nodes', {
          component: 'cluster',
          error: err.message,
        });
    });
  }

  private enqueue(e: KvEntry): Promise<void> {
    const next = this.chain.then(async () => {
      if (e.revision <= this.applied) return;
      const records = await this.hydrate(e);
      if (e.revision <= this.applied) return;
      this.applied = e.revision;
      this.records = records;
      this.registry?.reset(records);
    });
    this.chain = next.catch((err: Error) => {
      this.logger.error('could not apply a schema registry change from another node', {
        component: 'cluster',
        revision: e.revision,
        error: err.message,
      });
    });
    return next;
  }

  /**
   * Runs `change` on the cluster's latest registry state and stores the result by
   * compare-and-set, again on a conflict; resolves with `change`'s result once the index is
   * written (and the local registry shows it). A refusal `change` throws is passed on.
   */
  async apply<T>(change: (registry: SchemaRegistry) => T): Promise<T> {
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const e = await this.kv.get(INDEX_KEY);
      const current = e !== null && e.operation === 'PUT' ? await this.hydrate(e) : [];
      const scratch = new Map<string, unknown>(current);
      const reg = new SchemaRegistry(
        {
          loadSchemaRecords: () => current,
          putSchemaRecord: (key, value) => scratch.set(key, structuredClone(value)),
          removeSchemaRecord: (key) => scratch.delete(key),
        },
        this.compiled,
      );
      const result = change(reg);
      const records = [...scratch];
      const index = await this.dehydrate(records);
      if (e !== null && e.string() === index) return result; // nothing changed (the same schema again)
      let revision: number;
      try {
        revision =
          e === null ? await this.kv.create(INDEX_KEY, index) : await this.kv.update(INDEX_KEY, index, e.revision);
      } catch (err) {
        if (isConflict(err)) continue; // another node wrote first: redo on its state
        throw err;
      }
      await this.enqueueOwn(revision, records);
      return result;
    }
    throw new Error(`the schema registry is too busy: ${MAX_ATTEMPTS} changes by other nodes came first; retry`);
  }

  private enqueueOwn(revision: number, records: [string, unknown][]): Promise<void> {
    const next = this.chain.then(() => {
      if (revision <= this.applied) return;
      this.applied = revision;
      this.records = records;
      this.registry?.reset(records);
    });
    this.chain = next.catch(() => undefined);
    return next;
  }

  /** The index's records with their schema texts (read from `t.<sha>` when not cached). */
  private async hydrate(e: KvEntry): Promise<[string, unknown][]> {
    const indexed = JSON.parse(e.string()) as [string, unknown][];
    const out: [string, unknown][] = [];
    for (const [key, value] of indexed) {
      const v = value as Partial<IndexedSchema>;
      if (key.startsWith('s:') && typeof v.sha === 'string') {
        const { id, schemaType, sha } = v as IndexedSchema;
        out.push([key, { id, schemaType, schema: await this.text(sha) } satisfies SchemaRecord]);
      } else out.push([key, value]);
    }
    return out;
  }

  /** The index value of `records`: texts written to `t.<sha>` first (idempotent: same text, same key). */
  private async dehydrate(records: [string, unknown][]): Promise<string> {
    const out: [string, unknown][] = [];
    for (const [key, value] of records) {
      if (!key.startsWith('s:')) {
        out.push([key, value]);
        continue;
      }
      const rec = value as SchemaRecord;
      const sha = createHash('sha256').update(rec.schema).digest('hex');
      if (!this.texts.has(sha)) {
        const held = await this.kv.get(`t.${sha}`);
        if (held === null || held.operation !== 'PUT') await this.kv.put(`t.${sha}`, rec.schema);
        this.texts.set(sha, rec.schema);
      }
      out.push([key, { id: rec.id, schemaType: rec.schemaType, sha } satisfies IndexedSchema]);
    }
    return JSON.stringify(out);
  }

  private async text(sha: string): Promise<string> {
    let t = this.texts.get(sha);
    if (t === undefined) {
      const e = await this.kv.get(`t.${sha}`);
      if (e === null || e.operation !== 'PUT') throw new Error(`schema text ${sha} is missing from ${SCHEMA_BUCKET}`);
      t = e.string();
      this.texts.set(sha, t);
    }
    return t;
  }

  close(): void {
    this.closed = true;
  }
}

/** A compare-and-set lost to another writer (JetStream's "wrong last sequence", code 10071). */
function isConflict(err: unknown): boolean {
  const e = err as { message?: string; api_error?: { err_code?: number }; code?: unknown };
  return (
    e.api_error?.err_code === 10071 ||
    /wrong last sequence|key exists/i.test(e.message ?? '') ||
    String(e.code) === '10071'
  );
}
