import { createHash, randomBytes, scrypt, timingSafeEqual } from 'node:crypto';

/** scrypt cost parameters; stored with each hash so they can be raised later. */
const N = 16384;
const R = 8;
const P = 1;
const KEY_BYTES = 32;

function scryptAsync(password: string, salt: Buffer, n: number, r: number, p: number): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    scrypt(password, salt, KEY_BYTES, { N: n, r, p, maxmem: 128 * n * r * 2 }, (err, key) =>
      err ? reject(err) : resolve(key),
    ),
  );
}

/** Hashes a password as `scrypt$N$r$p$salt$hash` (base64url), off the event loop. */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await scryptAsync(password, salt, N, R, P);
  return ['scrypt', N, R, P, salt.toString('base64url'), key.toString('base64url')].join('$');
}

/** Checks a password against a stored hash in constant time; false for a malformed hash. */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const rabbit = /^rabbit_(sha256|sha512)\$(.*)$/.exec(stored);
  if (rabbit !== null) return verifyRabbitHash(password, rabbit[1] as 'sha256' | 'sha512', rabbit[2]!);
  const parts = stored.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return false;
  const [n, r, p] = [Number(parts[1]), Number(parts[2]), Number(parts[3])];
  const salt = Buffer.from(parts[4]!, 'base64url');
  const expected = Buffer.from(parts[5]!, 'base64url');
  const key = await scryptAsync(password, salt, n, r, p);
  return key.length === expected.length && timingSafeEqual(key, expected);
}

/**
 * Password hashes in definitions files (spec/management.md §Definitions), as RabbitMQ writes
 * them: `password_hash` plus `hashing_algorithm`. Ours export as
 * `switchyard_password_hashing_scrypt` with the stored string; RabbitMQ's salted SHA-256 and
 * SHA-512 hashes (base64 of a 4-byte salt and the digest of salt + password) import as they
 * are, so users moved from RabbitMQ keep their passwords.
 */
export const HASHING_ALGORITHMS = {
  switchyard_password_hashing_scrypt: 'scrypt',
  rabbit_password_hashing_sha256: 'sha256',
  rabbit_password_hashing_sha512: 'sha512',
} as const;
export type HashingAlgorithm = keyof typeof HASHING_ALGORITHMS;

const RABBIT_DIGEST_BYTES = { sha256: 32, sha512: 64 } as const;

/** Our stored form of a definitions-file hash; throws TypeError saying what is wrong. */
export function storedHashOf(algorithm: string, hash: string): string {
  const kind = HASHING_ALGORITHMS[algorithm as HashingAlgorithm];
  if (kind === undefined)
    throw new TypeError(
      `unsupported hashing_algorithm ${JSON.stringify(algorithm)}; expected one of ${Object.keys(HASHING_ALGORITHMS).join(', ')}`,
    );
  if (kind === 'scrypt') {
    if (!/^scrypt\$\d+\$\d+\$\d+\$[A-Za-z0-9_-]+\$[A-Za-z0-9_-]+$/.test(hash))
      throw new TypeError('not a scrypt$N$r$p$salt$hash string');
    return hash;
  }
  const raw = Buffer.from(hash, 'base64');
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(hash) || raw.length !== 4 + RABBIT_DIGEST_BYTES[kind])
    throw new TypeError(`not a RabbitMQ ${kind} hash (base64 of a 4-byte salt and the digest)`);
  return `rabbit_${kind}$${hash}`;
}

/** A stored hash as a definitions file carries it. */
export function exportedHashOf(stored: string): { password_hash: string; hashing_algorithm: HashingAlgorithm } {
  const rabbit = /^rabbit_(sha256|sha512)\$(.*)$/.exec(stored);
  if (rabbit !== null)
    return {
      password_hash: rabbit[2]!,
      hashing_algorithm: `rabbit_password_hashing_${rabbit[1] as 'sha256' | 'sha512'}`,
    };
  return { password_hash: stored, hashing_algorithm: 'switchyard_password_hashing_scrypt' };
}

function verifyRabbitHash(password: string, kind: 'sha256' | 'sha512', encoded: string): boolean {
  const raw = Buffer.from(encoded, 'base64');
  if (raw.length !== 4 + RABBIT_DIGEST_BYTES[kind]) return false;
  const digest = createHash(kind).update(raw.subarray(0, 4)).update(password, 'utf8').digest();
  return timingSafeEqual(digest, raw.subarray(4));
}
