import { readFileSync } from 'node:fs';
import { totalmem } from 'node:os';

/** What the machine and the container say about memory; each is undefined when unknown. */
export interface MemoryReadings {
  /** os.totalmem(): the host's (or VM's) memory. */
  totalmem: number;
  /** process.constrainedMemory() (Node 19.6+): libuv's view of the cgroup limit. */
  constrained?: number;
  /** cgroup v2 `memory.max` of this process's cgroup: bytes, or 'max'. */
  cgroupV2?: string;
  /** cgroup v1 `memory.limit_in_bytes`. */
  cgroupV1?: string;
}

/** The memory the broker may use and where that number came from. */
export interface MemoryTotal {
  bytes: number;
  source: 'os' | 'constrainedMemory' | 'cgroup v2 memory.max' | 'cgroup v1 memory.limit_in_bytes';
}

/** Limits at or above this mean "no limit" (cgroup v1 says 2^63 rounded to pages; libuv says 2^64-1). */
const UNLIMITED = 2 ** 60;

function limitOf(value: number | string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = typeof value === 'number' ? value : /^\s*\d+\s*$/.test(value) ? Number(value) : NaN;
  return Number.isFinite(n) && n > 0 && n < UNLIMITED ? n : undefined;
}

/**
 * The smallest of the host's memory and the container's limits: inside a 700 MiB cgroup on a
 * 64 GiB host, 0.4 × os.totalmem() would never be reached before the OOM killer acts.
 * Pure, so it is unit-tested with made-up readings.
 */
export function memoryTotal(r: MemoryReadings): MemoryTotal {
  let best: MemoryTotal = { bytes: r.totalmem, source: 'os' };
  const candidates: [number | undefined, MemoryTotal['source']][] = [
    [limitOf(r.constrained), 'constrainedMemory'],
    [limitOf(r.cgroupV2), 'cgroup v2 memory.max'],
    [limitOf(r.cgroupV1), 'cgroup v1 memory.limit_in_bytes'],
  ];
  for (const [bytes, source] of candidates) if (bytes !== undefined && bytes < best.bytes) best = { bytes, source };
  return best;
}

function readText(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return undefined;
  }
}

/** This process's cgroup v2 path (`0::/path` in /proc/self/cgroup), if any. */
function cgroupV2Path(): string | undefined {
  const line = readText('/proc/self/cgroup')
    ?.split('\n')
    .find((l) => l.startsWith('0::'));
  return line?.slice(3);
}

/** Reads the host's memory and the container's limits (Linux cgroups; elsewhere only the host's). */
export function readMemoryReadings(): MemoryReadings {
  const rel = cgroupV2Path();
  const v2 =
    (rel !== undefined && rel !== '/' ? readText(`/sys/fs/cgroup${rel}/memory.max`) : undefined) ??
    readText('/sys/fs/cgroup/memory.max');
  const v1 = readText('/sys/fs/cgroup/memory/memory.limit_in_bytes');
  const constrained = typeof process.constrainedMemory === 'function' ? process.constrainedMemory() : undefined;
  return {
    totalmem: totalmem(),
    ...(constrained !== undefined ? { constrained } : {}),
    ...(v2 !== undefined ? { cgroupV2: v2 } : {}),
    ...(v1 !== undefined ? { cgroupV1: v1 } : {}),
  };
}
