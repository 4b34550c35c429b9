import { expect } from 'chai';
import {
  LinkParameterError,
  mayForward,
  parsePolicy,
  parseUpstreamSetValue,
  parseUpstreamValue,
  policyFor,
  upstreamsOf,
} from '@switchyard/broker/internal';

const fieldOf = (f: () => unknown): string => {
  try {
    f();
  } catch (err) {
    expect(err).to.be.instanceOf(LinkParameterError);
    return (err as LinkParameterError).field;
  }
  throw new Error('not refused');
};

describe('federation parameters', () => {
  it("reads an upstream with RabbitMQ's defaults", () => {
    const d = parseUpstreamValue({ uri: 'ws://u:p@h:1/v' });
    expect(d).to.include({
      exchange: undefined,
      prefetchCount: 1000,
      maxHops: 1,
      expiresMs: undefined,
      messageTtlMs: undefined,
      ackMode: 'on-confirm',
      reconnectDelayMs: 5000,
      localUri: undefined,
    });
    expect(d.uri.vhost).to.equal('v');
    const e = parseUpstreamValue({ uri: ['ws://h'], exchange: 'up', 'max-hops': 3, expires: 60000, 'message-ttl': 0 });
    expect(e).to.include({ exchange: 'up', maxHops: 3, expiresMs: 60000, messageTtlMs: 0 });
  });

  it('refuses bad upstream values naming the field', () => {
    expect(fieldOf(() => parseUpstreamValue(null))).to.equal('value');
    expect(fieldOf(() => parseUpstreamValue({}))).to.equal('uri');
    expect(fieldOf(() => parseUpstreamValue({ uri: 'ws://h', 'max-hops': 0 }))).to.equal('max-hops');
    expect(fieldOf(() => parseUpstreamValue({ uri: 'ws://h', expires: 0 }))).to.equal('expires');
    expect(fieldOf(() => parseUpstreamValue({ uri: 'ws://h', 'ack-mode': 'x' }))).to.equal('ack-mode');
    expect(fieldOf(() => parseUpstreamValue({ uri: 'ws://h', exchange: 'x'.repeat(256) }))).to.equal('exchange');
    expect(fieldOf(() => parseUpstreamValue({ uri: 'ws://h', queue: 'q' }))).to.equal('queue');
    expect(fieldOf(() => parseUpstreamValue({ uri: 'ws://h', 'local-uri': 'http://x' }))).to.equal('local-uri');
  });

  it('reads policies and picks the matching one of highest priority', () => {
    const low = { policy: parsePolicy({ pattern: '^fed\\.', definition: { 'federation-upstream-set': 'all' } }) };
    const high = {
      policy: parsePolicy({ pattern: 'x$', priority: 5, definition: { 'federation-upstream': 'a' } }),
    };
    expect(policyFor('fed.x', [low, high])).to.equal(high);
    expect(policyFor('fed.y', [low, high])).to.equal(low);
    expect(policyFor('other', [low, high])).to.equal(undefined);
  });

  it('refuses bad policies naming the field', () => {
    const def = { 'federation-upstream-set': 'all' };
    expect(fieldOf(() => parsePolicy({ pattern: '(', definition: def }))).to.equal('pattern');
    expect(fieldOf(() => parsePolicy({ pattern: 'x'.repeat(256), definition: def }))).to.equal('pattern');
    expect(fieldOf(() => parsePolicy({ pattern: '.', definition: { 'ha-mode': 'all' } }))).to.equal(
      'definition.ha-mode',
    );
    expect(fieldOf(() => parsePolicy({ pattern: '.', definition: {} }))).to.equal('definition');
    expect(fieldOf(() => parsePolicy({ pattern: '.', definition: { 'federation-upstream-set': 1 } }))).to.equal(
      'definition.federation-upstream-set',
    );
    expect(fieldOf(() => parsePolicy({ pattern: '.', definition: { 'federation-upstream-set': '' } }))).to.equal(
      'definition.federation-upstream-set',
    );
    expect(fieldOf(() => parsePolicy({ pattern: '.', 'apply-to': 'queues', definition: def }))).to.equal('apply-to');
  });

  it('reads a named upstream set in a policy', () => {
    expect(parsePolicy({ pattern: '.', definition: { 'federation-upstream-set': 'eu' } }).upstream).to.deep.equal({
      set: 'eu',
    });
  });

  it("reads upstream sets (RabbitMQ's [{upstream, ...overrides}]) and refuses bad ones naming the field", () => {
    expect(parseUpstreamSetValue([{ upstream: 'a' }, { upstream: 'b', 'max-hops': 2 }])).to.deep.equal([
      { upstream: 'a', overrides: {} },
      { upstream: 'b', overrides: { 'max-hops': 2 } },
    ]);
    expect(parseUpstreamSetValue([])).to.deep.equal([]);
    expect(fieldOf(() => parseUpstreamSetValue({ upstream: 'a' }))).to.equal('value');
    expect(fieldOf(() => parseUpstreamSetValue(['a']))).to.equal('value');
    expect(fieldOf(() => parseUpstreamSetValue([{}]))).to.equal('value[0].upstream');
    expect(fieldOf(() => parseUpstreamSetValue([{ upstream: 'a' }, { upstream: 7 }]))).to.equal('value[1].upstream');
    expect(fieldOf(() => parseUpstreamSetValue([{ upstream: 'a' }, { upstream: 'a' }]))).to.equal('value[1].upstream');
    expect(fieldOf(() => parseUpstreamSetValue([{ upstream: 'a', 'max-hops': 0 }]))).to.equal('value[0].max-hops');
    expect(fieldOf(() => parseUpstreamSetValue([{ upstream: 'a', uri: 'http://x' }]))).to.equal('value[0].uri');
    expect(fieldOf(() => parseUpstreamSetValue([{ upstream: 'a', bogus: 1 }]))).to.equal('value[0].bogus');
    expect(fieldOf(() => parseUpstreamSetValue(JSON.parse('[{"upstream":"a","__proto__":{}}]')))).to.equal(
      'value[0].__proto__',
    );
    expect(
      fieldOf(() => parseUpstreamSetValue(Array.from({ length: 101 }, (_, i) => ({ upstream: `u${i}` })))),
    ).to.equal('value');
  });

  it("resolves a policy's upstreams: one, all, or a set with its overrides over the upstream's value", () => {
    const upstreams = new Map([
      ['a', { uri: 'ws://a', 'max-hops': 1 }],
      ['b', { uri: 'ws://b' }],
    ]);
    const sets = new Map<string, unknown>([
      ['only-b', [{ upstream: 'b', 'max-hops': 3 }]],
      ['with-missing', [{ upstream: 'gone' }, { upstream: 'a' }]],
      ['broken', 'not an array'],
    ]);
    const names = (choice: Parameters<typeof upstreamsOf>[0]): string[] =>
      upstreamsOf(choice, upstreams, sets).map((u) => u.name);
    expect(names({ name: 'a' })).to.deep.equal(['a']);
    expect(names({ name: 'gone' })).to.deep.equal([]);
    expect(names({ set: 'all' })).to.deep.equal(['a', 'b']);
    expect(upstreamsOf({ set: 'only-b' }, upstreams, sets)).to.deep.equal([
      { name: 'b', value: { uri: 'ws://b', 'max-hops': 3 } },
    ]);
    expect(upstreams.get('b')).to.deep.equal({ uri: 'ws://b' }); // the upstream's own value is left alone
    expect(upstreamsOf({ set: 'with-missing' }, upstreams, sets)).to.deep.equal([
      { name: 'a', value: { uri: 'ws://a', 'max-hops': 1 } },
    ]);
    expect(names({ set: 'no-such-set' })).to.deep.equal([]);
    expect(names({ set: 'broken' })).to.deep.equal([]);
  });

  it('matches in linear time: a catastrophic pattern on a long name answers at once', () => {
    const p = parsePolicy({ pattern: '^(a+)+$', definition: { 'federation-upstream-set': 'all' } });
    // a backtracking engine would take longer than the universe's age on this
    expect(p.pattern.test(`${'a'.repeat(255)}!`)).to.equal(false);
    expect(p.pattern.test('aaa')).to.equal(true);
  });
});

describe('federation loop check', () => {
  const from = (...names: string[]): Record<string, unknown> => ({
    'x-received-from': names.map((n) => ({ uri: 'ws://h', exchange: 'x', redelivered: false, 'cluster-name': n })),
  });
  it('forwards a message that has crossed fewer than max-hops brokers, none of them this one', () => {
    expect(mayForward(undefined, 'me', 1)).to.equal(true);
    expect(mayForward({}, 'me', 1)).to.equal(true);
    expect(mayForward(from('a'), 'me', 2)).to.equal(true);
  });
  it('drops at max-hops and when this broker is already on the path', () => {
    expect(mayForward(from('a'), 'me', 1)).to.equal(false);
    expect(mayForward(from('me'), 'me', 5)).to.equal(false);
    expect(mayForward(from('a', 'b'), 'me', 2)).to.equal(false);
  });
});
