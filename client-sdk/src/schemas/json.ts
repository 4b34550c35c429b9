/**
 * The JSON half of the schema helpers (spec/schemas.md §SDK helpers): `publishJson` and
 * `decode` for JSON Schema subjects. Free of avsc and of Node built-ins, so it is also the
 * browser build of the helpers (`dist/switchyard-schemas.browser.js`); `SchemaHelpers`
 * (Node) extends it with Avro.
 */
import type { PublishOptions } from '../core/publish-options.js';
import type { FieldTable } from '../protocol/properties.js';
import {
  SchemaRegistryClient,
  SchemaRegistryError,
  type SchemaRegistryOptions,
  type SubjectVersion,
} from './registry-client.js';
import { frame, framedId } from './wire-format.js';

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

/** A message as `decode` reads it: the schema id (wire format, else `x-schema-id`) and the payload. */
export interface SchemaFramed {
  /** The schema id, or undefined when the message names none. */
  id: number | undefined;
  /** Whether the body carried the wire-format frame. */
  framed: boolean;
  payload: Uint8Array;
}

const decoder = new TextDecoder();
const encoder = new TextEncoder();

/**
 * Publishes JSON with a subject's registered schema and decodes JSON by schema id; caches
 * schemas by id and subject. Runs in Node and in browsers (the registry must then be
 * reachable from the page's origin: the management port sends no CORS headers).
 */
export class JsonSchemaHelpers {
  /** The registry client (its caches are shared by every helper call). */
  readonly registry: SchemaRegistryClient;
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
    const v = await this.versionFor(exchange, options, 'JSON');
    const text = JSON.stringify(value);
    if (text === undefined) throw new TypeError('value cannot be serialized as JSON');
    const body = frame(v.id, encoder.encode(text));
    return ch.publish(exchange, routingKey, body, publishOptions(options, 'application/json'));
  }

  /**
   * Deserializes a JSON message by its schema id: the wire-format id when the body is
   * framed, else the `x-schema-id` header the validating exchange added; a body with
   * neither is parsed as plain JSON. Avro ids need `SchemaHelpers` (Node).
   * @throws SchemaRegistryError if the id is unknown, or names a schema this class does not decode
   * @throws SyntaxError if the body is not JSON
   */
  async decode<T = unknown>(msg: Decodable): Promise<T> {
    const m = this.framing(msg);
    if (m.id === undefined) return parseJson<T>(m.payload);
    const s = await this.registry.schemaById(m.id);
    if (s.schemaType === 'JSON') return parseJson<T>(m.payload);
    return this.decodeOther<T>(m, s.schemaType, s.schema);
  }

  /** Decodes a non-JSON schema's message; here: refused, naming what can. @internal */
  protected decodeOther<T>(m: SchemaFramed, schemaType: string, _schema: string): Promise<T> {
    const how =
      schemaType === 'AVRO'
        ? "decode Avro with SchemaHelpers of '@switchyard/client/schemas' in Node (the browser build decodes JSON only)"
        : 'decode it with protobufjs';
    return Promise.reject(new SchemaRegistryError(`schema id ${m.id} is ${schemaType}: ${how}`, 42201));
  }

  /** The message's schema id and payload. @internal */
  protected framing(msg: Decodable): SchemaFramed {
    const content = msg.content;
    const wireId = framedId(content);
    if (wireId !== undefined) return { id: wireId, framed: true, payload: content.subarray(5) };
    const header = msg.properties.headers?.['x-schema-id'];
    return { id: typeof header === 'number' ? header : undefined, framed: false, payload: content };
  }

  /** The subject version a publish to `exchange` uses, refused unless it is of `type`. @internal */
  protected async versionFor(
    exchange: string,
    options: SchemaPublishOptions | undefined,
    type: string,
  ): Promise<SubjectVersion> {
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

function parseJson<T>(payload: Uint8Array): T {
  return JSON.parse(decoder.decode(payload)) as T;
}

/** The publish options without the helper's own, `contentType` defaulted. @internal */
export function publishOptions(options: SchemaPublishOptions | undefined, contentType?: string): PublishOptions {
  const { subject: _s, version: _v, vhost: _h, ...rest } = options ?? {};
  return contentType === undefined ? rest : { ...rest, contentType: rest.contentType ?? contentType };
}
