import { expect } from 'chai';
import {
  type Binding,
  type FieldTable,
  createMatcher,
  fieldValuesEqual,
  headersMatch,
  validateBindingArguments,
} from '@switchyard/broker/internal';

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);

// [case name, binding arguments, message headers, matches?]
const CASES: ReadonlyArray<readonly [string, FieldTable, FieldTable | undefined, boolean]> = [
  // x-match all (the default)
  ['all by default: every argument present and equal', { a: 1, b: 'x' }, { a: 1, b: 'x' }, true],
  ['all: extra headers do not matter', { a: 1 }, { a: 1, z: 9 }, true],
  ['all: one argument missing', { a: 1, b: 'x' }, { a: 1 }, false],
  ['all: one value differs', { a: 1, b: 'x' }, { a: 1, b: 'y' }, false],
  ['all: undefined headers are empty', { a: 1 }, undefined, false],
  ['explicit all behaves as the default', { 'x-match': 'all', a: 1 }, { a: 1 }, true],
  ['all with no arguments matches anything', {}, { q: 1 }, true],
  ['all with no arguments matches no headers', {}, undefined, true],
  ['all with only x-match matches anything', { 'x-match': 'all' }, {}, true],
  ['unknown x-match value counts as all (legacy)', { 'x-match': 'bogus', a: 1 }, { a: 1 }, true],
  ['unknown x-match value counts as all: miss', { 'x-match': 'bogus', a: 1 }, {}, false],
  // x-match any
  ['any: first argument matches', { 'x-match': 'any', a: 1, b: 2 }, { a: 1 }, true],
  ['any: second argument matches', { 'x-match': 'any', a: 1, b: 2 }, { b: 2 }, true],
  ['any: keys present, values differ', { 'x-match': 'any', a: 1, b: 2 }, { a: 2, b: 1 }, false],
  ['any: empty headers', { 'x-match': 'any', a: 1 }, {}, false],
  ['any: undefined headers', { 'x-match': 'any', a: 1 }, undefined, false],
  ['any with no arguments matches nothing', { 'x-match': 'any' }, { a: 1 }, false],
  // x- arguments
  ['all ignores x- arguments', { a: 1, 'x-foo': 'bar' }, { a: 1 }, true],
  ['all with only x- arguments matches anything', { 'x-foo': 'bar' }, {}, true],
  ['any ignores x- arguments', { 'x-match': 'any', 'x-foo': 'bar' }, { 'x-foo': 'bar' }, false],
  ['the x- prefix is case-sensitive', { 'X-Foo': 1 }, {}, false],
  ['all-with-x compares x- arguments: miss', { 'x-match': 'all-with-x', 'x-foo': 'bar', a: 1 }, { a: 1 }, false],
  [
    'all-with-x compares x- arguments: hit',
    { 'x-match': 'all-with-x', 'x-foo': 'bar', a: 1 },
    { a: 1, 'x-foo': 'bar' },
    true,
  ],
  ['any-with-x: an x- argument alone matches', { 'x-match': 'any-with-x', 'x-foo': 'bar' }, { 'x-foo': 'bar' }, true],
  ['any-with-x: x- value differs', { 'x-match': 'any-with-x', 'x-foo': 'bar' }, { 'x-foo': 'baz' }, false],
  ['all-with-x never compares x-match itself', { 'x-match': 'all-with-x' }, {}, true],
  ['any-with-x never compares x-match itself', { 'x-match': 'any-with-x' }, { 'x-match': 'any-with-x' }, false],
  // presence-only (void) arguments
  ['null argument: header present with any value', { a: null }, { a: 'anything' }, true],
  ['undefined argument: header present with any value', { a: undefined }, { a: 0 }, true],
  ['null argument: header present with a void value', { a: null }, { a: null }, true],
  ['null argument: header absent', { a: null }, {}, false],
  ['any: presence-only argument matches', { 'x-match': 'any', a: null, b: 1 }, { a: 5 }, true],
  ['all: presence plus value', { a: null, b: 1 }, { a: false, b: 1 }, true],
  // value types
  ['number does not equal its string', { a: 1 }, { a: '1' }, false],
  ['string does not equal its number', { a: '1' }, { a: 1 }, false],
  ['integer equals the same float', { a: 1 }, { a: 1.0 }, true],
  ['number equals the same bigint', { a: 1 }, { a: 1n }, true],
  ['bigint equals the same number', { a: 2n ** 40n }, { a: 2 ** 40 }, true],
  ['fraction never equals a bigint', { a: 1.5 }, { a: 1n }, false],
  ['zero equals negative zero', { a: 0 }, { a: -0 }, true],
  ['NaN equals nothing', { a: Number.NaN }, { a: Number.NaN }, false],
  ['true does not equal 1', { a: true }, { a: 1 }, false],
  ['booleans compare', { a: true }, { a: true }, true],
  ['false does not equal "false"', { a: false }, { a: 'false' }, false],
  ['a value does not match a void header', { a: 'x' }, { a: null }, false],
  ['a value does not match an undefined header', { a: 1 }, { a: undefined }, false],
  ['strings are case-sensitive', { a: 'Eu' }, { a: 'eu' }, false],
  ['empty string equals empty string', { a: '' }, { a: '' }, true],
  ['string equals its UTF-8 bytes', { a: 'abc' }, { a: bytes('abc') }, true],
  ['bytes equal the same string', { a: bytes('é') }, { a: 'é' }, true],
  ['bytes compare byte by byte', { a: new Uint8Array([1, 2]) }, { a: new Uint8Array([1, 2]) }, true],
  ['different bytes', { a: new Uint8Array([1, 2]) }, { a: new Uint8Array([1, 3]) }, false],
  ['dates compare by time', { a: new Date(5000) }, { a: new Date(5000) }, true],
  ['different dates', { a: new Date(5000) }, { a: new Date(6000) }, false],
  // nested tables and arrays
  ['nested tables in any key order', { a: { x: 1, y: [1, 2] } }, { a: { y: [1, 2], x: 1 } }, true],
  ['nested arrays are ordered', { a: { x: 1, y: [1, 2] } }, { a: { x: 1, y: [2, 1] } }, false],
  ['nested table with a missing key', { a: { x: 1, y: 2 } }, { a: { x: 1 } }, false],
  ['nested table with an extra key', { a: { x: 1 } }, { a: { x: 1, y: 2 } }, false],
  ['array elements follow the scalar rules', { a: [1, '2'] }, { a: [1, 2] }, false],
  ['array elements: number and bigint', { a: [1, 2] }, { a: [1n, 2] }, true],
  ['empty tables are equal', { a: {} }, { a: {} }, true],
  ['an array is not a table', { a: [] }, { a: {} }, false],
  ['a table is not a string', { a: { x: 1 } }, { a: '[object Object]' }, false],
];

