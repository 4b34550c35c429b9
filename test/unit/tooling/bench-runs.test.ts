import { expect } from 'chai';
// @ts-expect-error: plain ESM script without type declarations
import { combineRuns } from '../../../scripts/bench/runs.mjs';
// @ts-expect-error: plain ESM script without type declarations
import { defaultResultFile, fmtSpread, spread } from '../../../scripts/bench/stats.mjs';

/** One run's result of one target, as scripts/bench/run.mjs's runTarget returns it. */
const run = (n: number, workloads: Record<string, unknown>, rss = 100 + n) => ({
  target: 'switchyard',
  run: n,
  url: `ws://127.0.0.1:${5000 + n}`,
  brokerPid: 1000 + n,
  peakRssMB: rss,
  endRssMB: rss - 10,
  workloads,
});

describe('bench --runs: folding runs into median [min-max]', () => {
  it('spread gives the median (mean of the middle two for an even count), min and max, skipping non-numbers', () => {
    expect(spread([3, 1, 2])).to.deep.equal({ median: 2, min: 1, max: 3, values: [3, 1, 2] });
    expect(spread([4, 1, null, 2, undefined, 3])).to.include({ median: 2.5, min: 1, max: 4 });
    expect(spread([null, undefined])).to.equal(null);
    expect(fmtSpread(spread([1.5, 2.5, 0.5]), 2)).to.equal('1.50 [0.50-2.50]');
    expect(fmtSpread(spread([17234.5]), 0)).to.equal('17,235');
  });

  it('keeps every metric key, holding the median, with the spread and every run beside it', () => {
    const runs = [
      run(1, { W3: { metrics: { p99: 3, 'p99.9': 9, max: 12, achievedRate: 4990 }, info: { messages: 5000 } } }),
      run(2, { W3: { metrics: { p99: 1, 'p99.9': 5, max: 30, achievedRate: 5000 }, info: { messages: 5000 } } }),
      run(3, { W3: { metrics: { p99: 2, 'p99.9': 7, max: 20, achievedRate: 4995 }, info: { messages: 5000 } } }),
    ];
    const t = combineRuns(runs);
    const w3 = t.workloads.W3;
    expect(w3.metrics).to.deep.equal({ p99: 2, 'p99.9': 7, max: 20, achievedRate: 4995 });
    expect(w3.spread.max).to.deep.equal({ median: 20, min: 12, max: 30, values: [12, 30, 20] });
    expect(w3.info).to.deep.equal({ messages: 5000 });
    expect(w3.runsOk).to.equal(3);
    expect(t.runCount).to.equal(3);
    expect(t.runs).to.have.length(3);
    expect(t.peakRssMB).to.equal(102);
    expect(t.peakRssMBRange).to.deep.equal([101, 103]);
    expect(t).to.not.have.property('run');
  });

  it('takes the median over the runs that succeeded and lists the failures', () => {
    const t = combineRuns([
      run(1, { W1: { metrics: { msgsPerSec: 100 } }, W2: { error: 'stalled' } }),
      run(2, { W1: { error: 'broker exited' }, W2: { error: 'stalled again' } }),
      run(3, { W1: { metrics: { msgsPerSec: 300 } }, W2: { error: 'stalled' } }),
    ]);
    expect(t.workloads.W1.metrics.msgsPerSec).to.equal(200);
    expect(t.workloads.W1.runsOk).to.equal(2);
    expect(t.workloads.W1.runErrors).to.deep.equal(['broker exited']);
    expect(t.workloads.W2.error).to.equal('stalled');
    expect(t.workloads.W2.runErrors).to.deep.equal(['stalled', 'stalled again', 'stalled']);
  });

  it('leaves a single run in its own shape (same metrics and per-workload details, no runs list)', () => {
    const one = run(1, {
      W3: { metrics: { p50: 0.31, p99: 3.77 }, process: { cpuSeconds: 1 }, eventLoopDelayMs: { max: 4 } },
    });
    const t = combineRuns([one]);
    expect(t.workloads.W3.metrics).to.deep.equal({ p50: 0.31, p99: 3.77 });
    expect(t.workloads.W3.process).to.deep.equal({ cpuSeconds: 1 });
    expect(t.workloads.W3.eventLoopDelayMs).to.deep.equal({ max: 4 });
    expect(t).to.not.have.property('runs');
    expect(t.url).to.equal(one.url);
  });

  it('writes results under bench-results/ named by the start time, safe as a file name', () => {
    const f = defaultResultFile('/repo', new Date('2026-12-01T04:30:04.012Z'));
    expect(f).to.equal('/repo/bench-results/2026-12-01T04-30-04-012Z.json');
  });
});
