#!/usr/bin/env node
// `npm run cluster`: a local JetStream cluster on loopback, for people and for trying things.
import { parseArgs } from 'node:util';
import { startJetStreamCluster } from './jetstream-cluster.mjs';

const HELP = `Usage: npm run cluster -- [--size 3] [--dir DIR] [--keep] [--verbose]

Starts a JetStream cluster of --size nats-server processes (default 3) on 127.0.0.1, each
with its own config file and store dir under a temp dir (or --dir), on free ports; waits
for the JetStream meta leader; prints the client URLs; stops everything on Ctrl-C or
SIGTERM (and the servers get SIGTERM if this process dies some other way).

  --size N     number of servers (default 3; R3 streams need at least 3)
  --dir DIR    put configs and store dirs here instead of a fresh temp dir (kept)
  --keep       keep the temp dir on exit (to look at the store or configs)
  --verbose    print the servers' own log lines
  NATS_SERVER  env: the nats-server binary (default: nats-server on PATH)

TODO(issue 15): also start two or three Switchyard nodes against this cluster
(\`switchyard server --cluster <urls> --node-name <n>\`) once the broker has --cluster;
today only the JetStream servers are started.`;

const { values } = parseArgs({
  options: {
    size: { type: 'string', default: '3' },
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
process.stdout.write('(Switchyard nodes: not yet, see --help)  Ctrl-C stops.\n');

let stopping = false;
async function shutdown(signal) {
  if (stopping) return;
  stopping = true;
  process.stdout.write(`${signal}: stopping the cluster\n`);
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
