import { expect } from 'chai';
import {
  type Binding,
  ConsistentHashMatcher,
  parseHashWeight,
  createMatcher,
  validateBindingArguments,
} from '@switchyard/broker/internal';

const bind = (q: string, weight = '1'): Binding => ({
  source: 'x',
  destination: q,
  destinationKind: 'queue',
  routingKey: weight,
  arguments: {},
});

function owner(
  m: ConsistentHashMatcher | ReturnType<typeof createMatcher>,
  key: string,
  headers?: Record<string, unknown>,
): string | undefined {
  const out: Binding[] = [];
  m.match(key, headers, out);
  expect(out.length).to.be.at.most(1);
  return out[0]?.destination;
}

describe('ConsistentHashMatcher', () => {
  it('sends every message to exactly one binding, the same one for the same key', () => {
    const m = createMatcher('x-consistent-hash');
    for (const q of ['a', 'b', 'c', 'd']) m.add(bind(q));
    for (let k = 0; k < 200; k++) {
      const first = owner(m, `key-${k}`);
      expect(first).to.be.a('string');
      expect(owner(m, `key-${k}`)).to.equal(first);
    }
  });

  it('spreads keys over the bindings roughly by weight', () => {
    const m = createMatcher('x-consistent-hash');
    m.add(bind('light', '10'));
    m.add(bind('heavy', '30'));
    const counts: Record<string, number> = { light: 0, heavy: 0 };
    for (let k = 0; k < 4000; k++) counts[owner(m, `order-${k}`)!]!++;
    expect(counts['heavy']! / counts['light']!).to.be.within(1.8, 5);
  });

  it('moves only a fraction of the keys when a binding is added', () => {
    const m = createMatcher('x-consistent-hash');
    for (const q of ['a', 'b', 'c']) m.add(bind(q, '20'));
    const before = Array.from({ length: 3000 }, (_, k) => owner(m, `k${k}`));
    m.add(bind('d', '20'));
    const moved = before.filter((q, k) => owner(m, `k${k}`) !== q).length;
    expect(moved / 3000).to.be.within(0.1, 0.45);
    m.remove(bind('d', '20'));
    expect(before.every((q, k) => owner(m, `k${k}`) === q)).to.equal(true);
  });

  it('hashes a header instead of the routing key with hash-header; no header routes nowhere', () => {
    const m = createMatcher('x-consistent-hash', { hashHeader: 'customer' });
    for (const q of ['a', 'b', 'c']) m.add(bind(q));
    const q1 = owner(m, 'ignored-1', { customer: 'c-42' });
    expect(owner(m, 'ignored-2', { customer: 'c-42' })).to.equal(q1);
    expect(owner(m, 'anything', {})).to.equal(undefined);
  });

  it('hashes a table-valued header by its contents, the same table to the same binding', () => {
    const m = createMatcher('x-consistent-hash', { hashHeader: 'customer' });
    for (const q of ['a', 'b', 'c']) m.add(bind(q));
    const owners = new Set<string | undefined>();
    for (let i = 0; i < 60; i++) owners.add(owner(m, 'k', { customer: { id: i, region: 'eu' } }));
    // Hashed by its default text every table would be '[object Object]', all on one binding.
    expect(owners.size).to.be.greaterThan(1);
    expect(owner(m, 'x', { customer: { region: 'eu', id: 7 } })).to.equal(
      owner(m, 'y', { customer: { id: 7, region: 'eu' } }),
    );
  });

  it('routes nowhere without bindings, and validates weights at bind time', () => {
    expect(owner(createMatcher('x-consistent-hash'), 'k')).to.equal(undefined);
    expect(parseHashWeight('5')).to.equal(5);
    for (const bad of ['0', '-1', 'abc', '', '1001', '1.5']) expect(parseHashWeight(bad), bad).to.equal(undefined);
    expect(validateBindingArguments('x-consistent-hash', {}, 'heavy')).to.match(
      /it is the weight, an integer from 1 to 1000/,
    );
    expect(validateBindingArguments('x-consistent-hash', {}, '3')).to.equal(undefined);
  });
});
