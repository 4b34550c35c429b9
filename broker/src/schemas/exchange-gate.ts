import { BrokerError, ErrorCode, type FieldTable, type MessageProperties } from '@switchyard/client/protocol';
import { SchemaRegistryError } from './errors.js';
import type { SchemaRegistry } from './registry.js';
import { isWireFormat, readWireFormat } from './wire-format.js';

/** What an exchange's `x-schema-*` arguments ask for (spec/schemas.md §Enforcement). */
export interface ExchangeSchema {
  subject: string;
  /** A version number, or `latest` (the default): the subject's newest live version at publish time. */
  version: number | 'latest';
  /** Where refused messages go instead, with the reasons in headers; undefined = refuse the publish. */
  invalidExchange: string | undefined;
}

/** How many violations a refusal names: enough to fix the message, bounded for hostile input. */
const MAX_VIOLATIONS = 3;

/**
 * Reads `x-schema-subject`, `x-schema-version` and `x-schema-invalid-exchange` from an
 * exchange's arguments: undefined when it asks for no validation; 406 for a malformed one.
 */
export function exchangeSchemaOf(args: FieldTable, exchange: string): ExchangeSchema | undefined {
  const subject = args['x-schema-subject'];
  const version = args['x-schema-version'];
  const invalid = args['x-schema-invalid-exchange'];
  if (subject === undefined) {
    if (version !== undefined || invalid !== undefined)
      throw refuse(exchange, `'x-schema-version' and 'x-schema-invalid-exchange' need 'x-schema-subject'`);
    return undefined;
  }
  if (typeof subject !== 'string' || subject.length === 0 || subject.length > 255)
    throw refuse(exchange, `'x-schema-subject' must be a subject name (1 to 255 characters)`);
  let v: number | 'latest' = 'latest';
  if (version !== undefined && version !== 'latest') {
    const n = typeof version === 'string' && /^[0-9]{1,9}$/.test(version) ? Number(version) : version;
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > 2 ** 31 - 1)
      throw refuse(
        exchange,
        `'x-schema-version' must be a positive integer or 'latest', got ${JSON.stringify(version)}`,
      );
    v = n;
  }
  if (invalid !== undefined && (typeof invalid !== 'string' || invalid.length > 255))
    throw refuse(exchange, `'x-schema-invalid-exchange' must be an exchange name`);
  return { subject, version: v, invalidExchange: invalid };
}

function refuse(exchange: string, problem: string): BrokerError {
  return new BrokerError(
    ErrorCode.PRECONDITION_FAILED,
    `invalid schema arguments for exchange '${exchange}': ${problem}`,
  );
}

/**
 * The media types an unframed message on a JSON Schema subject may declare: none (the
 * Confluent serializers and most AMQP publishers set none), `application/json`, or a
 * structured `application/<anything>+json` (RFC 6839), parameters such as `charset`
 * ignored and case-insensitive (RFC 9110 §8.3.1). spec/schemas.md §Enforcement.
 */
