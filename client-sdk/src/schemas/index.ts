/**
 * `@switchyard/client/schemas`: publish JSON and Avro with a subject's schema from the
 * broker's registry, and decode received messages by their schema id
 * (spec/schemas.md §SDK helpers). A separate entry point, so the main SDK and its browser
 * bundle do not carry avsc; Node only (avsc decodes into Buffers).
 */
import avro from 'avsc';
import { boundAvroBlocks } from '../protocol/avro-bounds.js';
import {
  JsonSchemaHelpers,
  publishOptions,
  type Decodable,
  type Publisher,
  type SchemaFramed,
  type SchemaPublishOptions,
} from './json.js';
import { frame } from './wire-format.js';

export {
  JsonSchemaHelpers,
  type Decodable,
  type Publisher,
  type SchemaFramed,
  type SchemaPublishOptions,
} from './json.js';
export {
  SchemaRegistryClient,
  SchemaRegistryError,
  type RegisteredSchema,
  type SchemaRegistryOptions,
  type SubjectVersion,
} from './registry-client.js';

// Hostile Avro bodies must not exhaust the heap when decoded (protocol/avro-bounds.ts).
boundAvroBlocks(avro);

/**
 * Serializes with registered schemas (JSON and Avro) and deserializes by schema id; caches
 * schemas by id and subject. Node only (avsc decodes into Buffers); browsers use
 * `JsonSchemaHelpers`.
 */
export class SchemaHelpers extends JsonSchemaHelpers {
  readonly #avroTypes = new Map<number, avro.Type>();

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
    const v = await this.versionFor(exchange, options, 'AVRO');
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
  override decode<T = unknown>(msg: Decodable): Promise<T> {
    return super.decode<T>(msg);
  }

  protected override decodeOther<T>(m: SchemaFramed, schemaType: string, schema: string): Promise<T> {
    if (schemaType !== 'AVRO' || m.id === undefined) return super.decodeOther<T>(m, schemaType, schema);
    if (!m.framed)
      return Promise.reject(new Error(`an Avro message must be framed (schema id ${m.id}); the body is not`));
    const buf = Buffer.from(m.payload.buffer, m.payload.byteOffset, m.payload.byteLength);
    try {
      return Promise.resolve(this.#avroType(m.id, schema).fromBuffer(buf) as T);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  #avroType(id: number, schema: string): avro.Type {
    let type = this.#avroTypes.get(id);
    if (type === undefined) {
      type = avro.Type.forSchema(JSON.parse(schema) as avro.Schema);
      this.#avroTypes.set(id, type);
    }
    return type;
  }
}

function describe(val: unknown): string {
  if (val === undefined) return 'missing';
  const text = JSON.stringify(val);
  return `${typeof val} ${text === undefined ? '' : text.slice(0, 80)} does not fit its type`;
}
