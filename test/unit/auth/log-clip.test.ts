import { expect } from 'chai';
import { clip, clipValue } from '@switchyard/broker/internal';

describe('log clipping', () => {
  it('cuts long strings to 256 characters plus the count left out', () => {
    expect(clip('abc')).to.equal('abc');
    const out = clip('x'.repeat(8_000_000));
    expect(out).to.equal(`${'x'.repeat(256)}…(7999744 more)`);
  });

  it('bounds nested client properties without touching the original', () => {
    const props: Record<string, unknown> = { product: 'y'.repeat(1000), deep: { a: { b: { c: { d: 'e' } } } } };
    for (let i = 0; i < 100; i++) props[`k${i}`] = i;
    const out = clipValue(props) as Record<string, unknown>;
    expect((out['product'] as string).length).to.be.lessThan(300);
    expect(out['deep']).to.deep.equal({ a: { b: { c: '[…]' } } });
    expect(Object.keys(out)).to.have.length(33);
    expect((props['product'] as string).length).to.equal(1000);
  });
});