const JSON_MEDIA_TYPE = /^application\/(?:[a-z0-9!#$&^_.+-]+\+)?json$/;

/** Whether an unframed message's content type lets it be read as JSON (absent = yes). */
export function isJsonContentType(contentType: string | undefined): boolean {
  if (contentType === undefined || contentType === '') return true;
  // Only the media type's essence matters; this is a comparison, not a parser.
  const semi = contentType.indexOf(';');
  const essence = (semi < 0 ? contentType : contentType.slice(0, semi)).trim().toLowerCase();
  return JSON_MEDIA_TYPE.test(essence);
}

function notJsonContentType(contentType: string | undefined): string {
  return (
    `content type ${JSON.stringify(String(contentType).slice(0, 64))} is not JSON: publish JSON with content type ` +
    `application/json (or application/*+json, or none), or frame it in the Confluent wire format`
  );
}

/** What the gate decided for one message. */
export type GateVerdict =
  { kind: 'accepted'; properties: MessageProperties } | { kind: 'refused'; reason: string; headers: FieldTable };

/**
 * Validates messages published to exchanges that declare `x-schema-subject`, with the
 * registry's compiled (cached by id) schemas. Counts failures per vhost and exchange for
 * the metrics. Never throws for a bad message: a refusal is a verdict.
 */
export class SchemaGate {
  /** Validation failures per `vhost\u0000exchange`. */
  readonly failures = new Map<string, number>();

  constructor(private readonly registry: SchemaRegistry) {}

  check(
    vhost: string,
    exchange: string,
    spec: ExchangeSchema,
    properties: MessageProperties | null,
    content: Uint8Array,
  ): GateVerdict {
    const { subject } = spec;
    let resolved;
    try {
      resolved = this.registry.resolve(subject, spec.version);
    } catch (err) {
      if (!(err instanceof SchemaRegistryError)) throw err;
      return this.fail(vhost, exchange, spec, undefined, [`${err.message} (register the schema first)`]);
    }
    let { id, schema } = resolved;
    let version = resolved.version;
    let violations: string[];
    if (schema.type === 'JSON' && !isWireFormat(content)) {
      const contentType = properties?.contentType;
      if (!isJsonContentType(contentType))
        return this.fail(vhost, exchange, spec, version, [notJsonContentType(contentType)], id);
      violations = schema.validate(content);
    } else {
      let wire;
      try {
        wire = readWireFormat(content, schema.type === 'PROTOBUF');
      } catch (err) {
        if (schema.type !== 'PROTOBUF' || !isWireFormat(content))
          return this.fail(vhost, exchange, spec, version, [(err as Error).message]);
        wire = { ...readWireFormat(content, false), messageIndexes: [0] }; // indexes unreadable: kafkajs framing
      }
      if (wire.id !== id) {
        // `latest` accepts any live version of the subject (compatible by the subject's
        // level); a pinned version accepts its own id only.
        const use =
          spec.version === 'latest' ? this.registry.usesOf(wire.id).find((u) => u.subject === subject) : undefined;
        if (use === undefined)
          return this.fail(vhost, exchange, spec, version, [
            `schema id ${wire.id} is not ${spec.version === 'latest' ? 'a version' : `version ${version} (id ${id})`} of subject '${subject}'`,
          ]);
        id = wire.id;
        version = use.version;
        schema = this.registry.parsed(id);
      }
      violations = schema.validate(wire.payload, wire.messageIndexes);
      // @kafkajs/confluent-schema-registry frames Protobuf without message indexes: a
      // payload that decodes as the first message type right after the id is accepted too.
      if (violations.length > 0 && schema.type === 'PROTOBUF' && schema.validate(content.subarray(5)).length === 0)
        violations = [];
    }
    if (violations.length > 0) return this.fail(vhost, exchange, spec, version, violations, id);
    return {
      kind: 'accepted',
      properties: { ...properties, headers: { ...properties?.headers, 'x-schema-id': id } },
    };
  }

  private fail(
    vhost: string,
    exchange: string,
    spec: ExchangeSchema,
    version: number | undefined,
    violations: string[],
    id?: number,
  ): GateVerdict {
    const key = `${vhost}\u0000${exchange}`;
    this.failures.set(key, (this.failures.get(key) ?? 0) + 1);
    const first = violations.slice(0, MAX_VIOLATIONS).map((v) => v.slice(0, 300));
    const where = `subject '${spec.subject}' version ${version ?? spec.version}${id === undefined ? '' : ` (id ${id})`}`;
    return {
      kind: 'refused',
      reason: `message refused by exchange '${exchange}': it does not match ${where}: ${first.join('; ')}`,
      headers: {
        'x-schema-subject': spec.subject,
        'x-schema-version': version ?? String(spec.version),
        'x-schema-errors': first,
      },
    };
  }
}
