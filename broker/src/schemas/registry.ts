import { compatibilityIssues, compatibilityLevelOf, type CompatibilityLevel } from './compatibility.js';
import { SchemaErrorCode as Code, SchemaRegistryError } from './errors.js';
import { parseSchema, type ParsedSchema, type SchemaType } from './formats.js';

/**
 * Where the registry keeps its records: a few keyed records beside the broker's
 * definitions (LMDB's `meta` database), written with the turn's batch.
 */
export interface SchemaRecordStore {
  /** Every stored schema record, as `[key, value]`. */
  loadSchemaRecords(): [string, unknown][];
  putSchemaRecord(key: string, value: unknown): void;
  removeSchemaRecord(key: string): void;
}

/** A registered schema, global by id (the same text in two subjects shares its id, as in Confluent). */
export interface SchemaRecord {
  id: number;
  schemaType: SchemaType;
  schema: string;
}

interface VersionEntry {
  version: number;
  id: number;
  deleted: boolean;
}

interface SubjectRecord {
  subject: string;
  versions: VersionEntry[];
  compatibility?: CompatibilityLevel;
}

/** One version of a subject as the API shows it. */
export interface SubjectVersion {
  subject: string;
  version: number;
  id: number;
  schemaType: SchemaType;
  schema: string;
}

/** Largest subject name accepted (bytes of UTF-16 text): a bounded refusal of hostile names. */
export const MAX_SUBJECT_CHARS = 255;
const GLOBAL_KEY = 'g';

/**
 * The schema registry: subjects with numbered versions of schemas, global schema ids,
 * compatibility levels per subject and a global default, with the Confluent Schema
 * Registry's semantics (spec/schemas.md). Pure state over a {@link SchemaRecordStore}; the
 * REST API, the CLI and exchanges use it. Parsed (compiled) schemas are cached by id.
 */
export class SchemaRegistry {
  private readonly schemas = new Map<number, SchemaRecord>();
  private readonly byText = new Map<string, number>();
  private readonly subjects = new Map<string, SubjectRecord>();
  private global: CompatibilityLevel = 'BACKWARD';
  private nextId = 1;

  /**
   * @param compiled compiled schemas by id, shareable between registries over the same ids
   *   (the cluster's scratch registries: an id never changes its schema).
   */
  constructor(
    private readonly store: SchemaRecordStore,
    private readonly compiled = new Map<number, ParsedSchema>(),
  ) {
    this.load(store.loadSchemaRecords());
  }

  /**
   * Replaces the whole state with `records` (a cluster node catching up with its change log): the
   * compiled cache stays, as ids keep their schemas.
   */
  reset(records: [string, unknown][]): void {
    this.schemas.clear();
    this.byText.clear();
    this.subjects.clear();
    this.global = 'BACKWARD';
    this.nextId = 1;
    this.load(records);
  }

  /** A registry over `records` that stores nothing: to try a change before making it. */
  detached(records: [string, unknown][], compiled: Map<number, ParsedSchema>): SchemaRegistry {
    return new SchemaRegistry(
      { loadSchemaRecords: () => records, putSchemaRecord: () => undefined, removeSchemaRecord: () => undefined },
      compiled,
    );
  }

  private load(records: [string, unknown][]): void {
    // Records carry their own identity (a store may hash long keys): told apart by shape.
    for (const [, value] of records) {
      const v = value as Partial<SchemaRecord & SubjectRecord>;
      if (typeof v.subject === 'string') this.subjects.set(v.subject, value as SubjectRecord);
      else if (typeof v.id === 'number') this.remember(value as SchemaRecord);
      else if (v.compatibility !== undefined) this.global = v.compatibility;
    }
  }

  private remember(rec: SchemaRecord): void {
    this.schemas.set(rec.id, rec);
    this.byText.set(textKey(rec.schemaType, this.parsed(rec.id).canonical), rec.id);
    this.nextId = Math.max(this.nextId, rec.id + 1);
  }

  /** The compiled schema of `id` (compiled once, then cached); 40403 when unknown. */
  parsed(id: number): ParsedSchema {
    let p = this.compiled.get(id);
    if (p === undefined) {
      const rec = this.schemaById(id);
      p = parseSchema(rec.schemaType, rec.schema);
      this.compiled.set(id, p);
    }
    return p;
  }

