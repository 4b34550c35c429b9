/**
 * Run as a child process by verifyStoreDeep (store-check.ts): opens an LMDB environment
 * read-only and reads every entry of every database, comparing the count with what LMDB's
 * own statistics say. LMDB trusts its pages, so a damaged one can abort, SIGSEGV or SIGBUS
 * the process that reads it, or silently end an iteration early: here that happens to a
 * throw-away process, and the broker reports it in one line. Prints one JSON line.
 * `node verify-store-child.js <file> [db,db,...]`: only the named databases (default all).
 */
import { open } from 'lmdb';

const DATABASES = ['meta', 'messages', 'deliveries', 'dedup'];

function main(file: string, only: string[]): { ok: true } | { ok: false; problem: string } {
  const root = open({ path: file, maxDbs: 8, readOnly: true });
  try {
    for (const name of DATABASES.filter((d) => only.length === 0 || only.includes(d))) {
      let db;
      try {
        // `create: false` is an lmdb-js option its types leave out.
        db = root.openDB({ name, encoding: 'binary', keyEncoding: 'binary', create: false } as {
          name: string;
          encoding: 'binary';
        });
      } catch {
        continue; // not created yet by the broker that wrote this store
      }
      const expected = (db.getStats() as { entryCount: number }).entryCount;
      let seen = 0;
      for (const { value } of db.getRange({ snapshot: false })) {
        seen++;
        if (value === undefined) return { ok: false, problem: `database '${name}': an entry has no value` };
      }
      if (seen !== expected)
        return { ok: false, problem: `database '${name}': ${seen} entries readable of ${expected}` };
    }
    return { ok: true };
  } catch (err) {
    return { ok: false, problem: err instanceof Error ? err.message : String(err) };
  }
}

process.stdout.write(JSON.stringify(main(process.argv[2]!, (process.argv[3] ?? '').split(',').filter(Boolean))) + '\n');
