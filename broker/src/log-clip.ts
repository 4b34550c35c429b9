import winston from 'winston';

/** Longest client-supplied string kept in a log field (spec/management.md §Logging). */
export const LOG_STRING_MAX = 256;
/** Error fields carry stacks, which are longer but still bounded. */
const ERROR_STRING_MAX = 4096;
const MAX_DEPTH = 4;
const MAX_ENTRIES = 32;

/** `s` cut to `max` characters plus `…(N more)`, so one hostile name cannot flood the log. */
export function clip(s: string, max = LOG_STRING_MAX): string {
  return s.length <= max ? s : `${s.slice(0, max)}…(${s.length - max} more)`;
}

/**
 * A copy of a log field with every string clipped and objects and arrays bounded in depth
 * and entries (client properties are client-built tables). Never mutates its input.
 */
export function clipValue(v: unknown, max = LOG_STRING_MAX, depth = 0): unknown {
  if (typeof v === 'string') return clip(v, max);
  if (v === null || typeof v !== 'object') return v;
  if (depth >= MAX_DEPTH) return '[…]';
  if (Array.isArray(v)) {
    const out: unknown[] = v.slice(0, MAX_ENTRIES).map((x) => clipValue(x, max, depth + 1));
    if (v.length > MAX_ENTRIES) out.push(`…(${v.length - MAX_ENTRIES} more)`);
    return out;
  }
  if (v instanceof Error) return clip(v.stack ?? v.message, ERROR_STRING_MAX);
  if (Buffer.isBuffer(v) || ArrayBuffer.isView(v)) return `[${v.byteLength} bytes]`;
  const out: Record<string, unknown> = {};
  let n = 0;
  for (const [k, x] of Object.entries(v)) {
    if (n++ === MAX_ENTRIES) {
      out['…'] = `${Object.keys(v).length - MAX_ENTRIES} more keys`;
      break;
    }
    out[clip(k, 64)] = clipValue(x, max, depth + 1);
  }
  return out;
}

/**
 * winston format clipping every field of every log line: usernames, queue names, reasons and
 * client properties come from clients, and an 8,000,000-character username must not become
 * megabytes of log. Applied once, in createLogger.
 */
export const clipFormat = winston.format((info) => {
  for (const key of Object.keys(info)) {
    if (key === 'level') continue;
    info[key] = clipValue(info[key], key === 'error' || key === 'stack' ? ERROR_STRING_MAX : LOG_STRING_MAX);
  }
  return info;
});
