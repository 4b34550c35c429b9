import { spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, fstatSync, openSync, readSync } from 'node:fs';
import { constants, setPriority } from 'node:os';
import { fileURLToPath } from 'node:url';

/** LMDB's magic number, the first field of each of the two meta pages (lmdb.h MDB_MAGIC). */
const MDB_MAGIC = 0xbeefc0de;
/** Data format versions of LMDB files lmdb-js reads (1: LMDB 0.9; 2: lmdb-js 2+ / LMDB 1.0). */
const MDB_VERSIONS = new Set([1, 2]);
/**
 * A meta page: page header (16 bytes in LMDB 0.9, 24 in lmdb-js's LMDB, which adds a txnid),
 * then MDB_meta: magic u32, version u32, address, mapsize, two MDB_db records of 48 bytes
 * (the first one's md_pad holds the page size), last used page, txnid.
 */
const HEADER_SIZES = [24, 16];
const OFF_PSIZE = 24;
const OFF_LAST_PG = 120;
const OFF_TXNID = 128;
const META_BYTES = OFF_TXNID + 8;

/** What to tell the operator when the store cannot be used as it is. */
const RESTORE = 'restore it from a backup, or move the data directory away to start with an empty broker';

/** Thrown when the store file is damaged: the message is the one line an operator reads. */
export class StoreDamagedError extends Error {
  constructor(file: string, problem: string, advice = RESTORE) {
    super(`message store '${file}' is damaged (${problem}): ${advice}`);
    this.name = 'StoreDamagedError';
  }
}

interface Meta {
  pageSize: number;
  lastPage: bigint;
  txnid: bigint;
}

function readMeta(buf: Buffer, at: number): Meta | string {
  for (const h of HEADER_SIZES) {
    const base = at + h;
    if (base + META_BYTES > buf.length) continue;
    if (buf.readUInt32LE(base) !== MDB_MAGIC) continue;
    const version = buf.readUInt32LE(base + 4);
    if (!MDB_VERSIONS.has(version)) return `unknown LMDB format version ${version}`;
    return {
      pageSize: buf.readUInt32LE(base + OFF_PSIZE),
      lastPage: buf.readBigUInt64LE(base + OFF_LAST_PG),
      txnid: buf.readBigUInt64LE(base + OFF_TXNID),
    };
  }
  return 'no LMDB magic number';
}

/**
 * Checks an existing LMDB file before it is mapped: LMDB trusts its file, so a truncated or
 * overwritten one faults (SIGBUS / SIGSEGV) instead of failing with an error. Verifies that
 * the file is not empty, that both meta pages carry LMDB's magic and a known version, that
 * the page size is sane, and that the file holds every page the newest meta page uses.
 * Returns without a word for a file that does not exist (a new store).
 * spec/security.md §Faults.
 */
export function checkStoreFile(file: string): void {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  try {
    const size = fstatSync(fd).size;
    if (size === 0) {
      throw new StoreDamagedError(
        file,
        'the file is empty (0 bytes), so whatever it held is lost',
        'restore it from a backup; to start an empty broker on purpose, delete the file first',
      );
    }
    const head = Buffer.alloc(Math.min(size, 2 * 65536));
    readSync(fd, head, 0, head.length, 0);
    const first = readMeta(head, 0);
    if (typeof first === 'string') throw new StoreDamagedError(file, `first meta page: ${first}`);
    const ps = first.pageSize;
    if (ps < 512 || ps > 65536 || (ps & (ps - 1)) !== 0)
      throw new StoreDamagedError(file, `implausible page size ${ps}`);
    if (size < 2 * ps)
      throw new StoreDamagedError(file, `the file is truncated: ${size} bytes is less than its two meta pages`);
    const second = readMeta(head, ps);
    if (typeof second === 'string') throw new StoreDamagedError(file, `second meta page: ${second}`);
    const newest = second.txnid > first.txnid ? second : first;
    const needed = (newest.lastPage + 1n) * BigInt(ps);
    if (BigInt(size) < needed) {
      throw new StoreDamagedError(
        file,
        `the file is truncated: ${size} bytes, but its last transaction uses ${needed}`,
      );
    }
  } finally {
    closeSync(fd);
  }
}

