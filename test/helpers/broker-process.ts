import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { closeAll, type Connection } from './client.js';
import { CLI } from './run-cli.js';
import { makeTmpDir } from './tmp.js';

export interface BrokerProcess {
  child: ChildProcess;
  url: string;
  /** The management API's base URL. */
  managementUrl?: string;
  /** The AMQP 0-9-1 URL (`amqp://127.0.0.1:PORT`), unless started with `--no-amqp`. */
  amqpUrl?: string;
  /** Lines the process printed, for diagnostics. */
  output: string[];
  /** Resolves with the exit code (or signal name) once the process has exited. */
  exited: Promise<number | string>;
}

/** How to start the process. */
export interface SpawnOptions {
  /** Start under `ulimit -n N` (through bash), to run out of file descriptors on purpose. */
  maxOpenFiles?: number;
  /**
   * Start under `ulimit -f` (through bash): no file can grow past this many bytes, so a
   * write fails with EFBIG while the file system still reports free space, as when another
   * process fills the disk between two of the broker's free-space checks. Node ignores
   * SIGXFSZ, so the write fails instead of killing the process.
   */
  maxFileBytes?: number;
  /** How long to wait for the `listening` line (default 15 s). */
  startTimeoutMs?: number;
}

function startCli(dataDir: string, extraArgs: string[], opts: SpawnOptions): ChildProcess {
  const args = [
    CLI,
    'server',
    '--port',
    '0',
    '--management-port',
    '0',
    '--amqp-port',
    '0',
    '--data-dir',
    dataDir,
    '--log-level',
    'info',
    ...extraArgs,
  ];
  const limits = [
    ...(opts.maxOpenFiles === undefined ? [] : [`ulimit -n ${opts.maxOpenFiles}`]),
    // bash counts -f in 1024-byte blocks.
    ...(opts.maxFileBytes === undefined ? [] : [`ulimit -f ${Math.ceil(opts.maxFileBytes / 1024)}`]),
  ];
  if (limits.length === 0) return spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const quoted = [process.execPath, ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  return spawn('bash', ['-c', `${limits.join(' && ')} && exec ${quoted}`], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/** Runs `switchyard server` expecting it to refuse to start: its exit code (or signal) and output. */
export async function runBrokerToExit(
  dataDir: string,
  extraArgs: string[] = [],
): Promise<{ code: number | string; stderr: string[]; stdout: string[] }> {
  const child = startCli(dataDir, extraArgs, {});
  const stdout: string[] = [];
  const stderr: string[] = [];
  createInterface({ input: child.stdout! }).on('line', (l) => stdout.push(l));
  createInterface({ input: child.stderr! }).on('line', (l) => stderr.push(l));
  const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
  const code = await new Promise<number | string>((resolve) =>
    child.once('close', (c, signal) => resolve(c ?? signal ?? 'unknown')),
  );
  clearTimeout(timer);
  return { code, stderr, stdout };
}

/** Starts `switchyard server` as a separate process and waits for its `listening` log line. */
export function spawnBroker(
  dataDir: string,
  extraArgs: string[] = [],
  opts: SpawnOptions = {},
): Promise<BrokerProcess> {
  const child = startCli(dataDir, extraArgs, opts);
  const output: string[] = [];
  const exited = new Promise<number | string>((resolve) =>
    child.once('exit', (code, signal) => resolve(code ?? signal ?? 'unknown')),
  );
  createInterface({ input: child.stderr! }).on('line', (line) => output.push(line));
  return new Promise((resolve, reject) => {
    const ms = opts.startTimeoutMs ?? 15_000;
    const timer = setTimeout(() => reject(new Error(`broker did not start in ${ms} ms:\n${output.join('\n')}`)), ms);
    createInterface({ input: child.stdout! }).on('line', (line) => {
      output.push(line);
      const m = /"url":"(ws:\/\/[^"]+)"/.exec(line);
      if (m && line.includes('"listening"')) {
        clearTimeout(timer);
        const mgmt = /"management":"(http:\/\/[^"]+)"/.exec(line)?.[1];
        const amqpUrl = /"amqp":"(amqp:\/\/[^"]+)"/.exec(line)?.[1];
        resolve({
          child,
          url: m[1]!,
          output,
          exited,
          ...(mgmt !== undefined ? { managementUrl: mgmt } : {}),
          ...(amqpUrl !== undefined ? { amqpUrl } : {}),
        });
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`broker exited (${code}) before listening:\n${output.join('\n')}`));
    });
  });
}

/** SIGKILL: no shutdown code runs, exactly like a crash. */
export async function killHard(p: BrokerProcess): Promise<void> {
  p.child.kill('SIGKILL');
  await p.exited;
}

/** A spawned broker per test, on a temporary data directory, killed and removed after the test. */
export interface BrokerProcessFixture {
  /** The current test's data directory; a restarted process reuses it. */
  readonly dir: string;
  /** The test's broker process; set it to what `spawnBroker(fx.dir)` returned. */
  proc: BrokerProcess | undefined;
  /** Connections opened by the test; closed after it. */
  readonly conns: Connection[];
}

/**
 * Registers mocha hooks: a fresh temporary data directory before each test; after it, the
 * test's connections are closed, its broker process is killed (SIGKILL, which also ends a
 * process stopped with SIGSTOP) and the directory is removed.
 */
export function useBrokerProcess(prefix: string): BrokerProcessFixture {
  let tmp: { dir: string; remove: () => Promise<void> } | undefined;
  const fixture = {
    get dir(): string {
      if (tmp === undefined) throw new Error('no data directory outside a test');
      return tmp.dir;
    },
    proc: undefined as BrokerProcess | undefined,
    conns: [] as Connection[],
  };
  beforeEach(async () => {
    tmp = await makeTmpDir(prefix);
  });
  afterEach(async () => {
    await closeAll(fixture.conns);
    if (fixture.proc) await killHard(fixture.proc);
    fixture.proc = undefined;
    await tmp?.remove();
    tmp = undefined;
  });
  return fixture;
}
