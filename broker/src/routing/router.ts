import type { Binding, FieldTable } from './binding.js';
import type { BindingMatcher } from './binding-matcher.js';

/** What routing needs to know about an exchange. */
export interface RoutableExchange {
  name: string;
  matcher: BindingMatcher;
  /** Name of the exchange that receives messages this exchange's bindings do not match. */
  alternateExchange?: string | undefined;
}

/** Where a message goes. */
export interface RouteResult {
  /** Unique queue names, in the order first reached (see {@link route}). */
  queues: string[];
}

/** Up to this many queues, duplicates are found by scanning the array; past it, with a Set. */
const SMALL_QUEUE_LIST = 16;

/**
 * Routes a message through the exchange graph, as RabbitMQ's `rabbit_exchange:route/3` does:
 *
 * - The published-to exchange's matching bindings are collected; queue destinations join the
 *   result, exchange destinations (exchange-to-exchange bindings) are routed in turn with the
 *   same routing key and headers, to any depth.
 * - Every exchange is routed at most once per message (visited set), so cycles end, and every
 *   queue appears at most once however many paths reach it.
 * - An exchange whose own bindings match nothing (none at all of either kind: not "reached no
 *   queue") passes the message to its alternate exchange, which is routed like any other
 *   exchange (its own alternate may follow; a loop of alternates ends at the visited set). An
 *   exchange that matched only bindings to missing, already visited or empty exchanges does
 *   NOT use its alternate exchange.
 * - A destination exchange that `lookup` does not know is skipped.
 *
 * Exchanges are routed breadth-first, so queues bound directly come before queues reached
 * through one more hop. The order within one exchange is its matcher's order.
 */
export function route(
  exchange: RoutableExchange,
  routingKey: string,
  headers: FieldTable | undefined,
  lookup: (name: string) => RoutableExchange | undefined,
): RouteResult {
  // One array for every exchange's matches, never truncated: resetting an array's length
  // drops its storage, and re-growing it costs more than a whole direct match.
  const matched: Binding[] = [];
  exchange.matcher.match(routingKey, headers, matched);
  const direct = onlyQueues(matched);
  if (direct !== undefined) return { queues: direct };

  const walk = new Traversal(exchange, lookup);
  let start = 0;
  let first = true; // `exchange`, whose matches are in `matched` already
  for (let current = walk.next(); current !== undefined; current = walk.next()) {
    if (!first) {
      start = matched.length;
      current.matcher.match(routingKey, headers, matched);
    }
    first = false;
    if (matched.length === start) {
      // RabbitMQ `process_alternate`: consulted only when the exchange matched no binding.
      if (current.alternateExchange !== undefined) walk.addExchange(current.alternateExchange);
      continue;
    }
    for (let i = start; i < matched.length; i++) {
      const b = matched[i]!;
      if (b.destinationKind === 'queue') walk.addQueue(b.destination);
      else walk.addExchange(b.destination);
    }
  }
  return { queues: walk.queues };
}

/**
 * The common case without the walk's bookkeeping: a few matches, all queues. Returns their
 * distinct names, or undefined when the general walk is needed (no match: maybe an alternate
 * exchange; an exchange destination; many matches).
 */
function onlyQueues(matched: readonly Binding[]): string[] | undefined {
  if (matched.length === 0 || matched.length > SMALL_QUEUE_LIST) return undefined;
  const queues: string[] = [];
  for (let i = 0; i < matched.length; i++) {
    const b = matched[i]!;
    if (b.destinationKind !== 'queue') return undefined;
    if (!queues.includes(b.destination)) queues.push(b.destination);
  }
  return queues;
}

/** The state of one {@link route} call: the breadth-first work list and what it reached. */
class Traversal {
  readonly queues: string[] = [];
  #queueSet: Set<string> | undefined; // only once the list is long
  #visited: Set<string> | undefined; // only once an exchange destination appears
  readonly #work: RoutableExchange[];
  #nextIndex = 0;

  constructor(
    readonly start: RoutableExchange,
    readonly lookup: (name: string) => RoutableExchange | undefined,
  ) {
    this.#work = [start];
  }

  /** The next exchange to route, or undefined when done. */
  next(): RoutableExchange | undefined {
    return this.#work[this.#nextIndex++];
  }

  addQueue(name: string): void {
    if (this.#queueSet !== undefined) {
      if (this.#queueSet.has(name)) return;
      this.#queueSet.add(name);
    } else {
      if (this.queues.includes(name)) return;
      if (this.queues.length >= SMALL_QUEUE_LIST) this.#queueSet = new Set(this.queues).add(name);
    }
    this.queues.push(name);
  }

  /** Queues an exchange for routing unless it was seen before; unknown names are skipped. */
  addExchange(name: string): void {
    this.#visited ??= new Set([this.start.name]);
    if (this.#visited.has(name)) return;
    this.#visited.add(name);
    const next = this.lookup(name);
    if (next !== undefined) this.#work.push(next);
  }
}
