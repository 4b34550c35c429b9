import { readFileSync, readlinkSync, realpathSync, symlinkSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The lock inside the data directory: a symbolic link whose target reads `<pid>:<start time>`
 * (`readlink data/switchyard.pid`). A symlink, not a regular file, because creating it is
 * atomic and needs no data block, so a broker can still start on a full disk (as Firefox's
 * and Emacs's lock links).
 */
export const PID_FILE = 'switchyard.pid';

/** Data directories held by this process (two brokers in one process share a pid). */
const heldHere = new Set<string>();

interface Holder {
  pid: number;
  /** Kernel start time of the holder (Linux /proc/<pid>/stat field 22), to tell a reused pid. */
  startTime?: string;
}

/** Fields 3 and on of /proc/<pid>/stat (Linux), or undefined elsewhere or when it is gone. */
function procStat(pid: number): string[] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses: count fields after the last ')'.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

/** The process's start time as the kernel records it (field 22), or undefined off Linux. */
function startTimeOf(pid: number): string | undefined {
  return procStat(pid)?.[19];
}

function isAlive(holder: Holder): boolean {
  if (holder.pid === process.pid) return false; // ours from a previous life (same pid in a new container); in-process holders are in heldHere
  try {
    process.kill(holder.pid, 0);
  } catch (err) {
    // EPERM: it exists but belongs to another user — alive.
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  const stat = procStat(holder.pid);
  if (stat?.[0] === 'Z') return false; // killed, not yet reaped by its parent
  const now = stat?.[19];
  return holder.startTime === undefined || now === undefined || now === holder.startTime;
}

function readHolder(file: string): Holder | undefined {
  try {
    const m = /^(\d+):(\d*)$/.exec(readlinkSync(file));
    if (m === null) return undefined;
    return { pid: Number(m[1]), ...(m[2] !== '' ? { startTime: m[2]! } : {}) };
  } catch {
    return undefined;
  }
}

/**
 * Whether the data directory's lock was left behind by a broker that is gone (killed): what
 * `DataDirLock.acquire` would call unclean. Only a look: the lock is not taken.
 */
export function staleLockIn(dataDir: string): boolean {
  const holder = readHolder(join(dataDir, PID_FILE));
  return holder !== undefined && !isAlive(holder);
}

/** Thrown when another live broker holds the data directory. */
export class DataDirLockedError extends Error {
  constructor(
    readonly dataDir: string,
    readonly holderPid: number,
  ) {
    super(
      `data directory '${dataDir}' is in use by another broker (pid ${holderPid}${holderPid === process.pid ? ', this process' : ''}): ` +
        `stop it first, or give this broker its own --data-dir`,
    );
    this.name = 'DataDirLockedError';
  }
}

/**
 * An exclusive hold on a data directory: a lock link created with symlink(2), which is
 * atomic (of two brokers starting at once, exactly one creates it). A lock whose process is gone
 * — a broker killed with SIGKILL — is stale and taken over; the holder's kernel start time
 * tells a live holder from an unrelated process that got the same pid later.
 * LMDB itself lets several processes share an environment, so without this two brokers
 * would both recover and deliver the same messages (spec/security.md §Faults).
 */
export class DataDirLock {
  private released = false;

  private constructor(
    private readonly file: string,
    private readonly key: string,
    /**
     * The last broker on this directory did not stop cleanly (its lock was left behind and
     * taken over): what it wrote last may need checking (spec/security.md §Faults).
     */
    readonly unclean: boolean,
  ) {}

  /** Takes the lock or throws {@link DataDirLockedError} naming the holder's pid. */
  static acquire(dataDir: string): DataDirLock {
    const key = realpathSync(dataDir);
    const file = join(dataDir, PID_FILE);
    if (heldHere.has(key)) throw new DataDirLockedError(dataDir, process.pid);
    const me = `${process.pid}:${startTimeOf(process.pid) ?? ''}`;
    let unclean = false;
    for (let attempt = 0; ; attempt++) {
      try {
        symlinkSync(me, file);
        break;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || attempt >= 3) throw err;
      }
      const holder = readHolder(file);
      if (holder !== undefined && isAlive(holder)) throw new DataDirLockedError(dataDir, holder.pid);
      // Stale (its broker was killed) or not ours to read: take it over.
      unclean = true;
      try {
        unlinkSync(file);
      } catch {
        /* another starter removed it first; try again */
      }
    }
    heldHere.add(key);
    return new DataDirLock(file, key, unclean);
  }

  /** Removes the lock link (only if it is still ours). Idempotent. */
  release(): void {
    if (this.released) return;
    this.released = true;
    heldHere.delete(this.key);
    if (readHolder(this.file)?.pid === process.pid) {
      try {
        unlinkSync(this.file);
      } catch {
        /* gone already */
      }
    }
  }
}