const CHILD = fileURLToPath(new URL('./verify-store-child.js', import.meta.url));

/** The environment's file inside the data directory (lmdb-js adds `-lock` beside it). */
export const ENV_FILE = 'switchyard.mdb';
/** The small databases the check reads before the store opens (the messages are read in the background). */
export const PRE_OPEN_DATABASES: readonly string[] = ['meta', 'deliveries', 'dedup'];

/**
 * Reads a whole existing store in a child process before the broker maps it: damage in the
 * middle of the file (a page overwritten or zeroed) makes LMDB abort, SIGSEGV or SIGBUS the
 * reader, or end a scan early with entries missing. Costs one extra read of the store at
 * start (recovery reads it all anyway); skipped for a new store.
 */
export function verifyStoreDeep(file: string, databases: readonly string[] = []): void {
  if (!existsSync(file) || !existsSync(CHILD)) return;
  const r = spawnSync(process.execPath, [CHILD, file, databases.join(',')], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  if (r.error !== undefined) return; // could not run the check (EMFILE, EAGAIN): LMDB's own checks remain
  const problem = childVerdict(file, r.signal, r.status, r.stdout, r.stderr);
  if (problem !== undefined) throw problem;
}

/**
 * The same check in the background (the broker serves meanwhile): resolves with the damage
 * found, or undefined. For the large `messages` database, whose full read would otherwise make
 * the start after an unclean stop as slow as the store is deep (spec/semantics.md §Deep backlogs).
 */
export function verifyStoreInBackground(
  file: string,
  databases: readonly string[],
): { result: Promise<StoreDamagedError | undefined>; stop: () => void } {
  // It reads the whole store while the broker serves: at the lowest CPU priority, so it does
  // not slow the first deliveries after an unclean stop on a busy machine (spec/semantics.md
  // §Deep backlogs).
  return runCheck(file, databases, true);
}

/**
 * The check of `verifyStoreDeep` without waiting for it: started before the broker's own
 * modules load, it runs while they do (pre-open-check.ts).
 */
export function verifyStoreAsync(file: string, databases: readonly string[]): Promise<StoreDamagedError | undefined> {
  return runCheck(file, databases, false).result;
}

function runCheck(
  file: string,
  databases: readonly string[],
  lowPriority: boolean,
): { result: Promise<StoreDamagedError | undefined>; stop: () => void } {
  if (!existsSync(file) || !existsSync(CHILD)) return { result: Promise.resolve(undefined), stop: () => {} };
  const child = spawn(process.execPath, [CHILD, file, databases.join(',')], { stdio: ['ignore', 'pipe', 'pipe'] });
  // nice 19: its reads run on its main thread, whose id is its pid.
  if (lowPriority && child.pid !== undefined) {
    try {
      setPriority(child.pid, constants.priority.PRIORITY_LOW);
    } catch {
      // Exited already, or renicing is not allowed here: it runs at the broker's priority.
    }
  }
  let stopped = false;
  const result = new Promise<StoreDamagedError | undefined>((resolve) => {
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', () => resolve(undefined)); // could not run it: LMDB's own checks remain
    child.on('close', (code, signal) =>
      resolve(stopped ? undefined : childVerdict(file, signal, code, stdout, stderr)),
    );
  });
  return {
    result,
    stop: () => {
      stopped = true;
      child.kill('SIGKILL');
    },
  };
}

function childVerdict(
  file: string,
  signal: NodeJS.Signals | null,
  status: number | null,
  stdout: string,
  stderr: string,
): StoreDamagedError | undefined {
  if (signal !== null) return new StoreDamagedError(file, `reading it crashed LMDB (${signal})`);
  const r = { stdout, stderr, status };
  let out: { ok: boolean; problem?: string } | undefined;
  try {
    out = JSON.parse(r.stdout.trim().split('\n').pop() ?? '') as { ok: boolean; problem?: string };
  } catch {
    out = undefined;
  }
  if (out === undefined) {
    const said = r.stderr.trim().split('\n')[0] ?? '';
    return new StoreDamagedError(file, `reading it failed${said === '' ? ` (exit code ${r.status})` : `: ${said}`}`);
  }
  return out.ok ? undefined : new StoreDamagedError(file, out.problem ?? 'unreadable');
}
