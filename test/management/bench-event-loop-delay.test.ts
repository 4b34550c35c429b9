import { expect } from 'chai';
import { useBroker } from '../helpers/broker.js';
// @ts-expect-error: plain ESM script without type declarations
import { eventLoopDelayProbe } from '../../scripts/bench/event-loop-delay.mjs';

describe('bench: the broker event-loop delay per workload', () => {
  const fx = useBroker({});

  it('reads back the window since the previous reset from a real broker', async () => {
    const probe = eventLoopDelayProbe(fx.tb.broker.managementUrl!);
    expect(await probe.reset()).to.include.keys('p50', 'p99', 'p999', 'max', 'samples', 'since');
    // Node drops the first timer interval after a reset (spec/management.md §Metrics): let it pass.
    await new Promise((r) => setTimeout(r, 30));
    // What a workload that stalls the broker's loop looks like (the broker is in this process).
    const until = Date.now() + 120;
    while (Date.now() < until) {
      /* busy */
    }
    await new Promise((r) => setTimeout(r, 30));
    const window = await probe.reset();
    expect(window.max).to.be.at.least(100);
    expect(window.samples).to.be.greaterThan(0);
  });

  it('answers null (figures left out, bench goes on) when the management API refuses or is absent', async () => {
    const lines: string[] = [];
    const wrong = eventLoopDelayProbe(fx.tb.broker.managementUrl!, { syPassword: 'wrong' }, (l: string) =>
      lines.push(l),
    );
    expect(await wrong.reset()).to.equal(null);
    expect(await wrong.reset()).to.equal(null);
    expect(lines).to.have.length(1); // said once
    expect(lines[0]).to.include('HTTP 401');
    expect(await eventLoopDelayProbe('http://127.0.0.1:1').reset()).to.equal(null);
  });
});
