// Folding several runs of the bench into one result (pure). See scripts/bench/README.md §Several runs.
import { round, spread } from './stats.mjs';

/**
 * One target's runs folded into one result of the single-run shape: every numeric metric is
 * the median over the runs that did not fail, `spread[key]` = { median, min, max, values };
 * with more than one run, `runs` keeps each run's own result (per-run process samples and
 * event-loop windows live there).
 */
export function combineRuns(perRun) {
  const [first] = perRun;
  const several = perRun.length > 1;
  const out = { ...first, workloads: {} };
  delete out.run;
  out.runCount = perRun.length;
  const allErr = perRun.every((t) => t.error);
  if (!allErr) delete out.error;
  const names = [...new Set(perRun.flatMap((t) => Object.keys(t.workloads)))];
  for (const w of names) {
    const rs = perRun.map((t) => t.workloads[w]).filter(Boolean);
    const ok = rs.filter((r) => !r.error);
    const errors = rs.filter((r) => r.error).map((r) => r.error);
    if (!ok.length) {
      out.workloads[w] = several ? { ...rs[0], runErrors: errors } : rs[0];
      continue;
    }
    const metrics = {};
    const sp = {};
    for (const k of new Set(ok.flatMap((r) => Object.keys(r.metrics ?? {})))) {
      const x = spread(ok.map((r) => r.metrics?.[k]));
      if (x) {
        metrics[k] = round(x.median, 3);
        sp[k] = { ...x, median: metrics[k] };
      } else metrics[k] = ok[0].metrics[k];
    }
    const entry = { ...ok[0], metrics, spread: sp, runsOk: ok.length };
    if (several) {
      delete entry.process;
      delete entry.eventLoopDelayMs;
    }
    if (errors.length) entry.runErrors = errors;
    out.workloads[w] = entry;
  }
  for (const k of ['peakRssMB', 'endRssMB']) {
    const x = spread(perRun.map((t) => t[k]));
    out[k] = x ? round(x.median, 1) : null;
    if (several && x) out[`${k}Range`] = [x.min, x.max];
  }
  if (several) out.runs = perRun;
  return out;
}
