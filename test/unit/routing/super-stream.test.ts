import { expect } from 'chai';
import type { Binding } from '../../../broker/src/routing/binding.js';
import { SuperStreamMatcher } from '../../../broker/src/routing/super-stream.js';
import { partitionOf } from '../../../broker/src/streams/partition-hash.js';
import { partitionKeys } from '../../../broker/src/streams/super-stream.js';

const bind = (key: string, order: number): Binding => ({
  source: 'orders',
  destination: `orders-${key}`,
  destinationKind: 'queue',
  routingKey: key,
  arguments: { 'x-stream-partition-order': order },
});

describe('super stream routing', () => {
  it('partitionOf is murmur3 (seed 104729) of the UTF-8 key, stable and spread', () => {
    const counts = [0, 0, 0];
    for (let i = 0; i < 3000; i++) counts[partitionOf(`customer-${i}`, 3)]!++;
    for (const c of counts) expect(c).to.be.within(800, 1200);
    expect(partitionOf('café', 7)).to.equal(partitionOf('café', 7));
  });

  it('partitionOf matches the RabbitMQ stream Java client (HashRoutingStrategy, HashUtils.MURMUR3)', () => {
    // rabbitmq/rabbitmq-stream-java-client src/test/java/com/rabbitmq/stream/impl/HashRoutingStrategyTest.java
    // (routeShouldComputeAppropriatePartitions): keys hello1..hello10 over invoices-01..03.
    const expected = ['02', '01', '02', '03', '01', '03', '01', '02', '01', '03'];
    expected.forEach((partition, i) =>
      expect(partitionOf(`hello${i + 1}`, 3), `hello${i + 1}`).to.equal(Number(partition) - 1),
    );
    // HashUtilsTest.java (murmur3WithDefaultSeed, seed 104729): the unsigned hashes, seen
    // through two moduli.
    const hashes: [string, number][] = [
      ['hello', 1321743225],
      ['brave', 3825276426],
      ['new', 2970740106],
      ['world', 2453398188],
    ];
    for (const [key, hash] of hashes) expect(partitionOf(key, 2 ** 32 - 1), key).to.equal(hash % (2 ** 32 - 1));
    for (const [key, hash] of hashes) expect(partitionOf(key, 7), key).to.equal(hash % 7);
    // Non-ASCII keys hash their UTF-8 bytes (HashUtils: value.getBytes(UTF_8)), checked
    // against a plain byte-wise murmur3 x86_32 (the oracle below, itself checked on the vectors above).
    for (const [key, hash] of hashes) expect(murmur3Bytes(Buffer.from(key, 'utf8'), 104729), key).to.equal(hash);
    for (const key of ['café', 'Übergrößenträger', '注文-42', '🚀x', 'ab\u0000c'])
      expect(partitionOf(key, 1000), key).to.equal(murmur3Bytes(Buffer.from(key, 'utf8'), 104729) % 1000);
  });

  it('routes an exact binding key to its partition, any other key by hash in partition order', () => {
    const m = new SuperStreamMatcher();
    // Added out of order: partition order comes from x-stream-partition-order.
    m.add(bind('2', 2));
    m.add(bind('0', 0));
    m.add(bind('1', 1));
    expect(m.partitions()).to.deep.equal(['0', '1', '2']);
    const out: Binding[] = [];
    m.match('1', undefined, out);
    expect(out.map((b) => b.destination)).to.deep.equal(['orders-1']);
    for (const key of ['a', 'customer-17', 'zz', '']) {
      out.length = 0;
      m.match(key, undefined, out);
      expect(out.map((b) => b.destination)).to.deep.equal([`orders-${partitionOf(key, 3)}`]);
    }
    m.remove(bind('2', 2));
    expect(m.partitions()).to.deep.equal(['0', '1']);
    out.length = 0;
    m.match('x', undefined, out);
    expect(out.map((b) => b.destination)).to.deep.equal([`orders-${partitionOf('x', 2)}`]);
  });

  it('partition keys: numbered or given, distinct, 406 otherwise', () => {
    expect(partitionKeys('s', { partitions: 3 })).to.deep.equal(['0', '1', '2']);
    expect(partitionKeys('s', { bindingKeys: ['eu', 'us'] })).to.deep.equal(['eu', 'us']);
    for (const bad of [{}, { partitions: 0 }, { partitions: 2, bindingKeys: ['a'] }, { bindingKeys: ['a', 'a'] }])
      expect(() => partitionKeys('s', bad))
        .to.throw()
        .with.property('code', 406);
  });
});

/** Reference murmur3 x86_32 over bytes (test oracle only). */
function murmur3Bytes(data: Uint8Array, seed: number): number {
  const c1 = 0xcc9e2d51;
  const c2 = 0x1b873593;
  let h = seed >>> 0;
  const blocks = data.length >> 2;
  const mixK = (k: number): number => Math.imul(((Math.imul(k, c1) << 15) | (Math.imul(k, c1) >>> 17)) >>> 0, c2);
  for (let i = 0; i < blocks; i++) {
    const j = i * 4;
    const k = data[j]! | (data[j + 1]! << 8) | (data[j + 2]! << 16) | (data[j + 3]! << 24);
    h ^= mixK(k);
    h = (Math.imul((h << 13) | (h >>> 19), 5) + 0xe6546b64) | 0;
  }
  const tail = blocks * 4;
  let k1 = 0;
  const rest = data.length - tail;
  if (rest === 3) k1 ^= data[tail + 2]! << 16;
  if (rest >= 2) k1 ^= data[tail + 1]! << 8;
  if (rest >= 1) {
    k1 ^= data[tail]!;
    h ^= mixK(k1);
  }
  h ^= data.length;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
