import { expect } from 'chai';
import { type Binding, EXCHANGE_TYPES, bindingKey, createMatcher, isExchangeType } from '@switchyard/broker/internal';

const bind = (destination: string, routingKey: string, args: Binding['arguments'] = {}): Binding => ({
  source: 'x',
  destination,
  destinationKind: 'queue',
  routingKey,
  arguments: args,
});

const destinations = (type: 'direct' | 'fanout', bindings: Binding[], key: string): string[] => {
  const m = createMatcher(type);
  for (const b of bindings) m.add(b);
  const out: Binding[] = [];
  m.match(key, undefined, out);
  return out.map((b) => b.destination).sort();
};

describe('bindingKey', () => {
  it('ignores argument key order, also in nested tables', () => {
    expect(bindingKey(bind('q', 'k', { a: 1, b: { c: 2, d: 3 } }))).to.equal(
      bindingKey(bind('q', 'k', { b: { d: 3, c: 2 }, a: 1 })),
    );
  });

  it('tells apart every identity field and value kinds', () => {
    const base = bind('q', 'k', { a: 1 });
    const keys = [
      base,
      { ...base, source: 'y' },
      { ...base, destination: 'r' },
      { ...base, destinationKind: 'exchange' as const },
      { ...base, routingKey: 'k2' },
      { ...base, arguments: { a: '1' } },
      { ...base, arguments: { a: true } },
      { ...base, arguments: { a: [1] } },
      { ...base, arguments: {} },
    ].map(bindingKey);
    expect(new Set(keys).size).to.equal(keys.length);
  });

  it('cannot be fooled by separators inside names', () => {
    expect(bindingKey({ ...bind('a', 'b'), source: 'x\u0000queue' })).to.not.equal(
      bindingKey({ ...bind('a', 'b'), source: 'x' }),
    );
  });
});

describe('createMatcher', () => {
  it('knows the built-in exchange types', () => {
    expect(EXCHANGE_TYPES).to.deep.equal(['direct', 'fanout', 'topic', 'headers', 'x-consistent-hash']);
    for (const t of EXCHANGE_TYPES) expect(createMatcher(t).size).to.equal(0);
    expect(isExchangeType('topic')).to.equal(true);
    expect(isExchangeType('x-delayed')).to.equal(false);
  });

  it('throws a TypeError for an unknown type', () => {
    expect(() => createMatcher('x-custom' as never)).to.throw(TypeError, /x-custom/);
  });
});

describe('DirectMatcher', () => {
  it('matches on exact key equality only', () => {
    const bs = [bind('q1', 'a'), bind('q2', 'a'), bind('q3', 'a.b'), bind('q4', '')];
    expect(destinations('direct', bs, 'a')).to.deep.equal(['q1', 'q2']);
    expect(destinations('direct', bs, 'A')).to.deep.equal([]);
    expect(destinations('direct', bs, 'a.*')).to.deep.equal([]);
    expect(destinations('direct', bs, '')).to.deep.equal(['q4']);
  });

  it('adds, refuses duplicates and removes', () => {
    const m = createMatcher('direct');
    expect(m.add(bind('q', 'k'))).to.equal(true);
    expect(m.add(bind('q', 'k'))).to.equal(false);
    expect(m.add(bind('q', 'k', { v: 2 }))).to.equal(true);
    expect(m.size).to.equal(2);
    expect(m.remove(bind('q', 'k'))).to.equal(true);
    expect(m.remove(bind('q', 'k'))).to.equal(false);
    const out: Binding[] = [];
    m.match('k', undefined, out);
    expect(out.map((b) => b.arguments)).to.deep.equal([{ v: 2 }]);
    expect([...m.bindings()]).to.have.length(1);
  });
});

describe('FanoutMatcher', () => {
  it('matches every binding whatever the key', () => {
    const bs = [bind('q1', 'a'), bind('q2', ''), bind('q3', '#')];
    expect(destinations('fanout', bs, 'zzz')).to.deep.equal(['q1', 'q2', 'q3']);
  });

  it('reflects adds and removes made after a match', () => {
    const m = createMatcher('fanout');
    m.add(bind('q1', ''));
    const first: Binding[] = [];
    m.match('', undefined, first);
    m.add(bind('q2', ''));
    m.remove(bind('q1', ''));
    expect(m.add(bind('q2', ''))).to.equal(false);
    const second: Binding[] = [];
    m.match('', undefined, second);
    expect(second.map((b) => b.destination)).to.deep.equal(['q2']);
    expect(m.size).to.equal(1);
  });
});