describe('HeadersMatcher', () => {
  describe('#headersMatch', () => {
    for (const [name, args, headers, expected] of CASES) {
      it(name, () => {
        expect(headersMatch(args, headers)).to.equal(expected);
      });
    }
  });

  describe('#fieldValuesEqual', () => {
    it('is symmetric on the table cases', () => {
      for (const [, args, headers] of CASES) {
        if (headers === undefined) continue;
        for (const key of Object.keys(args)) {
          if (!Object.hasOwn(headers, key)) continue;
          expect(fieldValuesEqual(args[key], headers[key]), key).to.equal(fieldValuesEqual(headers[key], args[key]));
        }
      }
    });

    it('treats null and undefined as the same void inside tables', () => {
      expect(fieldValuesEqual({ a: null }, { a: undefined })).to.equal(true);
      expect(fieldValuesEqual({ a: null }, {})).to.equal(false);
    });
  });

  describe('matcher', () => {
    const bind = (destination: string, args: FieldTable): Binding => ({
      source: 'hx',
      destination,
      destinationKind: 'queue',
      routingKey: '',
      arguments: args,
    });
    const destinations = (headers: FieldTable | undefined, m = build()): string[] => {
      const out: Binding[] = [];
      m.match('ignored', headers, out);
      return out.map((b) => b.destination).sort();
    };
    function build() {
      const m = createMatcher('headers');
      m.add(bind('eu-orders', { 'x-match': 'all', region: 'eu', type: 'order' }));
      m.add(bind('eu-or-vip', { 'x-match': 'any', region: 'eu', vip: true }));
      m.add(bind('everything', {}));
      m.add(bind('traced', { trace: null }));
      return m;
    }

    it('returns every matching binding and ignores the routing key', () => {
      expect(destinations({ region: 'eu', type: 'order' })).to.deep.equal(['eu-or-vip', 'eu-orders', 'everything']);
      expect(destinations({ vip: true, trace: 1 })).to.deep.equal(['eu-or-vip', 'everything', 'traced']);
      expect(destinations(undefined)).to.deep.equal(['everything']);
    });

    it('treats the same arguments in another key order as a duplicate', () => {
      const m = createMatcher('headers');
      expect(m.add(bind('q', { a: 1, 'x-match': 'any' }))).to.equal(true);
      expect(m.add(bind('q', { 'x-match': 'any', a: 1 }))).to.equal(false);
      expect(m.add(bind('q', { 'x-match': 'any', a: '1' }))).to.equal(true);
      expect(m.size).to.equal(2);
    });

    it('removes bindings by identity and keeps the rest matching', () => {
      const m = build();
      expect(m.remove(bind('eu-orders', { type: 'order', region: 'eu', 'x-match': 'all' }))).to.equal(true);
      expect(m.remove(bind('eu-orders', { type: 'order', region: 'eu', 'x-match': 'all' }))).to.equal(false);
      expect(m.remove(bind('everything', { a: 1 }))).to.equal(false);
      expect(m.size).to.equal(3);
      expect(destinations({ region: 'eu', type: 'order', trace: 'on' }, m)).to.deep.equal([
        'eu-or-vip',
        'everything',
        'traced',
      ]);
      expect([...m.bindings()].map((b) => b.destination).sort()).to.deep.equal(['eu-or-vip', 'everything', 'traced']);
    });
  });

  describe('#validateBindingArguments', () => {
    it('accepts the four modes and an absent x-match', () => {
      for (const mode of ['all', 'any', 'all-with-x', 'any-with-x']) {
        expect(validateBindingArguments('headers', { 'x-match': mode })).to.equal(undefined);
      }
      expect(validateBindingArguments('headers', { a: 1 })).to.equal(undefined);
      expect(validateBindingArguments('headers', undefined)).to.equal(undefined);
    });

    it('refuses other values and types, like RabbitMQ', () => {
      expect(validateBindingArguments('headers', { 'x-match': 'none' })).to.match(/x-match/);
      expect(validateBindingArguments('headers', { 'x-match': 'ALL' })).to.match(/x-match/);
      expect(validateBindingArguments('headers', { 'x-match': 1 })).to.match(/type/);
    });

    it('does not constrain other exchange types', () => {
      expect(validateBindingArguments('topic', { 'x-match': 'none' })).to.equal(undefined);
    });
  });
});
