import { JetStreamApiCodes, JetStreamApiError, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';

/*
 * A KV create that is a true compare-and-set on nats-server 2.9.10 too (spec/cluster.md
 * §Compare-and-set on 2.9.10). Measured there (test/cluster/kv-cas.test.ts): a publish with
 * `Nats-Expected-Last-Subject-Sequence: 0` (a create of a key that never existed) and one with
 * `Nats-Expected-Last-Sequence` (the whole stream's) have exactly one winner among concurrent
 * writers, but one with `Nats-Expected-Last-Subject-Sequence: N > 0` does not: before 2.9.21
 * (nats-server PR #4319) the server checks N only before proposing, not when the write is
 * applied. `@nats-io/kv`'s `create` over a deleted key, and every `update(revision)`, rely on
 * that check, so two nodes re-declaring a deleted queue at once could both win.
 */

/** How long a create keeps retrying while other keys of the bucket are being written. */
const CREATE_RETRY_MS = 30_000;

/** JetStream's "wrong last sequence" refusal (10071): another write came first. */
function isWrongLastSequence(err: unknown): boolean {
  return err instanceof JetStreamApiError && err.code === JetStreamApiCodes.StreamWrongLastSequence;
}

/** What a `createKey` found. */
export type CreateOutcome = { created: true; revision: number } | { created: false; value: string };

/**
 * Writes `value` under `key` of KV bucket `bucket` only if the key has no value (never written,
 * or deleted / purged): of any number of concurrent creators exactly one gets `created`; the
 * others get the value that stands.
 *
 * A key that never existed is created with `Nats-Expected-Last-Subject-Sequence: 0`, which the
 * server checks when the write is applied. A key whose last entry is a delete marker at sequence
 * `r` is re-created with `Nats-Expected-Last-Sequence: L` (the stream's last sequence, read
 * from the stream leader before the marker) and `Nats-Expected-Last-Subject-Sequence: r`: the
 * first is checked at apply, so the write lands only if nothing at all was written after `L`,
 * and then the marker read after `L` is still the key's last entry. Another key's write in
 * between only costs a retry.
 */
export async function createKey(
  js: JetStreamClient,
  jsm: JetStreamManager,
  bucket: string,
  key: string,
  value: string,
): Promise<CreateOutcome> {
  const stream = `KV_${bucket}`;
  const subject = `$KV.${bucket}.${key}`;
  const deadline = Date.now() + CREATE_RETRY_MS;
  for (let attempt = 0; ; attempt++) {
    try {
      const ack = await js.publish(subject, value, { expect: { lastSubjectSequence: 0 } });
      return { created: true, revision: ack.seq };
    } catch (err) {
      if (!isWrongLastSequence(err)) throw err;
    }
    // The key has an entry: a value (someone else's create stands) or a delete marker.
    const last = (await jsm.streams.info(stream)).state.last_seq;
    // Not a direct get: the stream leader answers, so the entry is at least as new as `last`.
    const entry = await jsm.streams.getMessage(stream, { last_by_subj: subject });
    if (entry !== null) {
      const op = entry.header?.get('KV-Operation') ?? '';
      if (op !== 'DEL' && op !== 'PURGE') return { created: false, value: entry.string() };
      try {
        const ack = await js.publish(subject, value, {
          expect: { lastSequence: last, lastSubjectSequence: entry.seq },
        });
        return { created: true, revision: ack.seq };
      } catch (err) {
        if (!isWrongLastSequence(err)) throw err;
      }
    }
    if (Date.now() > deadline)
      throw new Error(`could not create ${key} in ${bucket}: the bucket kept changing for ${CREATE_RETRY_MS} ms`);
    // Another write landed in between: back off a little (random, so racing nodes spread).
    await new Promise((r) => setTimeout(r, Math.min(200, 5 * 2 ** Math.min(attempt, 5)) * Math.random()));
  }
}
