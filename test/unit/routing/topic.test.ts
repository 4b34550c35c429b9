import { expect } from 'chai';
import { type Binding, type BindingMatcher, createMatcher, splitTopicKey } from '@switchyard/broker/internal';

function queueBinding(routingKey: string, queue = `q:${routingKey}`): Binding {
  return { source: 'ex', destination: queue, destinationKind: 'queue', routingKey, arguments: {} };
}

function matchKeys(m: BindingMatcher, routingKey: string): string[] {
  const out: Binding[] = [];
  m.match(routingKey, undefined, out);
  return out.map((b) => b.routingKey).sort();
}

function matches(pattern: string, routingKey: string): boolean {
  const m = createMatcher('topic');
  m.add(queueBinding(pattern));
  return matchKeys(m, routingKey).length === 1;
}

const many = (word: string, count: number): string => Array(count).fill(word).join('.');

// [binding pattern, routing key, matches?]
const CASES: ReadonlyArray<readonly [string, string, boolean]> = [
  // literal words
  ['a.b.c', 'a.b.c', true],
  ['a.b.c', 'a.b', false],
  ['a.b.c', 'a.b.c.d', false],
  ['a.b.c', 'A.b.c', false],
  ['a.b#', 'a.b#', true],
  ['a.b#', 'a.bc', false],
  ['a*', 'ab', false],
  ['a.b', 'a.*', false],
  // '*' is exactly one word
  ['a.*.c', 'a.b.c', true],
  ['a.*.c', 'a.c', false],
  ['a.*.c', 'a.b.b.c', false],
  ['*', 'a', true],
  ['*', '', false],
  ['*', '.', false],
  ['*', 'a.b', false],
  ['*.*', '.', true],
  ['a.*', 'a.', true],
  ['a.*', 'a.*', true],
  ['*.*.*', 'a..b', true],
  // '#' is zero or more words
  ['#', '', true],
  ['#', 'a', true],
  ['#', 'a.b.c', true],
  ['#', '.', true],
  ['#', '..', true],
  ['#.#', '', true],
  ['#.#', 'a', true],
  ['#.#', 'a.b', true],
  ['a.#', 'a', true],
  ['a.#', 'a.b', true],
  ['a.#', 'a.b.c', true],
  ['a.#', 'a.', true],
  ['a.#', 'b', false],
  ['a.#', '', false],
  ['#.a', 'a', true],
  ['#.a', 'x.a', true],
  ['#.a', 'x.y.a', true],
  ['#.a', 'a.x', false],
  ['a.#.b', 'a.b', true],
  ['a.#.b', 'a.x.b', true],
  ['a.#.b', 'a.x.y.b', true],
  ['a.#.b', 'a.b.x', false],
  ['a.#.b', 'a.b.b', true],
  ['a.#.b', 'a..b', true],
  ['a.#.#.b', 'a.b', true],
  ['#.b.#', 'b', true],
  ['#.b.#', 'a.b.c', true],
  ['#.b.#', 'a.c', false],
  ['*.#', '', false],
  ['*.#', 'a', true],
  ['*.#', 'a.b', true],
  ['#.*', '', false],
  ['#.*', 'a', true],
  ['*.#.*', 'a', false],
  ['*.#.*', 'a.b', true],
  ['*.#.*', 'a.b.c', true],
  // the empty key has zero words; empty words are words
  ['', '', true],
  ['', '.', false],
  ['', 'a', false],
  ['.', '.', true],
  ['.', '', false],
  ['a..b', 'a..b', true],
  ['a.*.b', 'a..b', true],
  ['a.b', 'a..b', false],
  // adversarial: many '#' against long keys must not backtrack exponentially
  ['#.#.#.#.#.a', many('b', 60), false],
  ['#.#.#.#.#.a', `${many('b', 60)}.a`, true],
  ['#.*.#.*.#.*.#.*.#.z', many('b', 200), false],
  [many('#', 30), many('x', 200), true],
  [`${many('#', 20)}.a.${many('#', 20)}.b`, `${many('x', 100)}.a.${many('y', 100)}`, false],
];

