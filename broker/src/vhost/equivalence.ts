import { BrokerError, ErrorCode } from '@switchyard/client/protocol';
import { canonicalValue } from '../routing/binding.js';

/**
 * Throws 406 PRECONDITION_FAILED naming the first setting a redeclare disagrees on, in
 * RabbitMQ's words: "inequivalent arg 'durable' for queue 'q' in vhost '/': received
 * 'false' but current is 'true'".
 */
export function assertEquivalent(
  kind: 'exchange' | 'queue',
  name: string,
  vhost: string,
  received: Record<string, unknown>,
  current: Record<string, unknown>,
): void {
  for (const key of Object.keys(current)) {
    const r = received[key];
    const c = current[key];
    if (canonicalValue(r) !== canonicalValue(c)) {
      throw new BrokerError(
        ErrorCode.PRECONDITION_FAILED,
        `inequivalent arg '${key}' for ${kind} '${name}' in vhost '${vhost}': received ${show(r)} but current is ${show(c)}`,
      );
    }
  }
}

/** Compares argument tables key by key, so the error names the argument that differs. */
export function assertEquivalentArguments(
  kind: 'exchange' | 'queue',
  name: string,
  vhost: string,
  received: Record<string, unknown>,
  current: Record<string, unknown>,
): void {
  const keys = new Set([...Object.keys(received), ...Object.keys(current)]);
  const r: Record<string, unknown> = {};
  const c: Record<string, unknown> = {};
  for (const k of keys) {
    r[k] = received[k];
    c[k] = current[k];
  }
  assertEquivalent(kind, name, vhost, r, c);
}

function show(v: unknown): string {
  if (v === undefined) return 'none';
  const scalar = typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint';
  return `'${scalar ? String(v) : (JSON.stringify(v) ?? typeof v)}'`;
}
