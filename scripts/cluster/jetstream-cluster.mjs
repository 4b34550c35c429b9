// Starts and stops a JetStream cluster of `nats-server` processes on loopback, for people
// (scripts/cluster/local.mjs) and tests (test/helpers/jetstream-cluster.ts).
//
// Each server gets its own config file and store dir under one temp dir, and three free ports
// (client, http monitoring, cluster routes). Servers run under `setpriv --pdeathsig SIGTERM`
// (util-linux), so they get SIGTERM when the process that started them dies, even by kill -9:
// no orphaned nats-server keeps ports and CPU after a crashed test run.
import { spawn } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

const HOST = '127.0.0.1';

/** A port the OS calls free right now (listen on 0, read it, close). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen(0, HOST, () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

function configText(s, clusterName, routes) {
  // nats-server's config format; strings quoted so temp paths with odd characters survive.
  return [
    `server_name: "${s.name}"`,
    `listen: "${HOST}:${s.port}"`,
    `http: "${HOST}:${s.httpPort}"`,
    `jetstream {`,
    `  store_dir: "${s.storeDir}"`,
    `}`,
    `cluster {`,
    `  name: "${clusterName}"`,
    `  listen: "${HOST}:${s.clusterPort}"`,
    `  routes: [`,
    ...routes.map((r) => `    "nats-route://${r}"`),
    `  ]`,
    `}`,
    '',
  ].join('\n');
}

async function getJson(url, timeoutMs = 1000) {
  const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`);
  return res.json();
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * Starts `size` nats-server processes forming one JetStream cluster and waits until every
 * running server agrees on a meta leader. Returns a handle:
 * `{ dir, name, servers, urls, stop(), kill(i, signal), restart(i), waitForMetaLeader(), serverByName(n) }`.
 * Each server: `{ name, index, url, httpUrl, port, httpPort, clusterPort, configPath, storeDir,
 * pid, child, exited, output }`.
 */
export async function startJetStreamCluster(opts = {}) {
  const size = opts.size ?? 3;
  const name = opts.name ?? 'switchyard-js';
  const binary = opts.binary ?? process.env.NATS_SERVER ?? 'nats-server';
  const ownDir = opts.dir === undefined;
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'switchyard-jsc-'));
  const servers = [];
  for (let i = 0; i < size; i++) {
    const sname = `${opts.serverPrefix ?? 'n'}${i + 1}`;
    const sdir = join(dir, sname);
    mkdirSync(join(sdir, 'store'), { recursive: true });
    servers.push({
      name: sname,
      index: i,
      port: await freePort(),
      httpPort: await freePort(),
      clusterPort: await freePort(),
      configPath: join(sdir, 'nats-server.conf'),
      storeDir: join(sdir, 'store'),
      child: null,
      pid: null,
      exited: Promise.resolve(null),
      output: [],
    });
  }
  for (const s of servers) {
    s.url = `nats://${HOST}:${s.port}`;
    s.httpUrl = `http://${HOST}:${s.httpPort}`;
    const routes = servers.filter((o) => o !== s).map((o) => `${HOST}:${o.clusterPort}`);
    writeFileSync(s.configPath, configText(s, name, routes));
  }

  function launch(s) {
    const child = spawn('setpriv', ['--pdeathsig', 'SIGTERM', '--', binary, '-c', s.configPath], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    s.child = child;
    s.pid = child.pid;
    s.output = [];
    const keep = (line) => {
      s.output.push(line);
      if (s.output.length > 500) s.output.shift();
      if (opts.onLog) opts.onLog(s.name, line);
    };
    createInterface({ input: child.stdout }).on('line', keep);
    createInterface({ input: child.stderr }).on('line', keep);
    s.exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal)));
    child.once('exit', () => {
      if (s.child === child) {
        s.child = null;
        s.pid = null;
      }
    });
  }

  /** Waits until every running server answers /healthz and reports one meta leader. */
  async function waitForMetaLeader(timeoutMs = 20_000) {
    const deadline = Date.now() + timeoutMs;
    let last = 'no answer yet';
    while (Date.now() < deadline) {
      try {
        const running = servers.filter((s) => s.child);
        const jsz = await Promise.all(running.map((s) => getJson(`${s.httpUrl}/jsz`)));
        const leaders = new Set(jsz.map((j) => j.meta_cluster?.leader ?? ''));
        const [leader] = leaders;
        if (leaders.size === 1 && leader && running.some((s) => s.name === leader)) {
          await Promise.all(running.map((s) => getJson(`${s.httpUrl}/healthz?js-enabled-only=true`)));
          return leader;
        }
        last = `meta leaders seen: ${[...leaders].map((l) => l || '(none)').join(', ')}`;
      } catch (err) {
        last = err.message;
      }
      await sleep(100);
    }
    throw new Error(`JetStream cluster ${name} has no meta leader after ${timeoutMs} ms (${last})`);
  }

  async function kill(i, signal = 'SIGKILL') {
    const s = servers[i];
    if (!s.child) return;
    s.child.kill(signal);
    await s.exited;
  }

  async function stop() {
    await Promise.all(
      servers.map(async (s) => {
        if (!s.child) return;
        const timer = setTimeout(() => s.child?.kill('SIGKILL'), 5000);
        s.child.kill('SIGTERM');
        await s.exited;
        clearTimeout(timer);
      }),
    );
    if (ownDir && !opts.keepDir) rmSync(dir, { recursive: true, force: true });
  }

  try {
    servers.forEach(launch);
    await waitForMetaLeader(opts.timeoutMs ?? 20_000);
  } catch (err) {
    const tail = servers.map((s) => `--- ${s.name}\n${s.output.slice(-15).join('\n')}`).join('\n');
    await stop();
    throw new Error(`${err.message}\n${tail}`, { cause: err });
  }

  return {
    dir,
    name,
    servers,
    urls: servers.map((s) => s.url),
    waitForMetaLeader,
    kill,
    /** Starts server i again (same config, ports and store dir) after kill/exit. */
    async restart(i) {
      const s = servers[i];
      if (s.child) await kill(i, 'SIGTERM');
      launch(s);
    },
    serverByName: (n) => servers.find((s) => s.name === n),
    stop,
  };
}