  schemaById(id: number): SchemaRecord {
    const rec = this.schemas.get(id);
    if (rec === undefined) throw new SchemaRegistryError(Code.SCHEMA_NOT_FOUND, `Schema ${id} not found`);
    return rec;
  }

  /** Subjects (and versions) that use schema `id`. */
  usesOf(id: number): { subject: string; version: number }[] {
    const out: { subject: string; version: number }[] = [];
    for (const s of this.subjects.values())
      for (const v of s.versions) if (v.id === id && !v.deleted) out.push({ subject: s.subject, version: v.version });
    return out;
  }

  listSubjects(includeDeleted = false): string[] {
    return [...this.subjects.values()]
      .filter((s) => s.versions.some((v) => includeDeleted || !v.deleted))
      .map((s) => s.subject)
      .sort();
  }

  listVersions(subject: string, includeDeleted = false): number[] {
    return this.live(subject, includeDeleted).map((v) => v.version);
  }

  /**
   * Registers `text` under `subject`: the existing id when the subject already has it,
   * 40901 naming each incompatibility when the subject's level refuses it, else a new
   * version (and a new id unless another subject registered the same schema).
   */
  register(subject: string, schemaType: SchemaType, text: string): number {
    checkSubject(subject);
    const candidate = parseSchema(schemaType, text);
    const key = textKey(schemaType, candidate.canonical);
    const record = this.subjects.get(subject) ?? { subject, versions: [] };
    const known = this.byText.get(key);
    const same = record.versions.find((v) => !v.deleted && v.id === known);
    if (same !== undefined) return same.id;
    const issues = compatibilityIssues(this.levelOf(subject), candidate, this.previous(record));
    if (issues.length > 0) {
      throw new SchemaRegistryError(
        Code.INCOMPATIBLE_SCHEMA,
        `Schema being registered is incompatible with an earlier schema for subject "${subject}" (${this.levelOf(subject)}): ${issues.join('; ')}`,
      );
    }
    let id = known;
    if (id === undefined) {
      id = this.nextId++;
      const rec: SchemaRecord = { id, schemaType, schema: text };
      this.schemas.set(id, rec);
      this.byText.set(key, id);
      this.compiled.set(id, candidate);
      this.store.putSchemaRecord(`s:${id}`, rec);
    }
    const version = Math.max(0, ...record.versions.map((v) => v.version)) + 1;
    record.versions.push({ version, id, deleted: false });
    this.putSubject(record);
    return id;
  }

  /**
   * Definitions import: `text` as version `version` of `subject` under schema id `id`,
   * without a compatibility check (the versions were compatible where they were exported),
   * as Confluent's IMPORT mode. Nothing to do when the subject already has that version with
   * that id; refused when the id or the version holds something else here.
   */
  importVersion(subject: string, version: number, id: number, schemaType: SchemaType, text: string): void {
    checkSubject(subject);
    const parsed = parseSchema(schemaType, text);
    const key = textKey(schemaType, parsed.canonical);
    const existing = this.schemas.get(id);
    if (existing !== undefined && this.byText.get(key) !== id)
      throw new SchemaRegistryError(Code.INVALID_SCHEMA, `schema id ${id} already holds another schema here`);
    const record = this.subjects.get(subject) ?? { subject, versions: [] };
    const held = record.versions.find((v) => v.version === version);
    if (held !== undefined) {
      if (held.id === id) return;
      throw new SchemaRegistryError(
        Code.INVALID_VERSION,
        `subject '${subject}' version ${version} already holds schema id ${held.id}`,
      );
    }
    if (existing === undefined) {
      const rec: SchemaRecord = { id, schemaType, schema: text };
      this.schemas.set(id, rec);
      this.byText.set(key, id);
      this.compiled.set(id, parsed);
      this.nextId = Math.max(this.nextId, id + 1);
      this.store.putSchemaRecord(`s:${id}`, rec);
    }
    record.versions.push({ version, id, deleted: false });
    record.versions.sort((a, b) => a.version - b.version);
    this.putSubject(record);
  }

