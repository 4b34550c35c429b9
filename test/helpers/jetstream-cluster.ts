// Typed wrapper over scripts/cluster/jetstream-cluster.mjs (the module `npm run cluster` uses),
// so tests start the same local JetStream cluster people do.
import { execFileSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
// @ts-expect-error: plain ESM script without type declarations
import { startJetStreamCluster as start } from '../../scripts/cluster/jetstream-cluster.mjs';

/** The nats-server binary the tests run (NATS_SERVER overrides). */
export const NATS_SERVER = process.env['NATS_SERVER'] ?? 'nats-server';
/** In CI, or with REQUIRE_NATS_SERVER=1, a missing nats-server fails the suite instead of skipping it. */
const REQUIRED = process.env['REQUIRE_NATS_SERVER'] === '1' || process.env['CI'] !== undefined;

/** One nats-server of the cluster. `pid`/`child` are null while it is not running. */
export interface JetStreamServer {
  name: string;
  index: number;
  url: string;
  httpUrl: string;
  port: number;
  httpPort: number;
  clusterPort: number;
  configPath: string;
  storeDir: string;
  pid: number | null;
  child: ChildProcess | null;
  /** Resolves with the exit code or signal name of the current process. */
  exited: Promise<number | string | null>;
  /** Its last log lines, for diagnostics. */
  output: string[];
}

/** A running local JetStream cluster. */
export interface JetStreamCluster {
  dir: string;
  name: string;
  servers: JetStreamServer[];
  /** Client URLs (`nats://127.0.0.1:PORT`), one per server. */
  urls: string[];
  /** Waits until every running server agrees on one meta leader; resolves with its name. */
  waitForMetaLeader(timeoutMs?: number): Promise<string>;
  /** Sends `signal` (default SIGKILL) to server i and waits for it to exit. */
  kill(i: number, signal?: NodeJS.Signals): Promise<void>;
  /** Starts server i again, same ports and store dir. */
  restart(i: number): Promise<void>;
  serverByName(name: string): JetStreamServer | undefined;
  /** Stops every server and removes the temp dir. */
  stop(): Promise<void>;
}

export interface JetStreamClusterOptions {
  size?: number;
  name?: string;
  timeoutMs?: number;
}

export const startJetStreamCluster = start as (opts?: JetStreamClusterOptions) => Promise<JetStreamCluster>;

/**
 * Skips the suite, saying so loudly, when nats-server is not installed (unless it is required).
 * Call it first in the suite's `before` hook; `ctx` is the hook's `this`.
 */
export function skipWithoutNatsServer(ctx: Mocha.Context, what: string): void {
  try {
    execFileSync(NATS_SERVER, ['--version'], { stdio: 'ignore' });
    return;
  } catch {
    if (REQUIRED)
      throw new Error(`${NATS_SERVER} not found (REQUIRE_NATS_SERVER/CI set): apt-get install -y nats-server`);
  }
  console.warn(`\n    !!! SKIPPING ${what}: no ${NATS_SERVER}. Install it (apt-get install -y nats-server). !!!\n`);
  ctx.skip();
}
