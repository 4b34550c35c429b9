/**
 * `@switchyard/client/schemas`: publish JSON and Avro with a subject's schema from the
 * broker's registry, and decode received messages by their schema id
 * (spec/schemas.md §SDK helpers). A separate entry point, so the main SDK and its browser
 * bundle do not carry avsc; Node only (avsc decodes into Buffers).
 */
import avro from 'avsc';
import type { PublishOptions } from '../core/publish-options.js';
import type { FieldTable } from '../protocol/properties.js';
import { boundAvroBlocks } from '../protocol/avro-bounds.js';
import { SchemaRegistryClient, SchemaRegistryError, type SchemaRegistryOptions } from './registry-client.js';
import { frame, framedId } from './wire-format.js';

export {
  SchemaRegistryClient,
  SchemaRegistryError,
  type RegisteredSchema,
  type SchemaRegistryOptions,
  type SubjectVersion,
} from './registry-client.js';

// Hostile Avro bodies must not exhaust the heap when decoded (protocol/avro-bounds.ts).
boundAvroBlocks(avro);

/** Publish options plus where the schema comes from. */
export interface SchemaPublishOptions extends PublishOptions {
  /** The subject; default: the exchange's `x-schema-subject` argument (read once from the management API). */
  subject?: string;
  /** A version number or `latest` (default: the exchange's `x-schema-version`, else `latest`). */
  version?: number | 'latest';
  /** The exchange's vhost, to read its arguments when `subject` is not given (default `/`). */
  vhost?: string;
}

/** What the helpers need of a channel: its `publish` (a Switchyard `Channel` fits). */
export interface Publisher {
  publish(exchange: string, routingKey: string, content: Uint8Array, options?: PublishOptions): Promise<void>;
}

/** What `decode` needs of a message: its body and headers (a received `Message` fits). */
export interface Decodable {
  content: Uint8Array;
  properties: { headers?: FieldTable };
}

/** Serializes with registered schemas and deserializes by schema id; caches schemas by id and subject. */
export class SchemaHelpers {
  /** The registry client (its caches are shared by every helper call). */
  readonly registry: SchemaRegistryClient;
  readonly #avroTypes = new Map<number, avro.Type>();
  readonly #exchanges = new Map<string, Promise<{ subject: string; version: number | 'latest' }>>();

  constructor(options: SchemaRegistryOptions) {
    this.registry = new SchemaRegistryClient(options);
  }

  /**
   * Publishes `value` as JSON framed with the subject's schema id (Confluent wire format),
   * so the exchange validates it against that exact version; `contentType` defaults to
   * `application/json`. The broker validates: a value that does not match is nacked
   * (BrokerError 406 naming the violations).
   * @throws SchemaRegistryError if the subject or version does not exist, or is not JSON Schema
   * @throws TypeError if `value` cannot be serialized as JSON
   */
  async publishJson(
    ch: Publisher,
    exchange: string,
    routingKey: string,
    value: unknown,
    options?: SchemaPublishOptions,
  ): Promise<void> {
    const v = await this.#versionFor(exchange, options, 'JSON');
    const text = JSON.stringify(value);
    if (text === undefined) throw new TypeError('value cannot be serialized as JSON');
    const body = frame(v.id, new TextEncoder().encode(text));
    return ch.publish(exchange, routingKey, body, publishOptions(options, 'application/json'));
  }

  /**
   * Publishes `value` encoded with the subject's Avro schema (avsc), framed with its id.
   * @throws TypeError naming each field of `value` that does not fit the schema (nothing is sent)
   * @throws SchemaRegistryError if the subject or version does not exist, or is not Avro
   */
  async publishAvro(
    ch: Publisher,
    exchange: string,
    routingKey: string,
    value: unknown,
    options?: SchemaPublishOptions,
  ): Promise<void> {
    const v = await this.#versionFor(exchange, options, 'AVRO');
    const type = this.#avroType(v.id, v.schema);
    const bad: string[] = [];
    type.isValid(value, {
      errorHook: (path, val: unknown) => {
        if (bad.length < 3) bad.push(`${path.length === 0 ? 'value' : `field /${path.join('/')}`}: ${describe(val)}`);
      },
    });
    if (bad.length > 0)
      throw new TypeError(`value does not match subject '${v.subject}' version ${v.version}: ${bad.join('; ')}`);
    return ch.publish(exchange, routingKey, frame(v.id, type.toBuffer(value)), publishOptions(options));
  }

  /**
   * Deserializes a message by its schema id: the wire-format id when the body is framed,
   * else the `x-schema-id` header the validating exchange added. JSON and Avro; a body
   * with neither is parsed as plain JSON.
   * @throws SchemaRegistryError if the id is unknown, or names a Protobuf schema (decode those with protobufjs)
   * @throws SyntaxError / Error if the body does not decode with its schema
   */
  async decode<T = unknown>(msg: Decodable): Promise<T> {
    const content = msg.content;
    const wireId = framedId(content);
    const header = msg.properties.headers?.['x-schema-id'];
    const id = wireId ?? (typeof header === 'number' ? header : undefined);
    const payload = wireId === undefined ? content : content.subarray(5);
    if (id === undefined) return JSON.parse(new TextDecoder().decode(payload)) as T;
    const s = await this.registry.schemaById(id);
    if (s.schemaType === 'JSON') return JSON.parse(new TextDecoder().decode(payload)) as T;
    if (s.schemaType === 'AVRO') {
      if (wireId === undefined) throw new Error(`an Avro message must be framed (schema id ${id}); the body is not`);
      const buf = Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
      return this.#avroType(id, s.schema).fromBuffer(buf) as T;
    }
    throw new SchemaRegistryError(
      `schema id ${id} is ${s.schemaType}: the SDK decodes JSON and Avro; decode it with protobufjs`,
      42201,
    );
  }

  #avroType(id: number, schema: string): avro.Type {
    let type = this.#avroTypes.get(id);
    if (type === undefined) {
      type = avro.Type.forSchema(JSON.parse(schema) as avro.Schema);
      this.#avroTypes.set(id, type);
    }
    return type;
  }

  async #versionFor(exchange: string, options: SchemaPublishOptions | undefined, type: string) {
    let subject = options?.subject;
    let version = options?.version;
    if (subject === undefined) {
      const key = `${options?.vhost ?? '/'}\u0000${exchange}`;
      let ex = this.#exchanges.get(key);
      if (ex === undefined) {
        ex = this.registry.exchangeSchema(options?.vhost ?? '/', exchange);
        this.#exchanges.set(key, ex);
        ex.catch(() => this.#exchanges.delete(key));
      }
      const found = await ex;
      subject = found.subject;
      version ??= found.version;
    }
    const v = await this.registry.version(subject, version ?? 'latest');
    if (v.schemaType !== type)
      throw new SchemaRegistryError(
        `subject '${subject}' version ${v.version} is ${v.schemaType}, not ${type}: use the matching publish helper`,
        42201,
      );
    return v;
  }
}

function publishOptions(options: SchemaPublishOptions | undefined, contentType?: string): PublishOptions {
  const { subject: _s, version: _v, vhost: _h, ...rest } = options ?? {};
  return contentType === undefined ? rest : { ...rest, contentType: rest.contentType ?? contentType };
}

function describe(val: unknown): string {
  if (val === undefined) return 'missing';
  const text = JSON.stringify(val);
  return `${typeof val} ${text === undefined ? '' : text.slice(0, 80)} does not fit its type`;
}