  /** POST /subjects/{s}: the version of `subject` holding this schema (40401, 40403). */
  lookup(subject: string, schemaType: SchemaType, text: string): SubjectVersion {
    const record = this.requireSubject(subject);
    const candidate = parseSchema(schemaType, text);
    const id = this.byText.get(textKey(schemaType, candidate.canonical));
    const v = record.versions.find((e) => !e.deleted && e.id === id);
    if (v === undefined)
      throw new SchemaRegistryError(Code.SCHEMA_NOT_FOUND, `Schema not found under subject "${subject}"`);
    return this.view(subject, v);
  }

  /** A version of a subject: a number or `latest` (-1 = latest too, as in Confluent). */
  version(subject: string, version: string | number): SubjectVersion {
    return this.view(subject, this.entry(subject, version));
  }

  /** The compiled schema an exchange validates with, and its id and version. */
  resolve(subject: string, version: string | number): { id: number; version: number; schema: ParsedSchema } {
    const e = this.entry(subject, version);
    return { id: e.id, version: e.version, schema: this.parsed(e.id) };
  }

  /** Compatibility of `text` with one version (or, for `_TRANSITIVE` levels and `latest`, all). */
  testCompatibility(subject: string, version: string | number, schemaType: SchemaType, text: string): string[] {
    const record = this.requireSubject(subject);
    const candidate = parseSchema(schemaType, text);
    const level = this.levelOf(subject);
    const against =
      version === 'latest' && level.endsWith('_TRANSITIVE')
        ? this.previous(record)
        : [this.entry(subject, version)].map((e) => ({ version: e.version, schema: this.parsed(e.id) }));
    return compatibilityIssues(level, candidate, against);
  }

  /** Deletes a subject: soft (versions hidden, kept) or permanent (after a soft delete). Returns the versions. */
  deleteSubject(subject: string, permanent: boolean): number[] {
    const record = this.subjects.get(subject);
    if (record === undefined || record.versions.length === 0)
      throw new SchemaRegistryError(Code.SUBJECT_NOT_FOUND, `Subject '${subject}' not found.`);
    if (permanent) {
      if (record.versions.some((v) => !v.deleted))
        throw new SchemaRegistryError(
          Code.SUBJECT_NOT_SOFT_DELETED,
          `Subject '${subject}' was not deleted first before being permanently deleted`,
        );
      this.subjects.delete(subject);
      this.store.removeSchemaRecord(subjectKey(subject));
      return record.versions.map((v) => v.version);
    }
    const live = record.versions.filter((v) => !v.deleted);
    if (live.length === 0)
      throw new SchemaRegistryError(
        Code.SUBJECT_SOFT_DELETED,
        `Subject '${subject}' was soft deleted. Set permanent=true to delete permanently`,
      );
    for (const v of live) v.deleted = true;
    this.putSubject(record);
    return live.map((v) => v.version);
  }

  deleteVersion(subject: string, version: string | number, permanent: boolean): number {
    const record = this.requireSubject(subject, true);
    const e = permanent ? this.entryAny(record, version) : this.entry(subject, version);
    if (permanent) {
      if (!e.deleted)
        throw new SchemaRegistryError(
          Code.SCHEMA_VERSION_NOT_SOFT_DELETED,
          `Subject '${subject}' Version ${e.version} was not deleted first before being permanently deleted`,
        );
      record.versions = record.versions.filter((v) => v !== e);
    } else e.deleted = true;
    this.putSubject(record);
    return e.version;
  }

  /** The level a subject uses: its own or the global default. */
  levelOf(subject: string): CompatibilityLevel {
    return this.subjects.get(subject)?.compatibility ?? this.global;
  }

  /** GET /config[/{s}]: the global level, or the subject's own (40408 unless `fallback`). */
  config(subject?: string, fallback = false): CompatibilityLevel {
    if (subject === undefined) return this.global;
    const own = this.subjects.get(subject)?.compatibility;
    if (own !== undefined) return own;
    if (fallback) return this.global;
    throw new SchemaRegistryError(
      Code.SUBJECT_CONFIG_NOT_FOUND,
      `Subject '${subject}' does not have subject-level compatibility configured`,
    );
  }

