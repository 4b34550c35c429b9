import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Short-lived login tokens for browsers: the operator's backend, which shares the broker's
 * `tokenSecret`, signs `{ sub: user, exp: seconds, vhost? }` and hands the token to the page,
 * which connects with `password: token` (username empty or the same user). Format:
 * `sy1.<base64url(JSON payload)>.<base64url(HMAC-SHA256(secret, "sy1." + payload))>`.
 */
export const TOKEN_PREFIX = 'sy1.';

export interface TokenClaims {
  /** The user the token logs in as. */
  sub: string;
  /** Expiry, seconds since the epoch. */
  exp: number;
  /** If set, the token is valid only for this vhost. */
  vhost?: string;
  /**
   * Issue time, seconds since the epoch with a fractional part (a JWT NumericDate): tokens
   * of a user issued before `switchyard token revoke <user>` are refused. Absent in tokens of
   * older brokers, which a revocation refuses too.
   */
  iat?: number;
}

function sign(secret: string, payload: string): string {
  return createHmac('sha256', secret)
    .update(TOKEN_PREFIX + payload)
    .digest('base64url');
}

/** Issues a token for `user`, valid for `ttlSeconds`. */
export function createToken(
  secret: string,
  user: string,
  ttlSeconds: number,
  vhost?: string,
  now = Date.now(),
): string {
  const claims: TokenClaims = {
    sub: user,
    exp: Math.floor(now / 1000) + ttlSeconds,
    ...(vhost !== undefined ? { vhost } : {}),
    iat: now / 1000,
  };
  const payload = Buffer.from(JSON.stringify(claims)).toString('base64url');
  return `${TOKEN_PREFIX}${payload}.${sign(secret, payload)}`;
}

/** The token's claims when its signature is valid and it has not expired; otherwise a reason. */
export function verifyToken(secret: string, token: string, now = Date.now()): TokenClaims | string {
  if (!token.startsWith(TOKEN_PREFIX)) return 'not a token';
  const [payload, signature] = token.slice(TOKEN_PREFIX.length).split('.');
  if (payload === undefined || signature === undefined) return 'malformed token';
  const expected = Buffer.from(sign(secret, payload));
  const given = Buffer.from(signature);
  if (expected.length !== given.length || !timingSafeEqual(expected, given)) return 'bad token signature';
  let claims: TokenClaims;
  try {
    claims = JSON.parse(Buffer.from(payload, 'base64url').toString()) as TokenClaims;
  } catch {
    return 'malformed token';
  }
  if (typeof claims.sub !== 'string' || typeof claims.exp !== 'number') return 'malformed token';
  if (claims.exp * 1000 <= now) return 'token expired';
  if (claims.iat !== undefined && typeof claims.iat !== 'number') return 'malformed token';
  return claims;
}

/** True when a token was issued (`claims.iat`) before the user's last revocation (ms). */
export function isTokenRevoked(claims: TokenClaims, revokedAtMs: number | undefined): boolean {
  if (revokedAtMs === undefined) return false;
  return claims.iat === undefined || Math.round(claims.iat * 1000) < revokedAtMs;
}
