import { expect } from 'chai';
import { createLogger } from '@switchyard/broker';
import { ResourceAlarms, memoryTotal } from '@switchyard/broker/internal';

const GiB = 1024 ** 3;
const MiB = 1024 ** 2;

describe('memory alarm limit (host memory or the container limit)', () => {
  it('uses the host memory when no container limit is set', () => {
    const unlimitedV1 = '9223372036854771712'; // cgroup v1 "no limit"
    expect(
      memoryTotal({ totalmem: 64 * GiB, constrained: 2 ** 64 - 1, cgroupV2: 'max', cgroupV1: unlimitedV1 }),
    ).to.deep.equal({ bytes: 64 * GiB, source: 'os' });
    expect(memoryTotal({ totalmem: 64 * GiB, constrained: 0 })).to.deep.equal({ bytes: 64 * GiB, source: 'os' });
  });

  it('uses process.constrainedMemory() when it is below the host memory', () => {
    expect(memoryTotal({ totalmem: 64 * GiB, constrained: 700 * MiB })).to.deep.equal({
      bytes: 700 * MiB,
      source: 'constrainedMemory',
    });
  });

  it('uses cgroup v2 memory.max, or cgroup v1 memory.limit_in_bytes, whichever is smallest', () => {
    expect(memoryTotal({ totalmem: 64 * GiB, cgroupV2: `${700 * MiB}\n` })).to.deep.equal({
      bytes: 700 * MiB,
      source: 'cgroup v2 memory.max',
    });
    expect(memoryTotal({ totalmem: 64 * GiB, cgroupV1: String(512 * MiB) })).to.deep.equal({
      bytes: 512 * MiB,
      source: 'cgroup v1 memory.limit_in_bytes',
    });
    expect(memoryTotal({ totalmem: 64 * GiB, constrained: GiB, cgroupV2: String(700 * MiB) }).bytes).to.equal(
      700 * MiB,
    );
    expect(memoryTotal({ totalmem: 64 * GiB, cgroupV2: 'garbage' }).source).to.equal('os');
  });

  it('applies a fractional watermark to the container limit: 0.4 of 700 MiB, not of the host', () => {
    const probe = {
      memoryBytes: () => 0,
      diskFreeBytes: () => Number.MAX_SAFE_INTEGER,
      memoryTotal: () => memoryTotal({ totalmem: 64 * GiB, cgroupV2: String(700 * MiB) }),
    };
    const alarms = new ResourceAlarms(0.4, 0, '.', () => undefined, createLogger({ silent: true }), probe);
    expect(alarms.memoryLimitBytes).to.equal(Math.floor(0.4 * 700 * MiB));
    expect(alarms.memoryTotal.source).to.equal('cgroup v2 memory.max');
    // an absolute watermark stays absolute
    alarms.setMemoryHighWatermark(100 * MiB);
    expect(alarms.memoryLimitBytes).to.equal(100 * MiB);
  });

  it('a reading that throws (EMFILE) keeps the last state instead of throwing out of the timer', () => {
    let fail = false;
    const probe = {
      memoryBytes: () => {
        if (fail)
          throw Object.assign(new Error('EMFILE: too many open files, uv_resident_set_memory'), { code: 'EMFILE' });
        return 10;
      },
      diskFreeBytes: () => Number.MAX_SAFE_INTEGER,
      memoryTotal: () => ({ bytes: GiB, source: 'os' as const }),
    };
    const alarms = new ResourceAlarms(5, 0, '.', () => undefined, createLogger({ silent: true }), probe);
    alarms.check();
    expect(alarms.state.memory).to.equal(true);
    fail = true;
    expect(() => alarms.check()).not.to.throw();
    expect(alarms.state.memory).to.equal(true);
  });

  it("the disk check counts every write not yet flushed, not only this turn's", () => {
    // 10 MiB free; three turns of 2 MiB each handed to the store while its commits lag.
    let unflushed = 0;
    const probe = {
      memoryBytes: () => 0,
      diskFreeBytes: () => 10 * MiB,
      memoryTotal: () => ({ bytes: GiB, source: 'os' as const }),
    };
    const alarms = new ResourceAlarms(
      GiB,
      MiB,
      '.',
      () => undefined,
      createLogger({ silent: true }),
      probe,
      () => unflushed,
    );
    alarms.check(); // as start() does
    for (let turn = 0; turn < 2; turn++) {
      unflushed += 2 * MiB;
      alarms.noteWrite(2 * MiB);
    }
    expect(alarms.state.disk, '4 MiB in flight, counted twice, leaves 2 MiB').to.equal(false);
    unflushed += 2 * MiB;
    alarms.noteWrite(2 * MiB);
    expect(alarms.state.disk, '6 MiB in flight, counted twice, is more than is free').to.equal(true);
    // The periodic check keeps it raised while they are in flight, and clears it once flushed
    // (the probe's free space stands for the file system after the flush).
    alarms.check();
    expect(alarms.state.disk).to.equal(true);
    unflushed = 0;
    alarms.check();
    expect(alarms.state.disk).to.equal(false);
  });
});
