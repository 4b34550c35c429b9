/** Limits of {@link LoginThrottle}. */
export interface LoginThrottleOptions {
  /** Failed logins a peer may make within `windowMs` before it is refused. Default 10. */
  maxFailures: number;
  /** The window failures are counted in, ms. Default 60,000. */
  windowMs: number;
  /** How long a peer that reached `maxFailures` is refused, ms. Default 60,000. */
  blockMs: number;
  /** Most peers remembered (oldest forgotten first), so spoofed sources cannot exhaust memory. Default 10,000. */
  maxPeers: number;
}

export const LOGIN_THROTTLE_DEFAULTS: LoginThrottleOptions = {
  maxFailures: 10,
  windowMs: 60_000,
  blockMs: 60_000,
  maxPeers: 10_000,
};

interface PeerState {
  windowStart: number;
  failures: number;
  blockedUntil: number;
}

/**
 * Failed-login throttle per peer address (spec/security.md §Users and authentication): after
 * `maxFailures` failures within `windowMs`, the peer's logins are refused without checking
 * the password for `blockMs`. Pure: time comes from `now`.
 */
export class LoginThrottle {
  private readonly peers = new Map<string, PeerState>();
  readonly options: LoginThrottleOptions;

  constructor(
    options: Partial<LoginThrottleOptions> = {},
    private readonly now: () => number = Date.now,
  ) {
    this.options = { ...LOGIN_THROTTLE_DEFAULTS, ...options };
  }

  /** 0 when the peer may try to log in; otherwise how many ms until it may. */
  retryAfterMs(peer: string): number {
    const s = this.peers.get(normalize(peer));
    if (s === undefined) return 0;
    return Math.max(0, s.blockedUntil - this.now());
  }

  /** Records a failed login; returns the ms until the peer may retry (0 if not blocked yet). */
  failed(peer: string): number {
    const key = normalize(peer);
    const now = this.now();
    let s = this.peers.get(key);
    if (s === undefined || now - s.windowStart >= this.options.windowMs) {
      s = { windowStart: now, failures: 0, blockedUntil: s?.blockedUntil ?? 0 };
    }
    this.peers.delete(key); // re-insert: Map order is then least recently failed first
    this.peers.set(key, s);
    s.failures++;
    if (s.failures >= this.options.maxFailures) {
      s.blockedUntil = now + this.options.blockMs;
      s.windowStart = now;
      s.failures = 0;
    }
    if (this.peers.size > this.options.maxPeers) this.peers.delete(this.peers.keys().next().value!);
    return Math.max(0, s.blockedUntil - now);
  }

  /** A successful login clears the peer's failures. */
  succeeded(peer: string): void {
    const key = normalize(peer);
    const s = this.peers.get(key);
    if (s !== undefined && s.blockedUntil <= this.now()) this.peers.delete(key);
  }

  get size(): number {
    return this.peers.size;
  }
}

/** `::ffff:1.2.3.4` and `1.2.3.4` are one peer. */
function normalize(peer: string): string {
  return peer.startsWith('::ffff:') ? peer.slice(7) : peer;
}

/** The refusal text for a throttled peer: what happened and when to retry. */
export function throttledMessage(peer: string, retryAfterMs: number): string {
  return `login refused: too many failed logins from ${normalize(peer)}; retry in ${Math.ceil(retryAfterMs / 1000)} s`;
}
