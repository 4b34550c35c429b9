import MurmurHash3 from 'imurmurhash';

/** RabbitMQ's super-stream routing seed (its stream clients' `HashRoutingMurmurStrategy`). */
export const SUPER_STREAM_SEED = 104729;

/**
 * The partition (0..n-1) of a routing key in a super stream with `n` partitions, as RabbitMQ
 * stream clients pick it: murmur3 x86 32-bit of the key's UTF-8 bytes with seed 104729,
 * unsigned, modulo `n`. imurmurhash reads one byte per character here: the key goes in as
 * its UTF-8 bytes, one latin1 character each.
 */
export function partitionOf(routingKey: string, n: number): number {
  const bytes = Buffer.from(routingKey, 'utf8').toString('latin1');
  return (MurmurHash3(bytes, SUPER_STREAM_SEED).result() >>> 0) % n;
}
