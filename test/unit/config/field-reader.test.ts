import { expect } from 'chai';
import {
  DefinitionsError,
  FieldReader,
  boolProblem,
  parseDefinitions,
  describe as describeValue,
  intProblem,
  stringListProblem,
} from '@switchyard/broker/internal';

class FieldError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(`${field}: ${message}`);
  }
}
const fail = (field: string, message: string) => new FieldError(field, message);
const thrown = (f: () => unknown): FieldError => {
  try {
    f();
  } catch (err) {
    return err as FieldError;
  }
  throw new Error('expected a throw');
};

describe('the one typed field reader (field-reader.ts)', () => {
  it('reads booleans, strings, integers, choices, lists and tables, with fallbacks', () => {
    const r = new FieldReader({ b: true, s: 'x', i: 7, c: 'two', l: ['a', 'b'], t: 'a, b,,c', m: { k: 1 } }, fail);
    expect(r.bool('b', false)).to.equal(true);
    expect(r.bool('missing', true)).to.equal(true);
    expect(r.string('s')).to.equal('x');
    expect(r.string('missing', 'd')).to.equal('d');
    expect(r.int('i', 0, 1, 10)).to.equal(7);
    expect(r.choice('c', ['one', 'two'], 'one')).to.equal('two');
    expect(r.list('l')).to.deep.equal(['a', 'b']);
    expect(r.list('t')).to.deep.equal(['a', 'b', 'c']); // RabbitMQ's comma-separated tags
    expect(r.list('missing')).to.deep.equal([]);
    expect(r.table('m')).to.deep.equal({ k: 1 });
    expect(r.table('missing')).to.deep.equal({});
    expect(r.has('b')).to.equal(true);
    expect(r.has('missing')).to.equal(false);
  });

  it("names the field and the value in one wording, raised the caller's way", () => {
    const r = new FieldReader({ b: 'yes', s: 5, i: 11, c: 'three', l: [1], m: [1], u: '\ud800' }, fail, {
      path: 'queues[2]',
    });
    expect(thrown(() => r.bool('b', false))).to.include({
      field: 'queues[2].b',
      message: 'queues[2].b: expected true or false, got "yes"',
    });
    expect(thrown(() => r.string('s')).message).to.equal('queues[2].s: expected a string, got 5');
    expect(thrown(() => r.string('missing')).message).to.equal('queues[2].missing: required');
    expect(thrown(() => r.int('i', 0, 1, 10)).message).to.equal(
      'queues[2].i: expected an integer from 1 to 10, got 11',
    );
    expect(thrown(() => r.choice('c', ['one', 'two'], 'one')).message).to.equal(
      'queues[2].c: expected one of "one", "two", got "three"',
    );
    expect(thrown(() => r.list('l')).message).to.equal('queues[2].l: expected a list of strings, got an array');
    expect(thrown(() => r.table('m')).message).to.equal('queues[2].m: expected a JSON object, got an array');
    expect(thrown(() => r.string('u')).message).to.match(/lone surrogate/);
    expect(
      thrown(() =>
        r.checked('s', () => {
          throw new TypeError('bad spec');
        }),
      ).message,
    ).to.equal('queues[2].s: bad spec');
  });

  it("checks field tables as the wire does, keeping the table's own message (it names the key inside)", () => {
    const r = new FieldReader({ args: { ['k'.repeat(300)]: 1 } }, fail, { path: 'queues[0]' });
    const err = thrown(() => r.table('args'));
    expect(err.field).to.equal('queues[0].args');
    // nested: the table's own message names the key inside it
    expect(err.message).to.match(
      /^queues\[0\]\.args: queues\[0\]\.args\[.+\]: key is 300 bytes of UTF-8; the limit is 255$/,
    );
    // a definitions import names it once
    const doc = { queues: [{ name: 'q', arguments: { ['k'.repeat(300)]: 1 } }] };
    const d = thrown(() => parseDefinitions(doc)) as unknown as DefinitionsError;
    expect(d).to.be.instanceOf(DefinitionsError);
    expect(d.path).to.equal('queues[0].arguments');
    expect(d.message).to.match(/^queues\[0\]\.arguments\[.+\]: key is 300 bytes of UTF-8; the limit is 255$/);
    const flat = thrown(() => new FieldReader({ args: 'x' }, fail).table('args'));
    expect(flat.message).to.equal('args: expected a JSON object, got "x"');
  });

  it("treats null as absent unless told otherwise (definitions keep RabbitMQ's shape strictly)", () => {
    expect(new FieldReader({ b: null }, fail).bool('b', true)).to.equal(true);
    expect(thrown(() => new FieldReader({ b: null }, fail, { nullIsAbsent: false }).bool('b', true)).message).to.equal(
      'b: expected true or false, got null',
    );
    expect(new FieldReader({ t: null }, fail, { nullIsAbsent: false }).table('t')).to.deep.equal({});
  });

  it('refuses unknown keys when given the allowed ones', () => {
    expect(thrown(() => new FieldReader({ auto_delete: true }, fail, { allowed: ['autoDelete'] })).message).to.equal(
      'auto_delete: unknown field; this endpoint accepts "autoDelete"',
    );
    expect(thrown(() => new FieldReader({ x: 1 }, fail, { allowed: [] })).message).to.equal(
      'x: unknown field; this endpoint accepts no fields',
    );
  });

  it('shares its problem wording with the config file checks', () => {
    expect(boolProblem(true)).to.equal(undefined);
    expect(boolProblem('true')).to.equal('expected true or false');
    expect(intProblem(3)).to.equal(undefined);
    expect(intProblem(1.5)).to.equal('expected an integer');
    expect(intProblem(0, 1, 9)).to.equal('expected an integer from 1 to 9');
    expect(stringListProblem(['a'])).to.equal(undefined);
    expect(stringListProblem('a')).to.equal('expected a list of strings');
    expect(describeValue({ a: 1 })).to.equal('an object');
    expect(describeValue('x'.repeat(50))).to.equal(`"${'x'.repeat(39)}...`);
  });
});
