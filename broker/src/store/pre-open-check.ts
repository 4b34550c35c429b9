import { join } from 'node:path';
import { staleLockIn } from './data-dir-lock.js';
import { ENV_FILE, PRE_OPEN_DATABASES, verifyStoreAsync, type StoreDamagedError } from './store-check.js';

/** The store check after an unclean stop, started early (see {@link startPreOpenCheck}). */
export interface PreOpenCheck {
  /** The data directory it checked. */
  readonly dataDir: string;
  /** The damage found, or undefined. */
  readonly result: Promise<StoreDamagedError | undefined>;
}

/**
 * After an unclean stop the small databases are read in a child process before the store is
 * opened (spec/security.md §Faults): LMDB trusts its pages, and a damaged one would crash the
 * broker that reads it. Started here, before the broker's own modules load, the child runs
 * while they do, so a start after `kill -9` takes no longer than one after a graceful stop
 * (spec/semantics.md §Deep backlogs). Undefined when the last broker stopped cleanly (its
 * lock is gone) or still runs: the broker's own start decides then, as before.
 * Imports only node built-ins and the check itself, so it costs nothing to load first.
 */
export function startPreOpenCheck(dataDir: string): PreOpenCheck | undefined {
  if (!staleLockIn(dataDir)) return undefined;
  return { dataDir, result: verifyStoreAsync(join(dataDir, ENV_FILE), PRE_OPEN_DATABASES) };
}
