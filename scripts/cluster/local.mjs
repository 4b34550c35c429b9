#!/usr/bin/env node
// `npm run cluster`: a local JetStream cluster on loopback, for people and for trying things.
import { parseArgs } from 'node:util';
import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { startJetStreamCluster } from './jetstream-cluster.mjs';

const HELP = `Usage: npm run cluster -- [--size 3] [--nodes 2] [--dir DIR] [--keep] [--verbose]

Starts a JetStream cluster of --size nats-server processes (default 3) on 127.0.0.1, each
with its own config file and store dir under a temp dir (or --dir), on free ports; waits
for the JetStream meta leader; prints the client URLs; stops everything on Ctrl-C or
SIGTERM (and the servers get SIGTERM if this process dies some other way).

  --size N     number of servers (default 3; R3 streams need at least 3)
  --dir DIR    put configs and store dirs here instead of a fresh temp dir (kept)
  --keep       keep the temp dir on exit (to look at the store or configs)
  --verbose    print the servers' own log lines
  NATS_SERVER  env: the nats-server binary (default: nats-server on PATH)

Then starts --nodes Switchyard nodes (default 2; 0 = none) against it, each
\`switchyard server --cluster <urls> --node-name sy-<i>\` on free ports with its own data
dir, and prints their client, AMQP and management URLs (the broker must be built:
npm run build). Clients may connect to any node, or to all: connect([url1, url2]).

  --nodes N    Switchyard nodes to start (default 2)`;

const { values } = parseArgs({
  options: {
    size: { type: 'string', default: '3' },
    nodes: { type: 'string', default: '2' },
    dir: { type: 'string' },
    keep: { type: 'boolean', default: false },
    verbose: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (values.help) {
  process.stdout.write(`${HELP}\n`);
  process.exit(0);
}

const cluster = await startJetStreamCluster({
  size: Number(values.size),
  dir: values.dir,
  keepDir: values.keep,
  onLog: values.verbose ? (name, line) => process.stdout.write(`[${name}] ${line}\n`) : undefined,
});
const leader = await cluster.waitForMetaLeader();
process.stdout.write(`JetStream cluster "${cluster.name}" is up (meta leader ${leader}), files in ${cluster.dir}\n`);
for (const s of cluster.servers) {
  process.stdout.write(`  ${s.name}  client ${s.url}  monitoring ${s.httpUrl}  pid ${s.pid}\n`);
}
process.stdout.write(`servers: ${cluster.urls.join(',')}\n`);
const nodes = [];
for (let i = 1; i <= Number(values.nodes); i++) nodes.push(await startNode(`sy-${i}`, cluster.urls, cluster.dir));
for (const n of nodes)
  process.stdout.write(
    `  ${n.name}  client ${n.url}  amqp ${n.amqp}  management ${n.management}  pid ${n.child.pid}\n`,
  );
if (nodes.length > 0) process.stdout.write(`nodes: ${nodes.map((n) => n.url).join(',')}\n`);
process.stdout.write('Ctrl-C stops.\n');

/** Starts one Switchyard node on free ports and waits for its `listening` log line. */
function startNode(name, servers, dir) {
  const main = fileURLToPath(new URL('../../broker/dist/cli/main.js', import.meta.url));
  const dataDir = join(dir, name);
  mkdirSync(dataDir, { recursive: true });
  const child = spawn(
    process.execPath,
    [
      main,
      'server',
      '--cluster',
      servers.join(','),
      '--node-name',
      name,
      '--port',
      '0',
      '--amqp-port',
      '0',
      '--management-port',
      '0',
      '--data-dir',
      dataDir,
      '--log-level',
      'info', // the 'listening' line is logged at info
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`${name} exited (${code}) before listening`)));
    createInterface({ input: child.stdout }).on('line', (line) => {
      if (values.verbose) process.stdout.write(`[${name}] ${line}\n`);
      if (!line.includes('"listening"')) return;
      const field = (k) => new RegExp(`"${k}":"([^"]+)"`).exec(line)?.[1];
      resolve({ name, child, url: field('url'), amqp: field('amqp'), management: field('management') });
    });
  });
}

let stopping = false;
async function shutdown(signal) {
  if (stopping) return;
  stopping = true;
  process.stdout.write(`${signal}: stopping the cluster\n`);
  await Promise.all(
    nodes.map((n) =>
      n.child.exitCode !== null ? undefined : new Promise((r) => (n.child.once('exit', r), n.child.kill('SIGTERM'))),
    ),
  );
  await cluster.stop();
  process.exit(0);
}
process.on('SIGINT', () => void shutdown('SIGINT'));
process.on('SIGTERM', () => void shutdown('SIGTERM'));
process.on('SIGHUP', () => void shutdown('SIGHUP'));
// A server that exits on its own (crash, kill -9 by hand) is reported, not restarted.
for (const s of cluster.servers) {
  void s.exited.then((code) => {
    if (!stopping) process.stdout.write(`${s.name} exited (${code})\n`);
  });
}
