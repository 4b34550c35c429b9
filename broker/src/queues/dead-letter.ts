import type { FieldTable, MessageProperties } from '@switchyard/client/protocol';

/** Why a message was dead-lettered, in RabbitMQ's words. */
export type DeathReason = 'rejected' | 'expired' | 'maxlen' | 'delivery_limit';

export interface Death {
  queue: string;
  reason: DeathReason;
  /** The exchange the message had been published to. */
  exchange: string;
  routingKeys: string[];
  /** Seconds since the epoch (AMQP timestamp resolution). */
  time: number;
}

function deathsOf(headers: FieldTable | undefined): FieldTable[] {
  const raw = headers?.['x-death'];
  return Array.isArray(raw) ? (raw.filter((d) => typeof d === 'object' && d !== null) as FieldTable[]) : [];
}

/**
 * The properties a dead-lettered message carries on, as RabbitMQ writes them: an `x-death`
 * entry per (queue, reason) — most recent first, `count` incremented when the pair repeats —
 * `x-first-death-*` set once, `x-last-death-*` on every death, and per-message `expiration`
 * moved into the entry as `original-expiration` so the copy does not expire again.
 */
export function addDeath(properties: MessageProperties | null, death: Death): MessageProperties {
  const props: MessageProperties = { ...(properties ?? {}) };
  const headers: FieldTable = { ...(props.headers ?? {}) };
  const deaths = deathsOf(headers);
  const i = deaths.findIndex((d) => d['queue'] === death.queue && d['reason'] === death.reason);
  let entry: FieldTable;
  if (i >= 0) {
    const old = deaths.splice(i, 1)[0]!;
    entry = { ...old, count: (typeof old['count'] === 'number' ? old['count'] : 0) + 1, time: death.time };
  } else {
    entry = {
      count: 1,
      reason: death.reason,
      queue: death.queue,
      time: death.time,
      exchange: death.exchange,
      'routing-keys': death.routingKeys,
    };
    if (props.expiration !== undefined) entry['original-expiration'] = props.expiration;
  }
  delete props.expiration;
  headers['x-death'] = [entry, ...deaths];
  if (headers['x-first-death-reason'] === undefined) {
    headers['x-first-death-reason'] = death.reason;
    headers['x-first-death-queue'] = death.queue;
    headers['x-first-death-exchange'] = death.exchange;
  }
  headers['x-last-death-reason'] = death.reason;
  headers['x-last-death-queue'] = death.queue;
  headers['x-last-death-exchange'] = death.exchange;
  props.headers = headers;
  return props;
}

/**
 * RabbitMQ's cycle rule: dead-lettering into `target` is a cycle — and the copy for that
 * queue is dropped — when `target` already appears in the message's `x-death` with no
 * `rejected` death since. Rejections break cycles, since a consumer chose to send it on.
 */
export function isDeadLetterCycle(properties: MessageProperties, target: string, reason: DeathReason): boolean {
  if (reason === 'rejected') return false;
  for (const d of deathsOf(properties.headers)) {
    if (d['reason'] === 'rejected') return false;
    if (d['queue'] === target) return true;
  }
  return false;
}
