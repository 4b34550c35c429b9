import type { Binding, FieldTable } from './binding.js';
import type { BindingMatcher } from './matcher.js';

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
  const queues: string[] = [];
  let queueSet: Set<string> | undefined; // only once the list is long
  let visited: Set<string> | undefined; // only once an exchange destination appears
  let work: RoutableExchange[] | undefined; // exchanges still to route, after `exchange`
  // One array for every exchange's matches, never truncated: resetting an array's length
  // drops its storage, and re-growing it costs more than the whole match on a hot path.
  const matched: Binding[] = [];
  let current: RoutableExchange | undefined = exchange;
  for (let w = 0; current !== undefined; current = work?.[w++]) {
    const start = matched.length;
    current.matcher.match(routingKey, headers, matched);
    let nextExchange: string | undefined;
    if (matched.length === start) {
      // RabbitMQ `process_alternate`: consulted only when the exchange matched no binding.
      nextExchange = current.alternateExchange;
      if (nextExchange === undefined) continue;
    }
    for (let i = start; i < matched.length || nextExchange !== undefined; i++) {
      let name: string;
      if (nextExchange !== undefined) {
        name = nextExchange; // the alternate exchange, handled as an exchange destination
        nextExchange = undefined;
      } else {
        const b = matched[i]!;
        name = b.destination;
        if (b.destinationKind === 'queue') {
          if (queueSet !== undefined) {
            if (queueSet.has(name)) continue;
            queueSet.add(name);
          } else {
            if (queues.includes(name)) continue;
            if (queues.length >= SMALL_QUEUE_LIST) queueSet = new Set(queues).add(name);
          }
          queues.push(name);
          continue;
        }
      }
      visited ??= new Set([exchange.name]);
      if (visited.has(name)) continue;
      visited.add(name);
      const next = lookup(name);
      if (next !== undefined) (work ??= []).push(next);
    }
  }
  return { queues };
}