  setConfig(subject: string | undefined, level: unknown): CompatibilityLevel {
    const l = compatibilityLevelOf(level);
    if (subject === undefined) {
      this.global = l;
      this.store.putSchemaRecord(GLOBAL_KEY, { compatibility: l });
    } else {
      checkSubject(subject);
      const record = this.subjects.get(subject) ?? { subject, versions: [] };
      record.compatibility = l;
      this.putSubject(record);
    }
    return l;
  }

  deleteConfig(subject: string): CompatibilityLevel {
    const previous = this.config(subject);
    const record = this.subjects.get(subject)!;
    delete record.compatibility;
    if (record.versions.length === 0) {
      this.subjects.delete(subject);
      this.store.removeSchemaRecord(subjectKey(subject));
    } else this.putSubject(record);
    return previous;
  }

  /** Everything, for definitions export: schemas by id, subjects with versions, levels. */
  exportAll(): { schemas: SchemaRecord[]; subjects: SubjectRecord[]; compatibility: CompatibilityLevel } {
    return {
      schemas: [...this.schemas.values()],
      subjects: [...this.subjects.values()].map((s) => ({ ...s, versions: s.versions.map((v) => ({ ...v })) })),
      compatibility: this.global,
    };
  }

  private previous(record: SubjectRecord): { version: number; schema: ParsedSchema }[] {
    return record.versions.filter((v) => !v.deleted).map((v) => ({ version: v.version, schema: this.parsed(v.id) }));
  }

  private putSubject(record: SubjectRecord): void {
    this.subjects.set(record.subject, record);
    this.store.putSchemaRecord(subjectKey(record.subject), record);
  }

  private requireSubject(subject: string, includeDeleted = false): SubjectRecord {
    const record = this.subjects.get(subject);
    if (record === undefined || !record.versions.some((v) => includeDeleted || !v.deleted))
      throw new SchemaRegistryError(Code.SUBJECT_NOT_FOUND, `Subject '${subject}' not found.`);
    return record;
  }

  private live(subject: string, includeDeleted: boolean): VersionEntry[] {
    return this.requireSubject(subject, includeDeleted).versions.filter((v) => includeDeleted || !v.deleted);
  }

  private entry(subject: string, version: string | number): VersionEntry {
    const versions = this.live(subject, false);
    const n = versionNumber(version);
    const e = n === -1 ? versions[versions.length - 1] : versions.find((v) => v.version === n);
    if (e === undefined) throw new SchemaRegistryError(Code.VERSION_NOT_FOUND, `Version ${version} not found.`);
    return e;
  }

  private entryAny(record: SubjectRecord, version: string | number): VersionEntry {
    const n = versionNumber(version);
    const e = n === -1 ? record.versions[record.versions.length - 1] : record.versions.find((v) => v.version === n);
    if (e === undefined) throw new SchemaRegistryError(Code.VERSION_NOT_FOUND, `Version ${version} not found.`);
    return e;
  }

  private view(subject: string, e: VersionEntry): SubjectVersion {
    const rec = this.schemaById(e.id);
    return { subject, version: e.version, id: e.id, schemaType: rec.schemaType, schema: rec.schema };
  }
}

/** `latest`, -1 or a positive integer; 42202 otherwise. Returns -1 for latest. */
export function versionNumber(version: string | number): number {
  if (version === 'latest' || version === -1 || version === '-1') return -1;
  const n = typeof version === 'number' ? version : /^[0-9]{1,9}$/.test(version) ? Number(version) : NaN;
  if (!Number.isInteger(n) || n < 1 || n > 2 ** 31 - 1)
    throw new SchemaRegistryError(
      Code.INVALID_VERSION,
      `The specified version '${String(version).slice(0, 32)}' is not a valid version id. Allowed values are between [1, 2^31-1] and the string "latest"`,
    );
  return n;
}

function checkSubject(subject: string): void {
  if (subject.length === 0 || subject.length > MAX_SUBJECT_CHARS || /[\u0000-\u001f]/.test(subject))
    throw new SchemaRegistryError(
      Code.INVALID_SCHEMA,
      `subject name must be 1 to ${MAX_SUBJECT_CHARS} characters without control characters`,
    );
}

function textKey(type: SchemaType, canonical: string): string {
  return `${type}\u0000${canonical}`;
}

function subjectKey(subject: string): string {
  return `j:${subject}`;
}
