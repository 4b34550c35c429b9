// Preload (`node --import=.../stall-probe.mjs`) for tail-latency diagnosis: records every GC
// pause (PerformanceObserver 'gc') and every event-loop stall longer than 2 ms (a 1 ms timer
// that arrived late), both with epoch timestamps so two processes can be lined up, and for a
// stall the process CPU time used meanwhile (CPU ~ wall: the loop was busy; CPU << wall: the
// process was waiting for a core). Written as JSON to $STALL_PROBE_OUT (default
// $TMPDIR/stall-probe-<pid>.json) when the process exits. Costs ~1,000 timer wakeups a second.
import { PerformanceObserver, performance } from 'node:perf_hooks';
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const out = process.env.STALL_PROBE_OUT || path.join(os.tmpdir(), `stall-probe-${process.pid}.json`);
const T0 = performance.timeOrigin;
const gc = []; // [epochMs, durationMs, kind]
const stalls = []; // [epochMs, durationMs, cpuMs]
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) gc.push([T0 + e.startTime, e.duration, e.detail?.kind ?? 0]);
}).observe({ entryTypes: ['gc'] });
let last = performance.now();
let lastCpu = process.cpuUsage();
setInterval(() => {
  const now = performance.now();
  const cpu = process.cpuUsage();
  if (now - last > 2)
    stalls.push([T0 + last, now - last, (cpu.user + cpu.system - lastCpu.user - lastCpu.system) / 1000]);
  last = now;
  lastCpu = cpu;
}, 1).unref();
const dump = () => {
  try {
    writeFileSync(out, JSON.stringify({ pid: process.pid, gc, stalls, stages: globalThis.__stageProbe }));
  } catch {
    /* best effort */
  }
};
process.on('exit', dump);
/** Lets the host script write the file before it reads it. */
globalThis.__stallProbeDump = dump;