describe('TopicMatcher', () => {
  describe('#splitTopicKey', () => {
    it('gives the empty key no words and keeps empty words', () => {
      expect(splitTopicKey('')).to.deep.equal([]);
      expect(splitTopicKey('.')).to.deep.equal(['', '']);
      expect(splitTopicKey('a..b')).to.deep.equal(['a', '', 'b']);
      expect(splitTopicKey('a.')).to.deep.equal(['a', '']);
    });
  });

  describe('#match (one binding)', () => {
    const short = (text: string): string => (text.length > 40 ? `${text.slice(0, 37)}...` : text);
    for (const [pattern, key, expected] of CASES) {
      const verb = expected ? 'matches' : 'does not match';
      it(`'${short(pattern)}' ${verb} '${short(key)}' (${splitTopicKey(key).length} words)`, () => {
        expect(matches(pattern, key)).to.equal(expected);
      });
    }
  });

  describe('#match (many bindings)', () => {
    it('returns every matching binding once, through overlapping wildcards', () => {
      const m = createMatcher('topic');
      for (const p of ['#', '#.#', 'a.#', '#.c', 'a.*.c', 'a.b.c', '*.*.*', 'a.b', '#.b.#', 'x.#']) {
        m.add(queueBinding(p));
      }
      expect(matchKeys(m, 'a.b.c')).to.deep.equal(
        ['#', '#.#', '#.b.#', '#.c', '*.*.*', 'a.#', 'a.*.c', 'a.b.c'].sort(),
      );
      expect(matchKeys(m, '')).to.deep.equal(['#', '#.#']);
    });

    it('returns each of several bindings that share a pattern', () => {
      const m = createMatcher('topic');
      m.add(queueBinding('a.*', 'q1'));
      m.add(queueBinding('a.*', 'q2'));
      const out: Binding[] = [];
      m.match('a.b', undefined, out);
      expect(out.map((b) => b.destination).sort()).to.deep.equal(['q1', 'q2']);
    });

    it('appends to the output array without clearing it', () => {
      const m = createMatcher('topic');
      m.add(queueBinding('a'));
      const out: Binding[] = [queueBinding('existing')];
      m.match('a', undefined, out);
      expect(out.map((b) => b.routingKey)).to.deep.equal(['existing', 'a']);
    });
  });

  describe('#add / #remove', () => {
    it('refuses a duplicate binding and counts size', () => {
      const m = createMatcher('topic');
      expect(m.add(queueBinding('a.#', 'q'))).to.equal(true);
      expect(m.add(queueBinding('a.#', 'q'))).to.equal(false);
      expect(m.size).to.equal(1);
      expect(matchKeys(m, 'a.b')).to.deep.equal(['a.#']);
    });

    it('treats bindings that differ only in arguments as distinct', () => {
      const m = createMatcher('topic');
      expect(m.add({ ...queueBinding('a', 'q'), arguments: { k: 1 } })).to.equal(true);
      expect(m.add({ ...queueBinding('a', 'q'), arguments: { k: 2 } })).to.equal(true);
      expect(m.add({ ...queueBinding('a', 'q'), arguments: { k: 1 } })).to.equal(false);
      expect(m.size).to.equal(2);
    });

    it('removes only what exists', () => {
      const m = createMatcher('topic');
      m.add(queueBinding('a.*', 'q'));
      expect(m.remove(queueBinding('a.*', 'other'))).to.equal(false);
      expect(m.remove(queueBinding('a.*', 'q'))).to.equal(true);
      expect(m.remove(queueBinding('a.*', 'q'))).to.equal(false);
      expect(m.size).to.equal(0);
      expect(matchKeys(m, 'a.b')).to.deep.equal([]);
    });

    it('keeps sibling patterns working after pruning a removed branch', () => {
      const m = createMatcher('topic');
      m.add(queueBinding('a.b.c'));
      m.add(queueBinding('a.b'));
      m.add(queueBinding('a.#.c'));
      m.remove(queueBinding('a.b.c'));
      expect(matchKeys(m, 'a.b.c')).to.deep.equal(['a.#.c']);
      expect(matchKeys(m, 'a.b')).to.deep.equal(['a.b']);
      m.remove(queueBinding('a.#.c'));
      expect(matchKeys(m, 'a.x.c')).to.deep.equal([]);
      m.add(queueBinding('a.#.c'));
      expect(matchKeys(m, 'a.x.c')).to.deep.equal(['a.#.c']);
    });

    it('keeps "a.#" and "a.#.#" apart as bindings though they share a trie node', () => {
      const m = createMatcher('topic');
      m.add(queueBinding('a.#'));
      m.add(queueBinding('a.#.#'));
      expect(m.size).to.equal(2);
      expect(matchKeys(m, 'a.b')).to.deep.equal(['a.#', 'a.#.#']);
      m.remove(queueBinding('a.#'));
      expect(matchKeys(m, 'a')).to.deep.equal(['a.#.#']);
      m.remove(queueBinding('a.#.#'));
      expect(matchKeys(m, 'a')).to.deep.equal([]);
    });

    it('lists its bindings', () => {
      const m = createMatcher('topic');
      m.add(queueBinding('a'));
      m.add(queueBinding('#'));
      expect([...m.bindings()].map((b) => b.routingKey).sort()).to.deep.equal(['#', 'a']);
    });
  });

  describe('result cache', () => {
    it('sees a binding added after the key was cached', () => {
      const m = createMatcher('topic');
      m.add(queueBinding('a.*'));
      expect(matchKeys(m, 'a.b')).to.deep.equal(['a.*']);
      m.add(queueBinding('#'));
      expect(matchKeys(m, 'a.b')).to.deep.equal(['#', 'a.*']);
    });

    it('forgets a binding removed after the key was cached', () => {
      const m = createMatcher('topic');
      m.add(queueBinding('a.*'));
      m.add(queueBinding('a.b'));
      expect(matchKeys(m, 'a.b')).to.deep.equal(['a.*', 'a.b']);
      m.remove(queueBinding('a.b'));
      expect(matchKeys(m, 'a.b')).to.deep.equal(['a.*']);
      m.remove(queueBinding('a.*'));
      expect(matchKeys(m, 'a.b')).to.deep.equal([]);
    });

    it('invalidates a cached empty result', () => {
      const m = createMatcher('topic');
      expect(matchKeys(m, 'x.y')).to.deep.equal([]);
      m.add(queueBinding('x.#'));
      expect(matchKeys(m, 'x.y')).to.deep.equal(['x.#']);
    });

    it('does not let callers corrupt the cache through the output array', () => {
      const m = createMatcher('topic');
      m.add(queueBinding('a'));
      const out: Binding[] = [];
      m.match('a', undefined, out);
      out.length = 0;
      out.push(queueBinding('junk'));
      expect(matchKeys(m, 'a')).to.deep.equal(['a']);
    });

    it('stays correct past its size limit and with caching disabled', () => {
      for (const topicCacheSize of [2, 0]) {
        const m = createMatcher('topic', { topicCacheSize });
        m.add(queueBinding('k.*'));
        for (let round = 0; round < 3; round++) {
          for (let i = 0; i < 10; i++) expect(matchKeys(m, `k.${i}`)).to.deep.equal(['k.*']);
        }
        m.remove(queueBinding('k.*'));
        for (let i = 0; i < 10; i++) expect(matchKeys(m, `k.${i}`)).to.deep.equal([]);
      }
    });

    it('stays correct when one-off keys make it sample what it stores', () => {
      const m = createMatcher('topic', { topicCacheSize: 4 });
      m.add(queueBinding('orders.*.eu'));
      for (let i = 0; i < 200; i++) expect(matchKeys(m, `orders.${i}.eu`)).to.deep.equal(['orders.*.eu']);
      for (let round = 0; round < 40; round++) {
        expect(matchKeys(m, 'orders.hot.eu')).to.deep.equal(['orders.*.eu']);
      }
      m.add(queueBinding('orders.hot.#'));
      expect(matchKeys(m, 'orders.hot.eu')).to.deep.equal(['orders.*.eu', 'orders.hot.#']);
      m.remove(queueBinding('orders.*.eu'));
      expect(matchKeys(m, 'orders.hot.eu')).to.deep.equal(['orders.hot.#']);
      expect(matchKeys(m, 'orders.7.eu')).to.deep.equal([]);
    });

    it('rejects a bad cache size', () => {
      expect(() => createMatcher('topic', { topicCacheSize: -1 })).to.throw(RangeError);
    });
  });

  describe('against a naive reference', () => {
    /** RabbitMQ's trie_match rule, written as plain backtracking over word lists. */
    function reference(pattern: readonly string[], words: readonly string[]): boolean {
      if (pattern.length === 0) return words.length === 0;
      const [head, ...rest] = pattern;
      if (head === '#') {
        for (let skip = 0; skip <= words.length; skip++) {
          if (reference(rest, words.slice(skip))) return true;
        }
        return false;
      }
      if (words.length === 0) return false;
      return (head === '*' || head === words[0]) && reference(rest, words.slice(1));
    }

    /** mulberry32: a tiny seeded generator, so a failure reproduces. */
    function random(seed: number): () => number {
      return () => {
        seed = (seed + 0x6d2b79f5) | 0;
        let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
        t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
        return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
      };
    }

    it('agrees on 300 random patterns x 300 random keys', () => {
      const next = random(42);
      const pick = <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)]!;
      const phrase = (words: readonly string[], max: number): string =>
        Array.from({ length: Math.floor(next() * (max + 1)) }, () => pick(words)).join('.');
      const patterns = [...new Set(Array.from({ length: 300 }, () => phrase(['a', 'b', '', '*', '#', '#'], 5)))];
      const keys = Array.from({ length: 300 }, () => phrase(['a', 'b', ''], 6));
      const m = createMatcher('topic', { topicCacheSize: 64 });
      for (const p of patterns) m.add(queueBinding(p));
      const check = (live: readonly string[]): void => {
        for (const key of keys) {
          const expected = live.filter((p) => reference(splitTopicKey(p), splitTopicKey(key))).sort();
          expect(matchKeys(m, key), `key '${key}'`).to.deep.equal(expected);
        }
      };
      check(patterns);
      // Unbind every other pattern: pruning must leave the rest intact.
      const kept = patterns.filter((p, i) => i % 2 === 0 || !m.remove(queueBinding(p)));
      expect(m.size).to.equal(kept.length);
      check(kept);
    });
  });

  describe('scale', () => {
    it('matches among 20,000 bindings', () => {
      const m = createMatcher('topic');
      for (let i = 0; i < 10_000; i++) m.add(queueBinding(`orders.${i}.eu`));
      for (let i = 0; i < 10_000; i++) m.add(queueBinding(`orders.${i}.*`));
      m.add(queueBinding('orders.#'));
      expect(matchKeys(m, 'orders.4242.eu')).to.deep.equal(['orders.#', 'orders.4242.*', 'orders.4242.eu'].sort());
      expect(matchKeys(m, 'orders.4242.us')).to.deep.equal(['orders.#', 'orders.4242.*']);
      expect(matchKeys(m, 'payments.1')).to.deep.equal([]);
    });
  });
});
