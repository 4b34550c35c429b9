import type { FieldTable } from '@switchyard/client/protocol';
import { createMatcher, type BindingMatcher, type ExchangeType } from '../routing/matcher.js';
import type { RoutableExchange } from '../routing/router.js';
import { SuperStreamMatcher } from '../routing/super-stream.js';
import { exchangeSchemaOf, type ExchangeSchema } from '../schemas/exchange-gate.js';
import type { ExchangeDefinition } from '../store/store.js';

/** An exchange: how it was declared, and its bindings indexed for its type. */
export class Exchange implements RoutableExchange {
  readonly name: string;
  readonly type: ExchangeType;
  readonly durable: boolean;
  readonly autoDelete: boolean;
  readonly internal: boolean;
  readonly arguments: FieldTable;
  readonly matcher: BindingMatcher;
  /** What published messages must match (`x-schema-subject`...); undefined = nothing checked. */
  readonly schema: ExchangeSchema | undefined;
  /** Bindings in which this exchange is the destination (exchange-to-exchange). */
  inbound = 0;

  constructor(def: ExchangeDefinition & { type: ExchangeType }) {
    this.name = def.name;
    this.type = def.type;
    this.durable = def.durable;
    this.autoDelete = def.autoDelete;
    this.internal = def.internal;
    this.arguments = def.arguments;
    this.schema = exchangeSchemaOf(def.arguments, def.name); // 406 for malformed arguments, before anything is stored
    const hashHeader = def.arguments['hash-header'];
    this.matcher =
      def.type === 'direct' && def.arguments['x-super-stream'] === true
        ? new SuperStreamMatcher()
        : createMatcher(def.type, { hashHeader: typeof hashHeader === 'string' ? hashHeader : undefined });
  }

  /** RabbitMQ's `alternate-exchange` argument (the SDK's `alternateExchange` option). */
  get alternateExchange(): string | undefined {
    const ae = this.arguments['alternate-exchange'];
    return typeof ae === 'string' ? ae : undefined;
  }

  toDefinition(): ExchangeDefinition {
    return {
      name: this.name,
      type: this.type,
      durable: this.durable,
      autoDelete: this.autoDelete,
      internal: this.internal,
      arguments: this.arguments,
    };
  }
}
