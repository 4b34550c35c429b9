// Spawn a Switchyard broker as a child process on free ports, wait until it accepts
// connections, and tear it down (SIGTERM, SIGKILL after 5 s, remove the data dir).
import { execFile, spawn } from 'node:child_process';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { mkdtemp, rm } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
export const repoRoot = path.resolve(here, '..', '..');
export const brokerMain = path.join(repoRoot, 'broker', 'dist', 'cli', 'main.js');

/** Ask the kernel for a free TCP port on 127.0.0.1. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

function canConnect(port) {
  return new Promise((resolve) => {
    const s = net.connect({ port, host: '127.0.0.1' });
    const done = (ok) => {
      s.destroy();
      resolve(ok);
    };
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
    s.setTimeout(500, () => done(false));
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * Start `node broker/dist/cli/main.js server ...`.
 * Returns { url, port, pid, child, dataDir, logTail(), stop() }.
 * Options: logLevel ('warn'), dataDirParent (os.tmpdir()), startTimeoutMs (30 s),
 *          nodeArgs ([]) extra flags for the broker's node, verbose (echo broker output),
 *          amqp (false): also open the AMQP 0-9-1 listener on a free port (`--amqp-port N`;
 *          the result then has amqpPort and amqpUrl); without it the listener is turned off
 *          (`--no-amqp`, when the CLI has it), so a spawned broker never competes with a
 *          RabbitMQ on 5672.
 *          env ({}): variables added to the broker's environment.
 */
export async function spawnBroker(options = {}) {
  const {
    logLevel = 'warn',
    dataDirParent = os.tmpdir(),
    startTimeoutMs = 30_000,
    nodeArgs = [],
    env: extraEnv = {},
    verbose = false,
    main = brokerMain, // override for tests of this module
    amqp = false,
  } = options;
  if (!existsSync(main)) {
    throw new Error(`broker not built: ${path.relative(process.cwd(), main)} is missing (run \`npm run build\`)`);
  }
  const dataDir = await mkdtemp(path.join(dataDirParent, 'switchyard-bench-'));
  // First try with --log-level; if the CLI rejects that option (commander: "unknown option"),
  // retry without it and with the level in the environment instead.
  const attempts = logLevel ? [true, false] : [false];
  let lastErr;
  for (const withLogFlag of attempts) {
    try {
      const b = await startOnce({
        main,
        dataDir,
        logLevel,
        withLogFlag,
        startTimeoutMs,
        nodeArgs,
        verbose,
        amqp,
        extraEnv,
      });
      return b;
    } catch (err) {
      lastErr = err;
      if (!(withLogFlag && /unknown option|log-level/i.test(err.output || ''))) break;
    }
  }
  await rm(dataDir, { recursive: true, force: true }).catch(() => {});
  throw lastErr;
}

/** Whether `server --help` of the built CLI lists `flag` (an older build may not have it). */
const helpCache = new Map();
function cliHas(main, flag) {
  if (!helpCache.has(main))
    helpCache.set(
      main,
      new Promise((resolve) =>
        execFile(process.execPath, [main, 'server', '--help'], { timeout: 15_000 }, (_err, stdout) =>
          resolve(String(stdout ?? '')),
        ),
      ),
    );
  return helpCache.get(main).then((help) => help.includes(flag));
}

async function startOnce({ main, dataDir, logLevel, withLogFlag, startTimeoutMs, nodeArgs, verbose, amqp, extraEnv }) {
  const port = await freePort();
  let mgmtPort = await freePort();
  while (mgmtPort === port) mgmtPort = await freePort();
  let amqpPort = null;
  if (amqp) {
    if (!(await cliHas(main, '--amqp-port')))
      throw new Error('this broker build has no AMQP 0-9-1 listener (`server --amqp-port`); rebuild it');
    do amqpPort = await freePort();
    while (amqpPort === port || amqpPort === mgmtPort);
  }
  const args = [
    ...nodeArgs,
    main,
    'server',
    '--port',
    String(port),
    '--management-port',
    String(mgmtPort),
    '--amqp-port',
    '0',
    '--data-dir',
    dataDir,
  ];
  if (withLogFlag) args.push('--log-level', logLevel);
  if (amqpPort !== null) args.push('--amqp-port', String(amqpPort));
  else if (await cliHas(main, '--no-amqp')) args.push('--no-amqp');
  const env = {
    ...process.env,
    LOG_LEVEL: logLevel,
    SWITCHYARD_LOG_LEVEL: logLevel,
    NODE_ENV: 'production',
    ...extraEnv,
  };
  const child = spawn(process.execPath, args, { cwd: repoRoot, env, stdio: ['ignore', 'pipe', 'pipe'] });

  // Keep a bounded tail of the broker's output for error reports.
  let tail = '';
  let loggedUrl = null;
  const onData = (chunk) => {
    const s = chunk.toString();
    if (verbose) process.stderr.write(`[broker] ${s}`);
    tail = (tail + s).slice(-8192);
    if (!loggedUrl) {
      const m = tail.match(/ws:\/\/127\.0\.0\.1:(\d+)/);
      if (m) loggedUrl = { url: m[0], port: Number(m[1]) };
    }
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);

  let exited = null;
  const exitPromise = new Promise((resolve) => {
    child.once('exit', (code, signal) => {
      exited = { code, signal };
      resolve(exited);
    });
  });
  child.once('error', (err) => {
    exited = { code: null, signal: null, error: err };
  });

  const stop = async () => {
    if (!exited) {
      child.kill('SIGTERM');
      const t = setTimeout(() => {
        if (!exited) child.kill('SIGKILL');
      }, 5000);
      await exitPromise;
      clearTimeout(t);
    }
    await rm(dataDir, { recursive: true, force: true }).catch(() => {});
    return exited;
  };

  // Wait for readiness: the port accepts TCP connections (or a "listening" log line names a URL).
  const deadline = Date.now() + startTimeoutMs;
  let ready = false;
  while (Date.now() < deadline) {
    if (exited) break;
    const amqpReady = amqpPort === null || (await canConnect(amqpPort));
    if (amqpReady && loggedUrl && loggedUrl.port !== port && (await canConnect(loggedUrl.port))) {
      ready = true;
      break;
    }
    if (amqpReady && (await canConnect(port))) {
      ready = true;
      break;
    }
    await sleep(100);
  }
  if (!ready) {
    if (!exited) {
      child.kill('SIGKILL');
      await exitPromise;
    }
    const err = new Error(
      `Switchyard broker did not start (${exited ? `exited code=${exited.code} signal=${exited.signal}` : 'timeout'}).\n` +
        `--- broker output (tail) ---\n${tail}`,
    );
    err.output = tail;
    throw err;
  }
  const realPort = loggedUrl && loggedUrl.port !== port ? loggedUrl.port : port;
  return {
    url: `ws://127.0.0.1:${realPort}`,
    port: realPort,
    managementPort: mgmtPort,
    ...(amqpPort !== null ? { amqpPort, amqpUrl: `amqp://guest:guest@127.0.0.1:${amqpPort}` } : {}),
    pid: child.pid,
    child,
    dataDir,
    logTail: () => tail,
    exited: () => exited,
    stop,
  };
}
