import { addDeath, isDeadLetterCycle, type DeathReason } from '../queues/dead-letter.js';
import type { Queue } from '../queues/queue.js';
import type { MessageRecord } from '../store/store.js';
import { parseExpiration } from '../queues/ttl.js';
import { routeAndEnqueue, type PublishHost } from './publisher.js';

/**
 * Publishes a dead-lettered copy of `record` from `queue` through the queue's
 * `x-dead-letter-exchange`, as RabbitMQ does: routing key `x-dead-letter-routing-key` or the
 * message's own, `x-death` headers added, the copy dropped for any target queue that would
 * close a cycle, and silently dropped altogether when the DLX does not exist. Internal
 * exchanges are valid DLXs. Synchronous, so the copies' writes share the turn's transaction
 * with the removal of the original.
 */
export function deadLetter(
  vhost: PublishHost,
  queue: Queue,
  record: MessageRecord,
  reason: DeathReason,
  now: number,
): number {
  const dlxName = queue.policy.deadLetterExchange;
  if (dlxName === undefined) return 0;
  const dlx = dlxName === '' ? undefined : vhost.exchange(dlxName);
  if (dlxName !== '' && dlx === undefined) return 0;
  const routingKey = queue.policy.deadLetterRoutingKey ?? record.routingKey;
  const properties = addDeath(record.properties, {
    queue: queue.name,
    reason,
    exchange: record.exchange,
    routingKeys: [record.routingKey],
    time: Math.floor(now / 1000),
  });
  const skip = (target: Queue): boolean => isDeadLetterCycle(properties, target.name, reason);
  return routeAndEnqueue(
    vhost,
    dlx,
    dlxName,
    routingKey,
    properties,
    record.content,
    parseExpiration(properties?.expiration),
    skip,
  ).queues;
}

/** What the broker tells a vhost's dead-lettering: whether an alarm is raised, and of drops. */
export interface DeadLetterGuard {
  alarmRaised(): boolean;
  /** A copy from `queue` was not made because of a raised alarm. */
  dropped(queue: string, reason: DeathReason): void;
}

interface PendingDeath {
  queue: Queue;
  record: MessageRecord;
  reason: DeathReason;
}

/**
 * Runs a vhost's dead-lettering without recursion and within a bound.
 *
 * Recursion: a dead-lettered copy can overflow its target (`x-max-length`), which
 * dead-letters that queue's head, which can overflow the next queue, and so on. Each overflow
 * sheds a *different* message, so RabbitMQ's `x-death` cycle rule never fires, and a chain as
 * long as the queues are deep ran as nested calls until the stack overflowed mid-publish. Here
 * the nested deaths wait in a list that the outermost call drains in a loop: the stack stays
 * flat, and it is still one synchronous turn, so every copy shares the turn's transaction with
 * the removal of its original (spec/semantics.md §Dead-lettering).
 *
 * Bound: TTL- and max-length-driven dead-lettering is not driven by any client, so a
 * resource alarm that blocks publishers does not stop it; a topology of TTL queues that
 * dead-letter into a fanout they are all bound to multiplies each message about N! times.
 * While an alarm is raised, dead-lettering for `expired`, `maxlen` and `delivery_limit` drops
 * the copy (dead-lettering is at-most-once, as in RabbitMQ) and counts it; `rejected` copies,
 * paced by consumers, go on.
 */
export class DeadLetterer {
  private readonly pending: PendingDeath[] = [];
  private draining = false;

  constructor(
    private readonly vhost: PublishHost,
    private readonly now: () => number,
    private readonly alarmRaised: () => boolean,
    private readonly onDroppedUnderAlarm: (queue: Queue, reason: DeathReason) => void = () => undefined,
  ) {}

  /** Dead-letters `record` from `queue` now, or right after the dead-lettering in progress. */
  deadLetter(queue: Queue, record: MessageRecord, reason: DeathReason): void {
    if (queue.policy.deadLetterExchange === undefined) return;
    if (reason !== 'rejected' && this.alarmRaised()) {
      this.onDroppedUnderAlarm(queue, reason);
      return;
    }
    this.pending.push({ queue, record, reason });
    if (this.draining) return;
    this.draining = true;
    let failure: Error | undefined;
    // An index, not shift(): a long chain would make shift() quadratic. One failed copy does
    // not stop the others; the first failure is rethrown to the caller once all are done.
    for (let i = 0; i < this.pending.length; i++) {
      const d = this.pending[i]!;
      try {
        deadLetter(this.vhost, d.queue, d.record, d.reason, this.now());
      } catch (err) {
        failure ??= err instanceof Error ? err : new Error(String(err));
      }
    }
    this.pending.length = 0;
    this.draining = false;
    if (failure !== undefined) throw failure;
  }
}
