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
