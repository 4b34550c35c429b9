// Small numeric / formatting helpers and a /proc-based process sampler (Linux).
import { readFileSync, writeFileSync, readdirSync } from 'node:fs';

/** Percentiles (nearest-rank) of a numeric array or typed array. Sorts a copy. */
export function percentiles(values, ps = [50, 90, 99, 99.9]) {
  const n = values.length;
  const out = {};
  if (n === 0) {
    for (const p of ps) out[`p${p}`] = null;
    out.max = null;
    out.min = null;
    out.mean = null;
    return out;
  }
  const sorted = Float64Array.from(values).sort();
  for (const p of ps) {
    const rank = Math.min(n - 1, Math.max(0, Math.ceil((p / 100) * n) - 1));
    out[`p${p}`] = sorted[rank];
  }
  let sum = 0;
  for (let i = 0; i < n; i++) sum += sorted[i];
  out.min = sorted[0];
  out.max = sorted[n - 1];
  out.mean = sum / n;
  return out;
}

export function round(x, digits = 0) {
  if (x === null || x === undefined || !Number.isFinite(x)) return x ?? null;
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

/** Human formatting: 17234.5 -> "17,235"; 0.8123 -> "0.81". */
export function fmt(x, digits) {
  if (x === null || x === undefined) return '-';
  if (typeof x === 'string') return x;
  if (!Number.isFinite(x)) return String(x);
  if (digits === undefined) digits = Math.abs(x) >= 100 ? 0 : Math.abs(x) >= 10 ? 1 : 2;
  return x.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

export function pad(s, w, right = false) {
  s = String(s);
  if (s.length >= w) return s;
  return right ? s.padStart(w) : s.padEnd(w);
}

/** Render rows (arrays of strings) as a fixed-width table; columns after the first two are right-aligned. */
export function table(header, rows) {
  const all = [header, ...rows];
  const widths = header.map((_, i) => Math.max(...all.map((r) => String(r[i] ?? '').length)));
  const line = (r) => r.map((c, i) => pad(c ?? '', widths[i], i >= 2)).join('  ');
  const sep = widths.map((w) => '-'.repeat(w)).join('  ');
  return [line(header), sep, ...rows.map(line)].join('\n');
}

// ---------------------------------------------------------------------------
// /proc helpers

const CLK_TCK = 100; // USER_HZ is 100 on every mainstream Linux build

function readStatus(pid) {
  try {
    return readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return null;
  }
}

function kbField(status, name) {
  const m = status && status.match(new RegExp(`^${name}:\\s+(\\d+)\\s+kB`, 'm'));
  return m ? Number(m[1]) * 1024 : null;
}

/**
 * { rss, hwm, rssAnon, rssFile } in bytes, or null if the process is gone / unreadable.
 * rssFile is mostly LMDB's memory map: page cache the kernel can reclaim, not heap.
 */
export function memOf(pid) {
  const s = readStatus(pid);
  if (!s) return null;
  return {
    rss: kbField(s, 'VmRSS'),
    hwm: kbField(s, 'VmHWM'),
    rssAnon: kbField(s, 'RssAnon'),
    rssFile: kbField(s, 'RssFile'),
  };
}

/** CPU seconds (user+system) consumed so far by pid (threads included), or null. */
export function cpuOf(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // comm may contain spaces/parens: fields start after the last ')'
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // rest[0] is field 3 (state); utime is field 14, stime field 15
    return (Number(rest[11]) + Number(rest[12])) / CLK_TCK;
  } catch {
    return null;
  }
}

/** Reset the kernel's peak-RSS counter (VmHWM) of pid. Returns true on success. */
export function resetHwm(pid) {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

/** Find pids whose /proc/<pid>/comm equals name (e.g. 'beam.smp'). */
export function pidsByComm(name) {
  const out = [];
  let entries;
  try {
    entries = readdirSync('/proc');
  } catch {
    return out;
  }
  for (const e of entries) {
    if (!/^\d+$/.test(e)) continue;
    try {
      if (readFileSync(`/proc/${e}/comm`, 'utf8').trim() === name) out.push(Number(e));
    } catch {
      /* raced with exit */
    }
  }
  return out;
}

/**
 * Samples a process's memory and CPU over one workload.
 *   const s = startProcessSampler(pid); ...; const r = s.stop();
 * r = { peakRssBytes, startRssBytes, endRssBytes, cpuSeconds, hwmResetWorked }
 * Peak is max(VmHWM after a clear_refs reset, max sampled VmRSS): exact when the reset
 * works (needs same uid or root), otherwise a 50 ms-sampled approximation, and when
 * the reset is impossible the lifetime VmHWM is reported separately.
 */
export function startProcessSampler(pid, intervalMs = 50) {
  if (!pid) return { stop: () => null };
  const hwmResetWorked = resetHwm(pid);
  const m0 = memOf(pid);
  const cpu0 = cpuOf(pid);
  let maxRss = m0?.rss ?? 0;
  const timer = setInterval(() => {
    const m = memOf(pid);
    if (m?.rss && m.rss > maxRss) maxRss = m.rss;
  }, intervalMs);
  timer.unref();
  return {
    stop() {
      clearInterval(timer);
      const m1 = memOf(pid);
      const cpu1 = cpuOf(pid);
      if (m1?.rss && m1.rss > maxRss) maxRss = m1.rss;
      const peak = hwmResetWorked && m1?.hwm ? Math.max(m1.hwm, maxRss) : maxRss;
      return {
        peakRssBytes: peak || null,
        startRssBytes: m0?.rss ?? null,
        endRssBytes: m1?.rss ?? null,
        lifetimeHwmBytes: m1?.hwm ?? null,
        cpuSeconds: cpu0 !== null && cpu1 !== null ? round(cpu1 - cpu0, 2) : null,
        hwmResetWorked,
      };
    },
  };
}

export const MB = 1024 * 1024;

/**
 * Median with min and max of the numbers in `values` (nulls, undefined and non-numbers
 * skipped): { median, min, max, values } or null when there is no number. An even count
 * takes the mean of the two middle values.
 */
export function spread(values) {
  const xs = values.filter((v) => typeof v === 'number' && Number.isFinite(v));
  if (!xs.length) return null;
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  const median = s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
  return { median, min: s[0], max: s[s.length - 1], values: xs };
}

/** "median [min-max]" when there was more than one run, else the single value. */
export function fmtSpread(sp, digits) {
  if (!sp) return '-';
  if (sp.values.length < 2) return fmt(sp.median, digits);
  return `${fmt(sp.median, digits)} [${fmt(sp.min, digits)}-${fmt(sp.max, digits)}]`;
}

/** bench-results/<ISO timestamp with ':' and '.' as '-'>.json: the default place for the result document. */
export function defaultResultFile(repoRoot, startedAt) {
  return `${repoRoot}/bench-results/${startedAt.toISOString().replace(/[:.]/g, '-')}.json`;
}
