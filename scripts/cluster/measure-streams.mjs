#!/usr/bin/env node
// What a stream per queue costs (issue 15, "stream per queue vs sharded streams"): the time to
// create one R3 WorkQueue file stream plus its durable pull consumer, and the idle CPU of the
// whole cluster (all servers, from /proc) holding 0, then N1, N2 ... such pairs.
//
// --layout sharded instead puts the queues on --shards R3 WorkQueue streams and gives each
// queue only its own filtered durable pull consumer (--consumer-replicas 3, or 1: a consumer
// that is not a Raft group of its own).
//
//   node scripts/cluster/measure-streams.mjs [--counts 0,100,1000] [--concurrency 8]
//        [--idle-seconds 10] [--layout stream-per-queue|sharded] [--shards 8]
//        [--consumer-replicas 3] [--json]
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { connect } from '@nats-io/transport-node';
import { AckPolicy, jetstreamManager, RetentionPolicy, StorageType } from '@nats-io/jetstream';
import { startJetStreamCluster } from './jetstream-cluster.mjs';
import { createWorkQueue } from '../bench/jetstream-w1.mjs';
import { cpuOf, percentiles } from '../bench/stats.mjs';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const { values } = parseArgs({
  options: {
    counts: { type: 'string', default: '0,100,1000' },
    concurrency: { type: 'string', default: '8' },
    'idle-seconds': { type: 'string', default: '10' },
    'max-minutes': { type: 'string', default: '20' },
    layout: { type: 'string', default: 'stream-per-queue' },
    shards: { type: 'string', default: '8' },
    'consumer-replicas': { type: 'string', default: '3' },
    json: { type: 'boolean', default: false },
  },
});
const sharded = values.layout === 'sharded';
const shards = Number(values.shards);
const consumerReplicas = Number(values['consumer-replicas']);
const counts = values.counts.split(',').map(Number);
const concurrency = Number(values.concurrency);
const idleMs = Number(values['idle-seconds']) * 1000;
const stopAt = Date.now() + Number(values['max-minutes']) * 60_000;
const log = (s) => process.stderr.write(`${s}\n`);

const cluster = await startJetStreamCluster();
const report = {
  servers: cluster.servers.length,
  layout: sharded ? { sharded: true, shards, consumerReplicas } : { sharded: false },
  concurrency,
  single: [],
  batches: [],
  idle: [],
};
try {
  const nc = await connect({ servers: cluster.urls, timeout: 20_000 });
  const jsm = await jetstreamManager(nc, { timeout: 30_000 });

  /** Cluster CPU (all servers) as a % of one core, over ms of doing nothing. */
  async function idleCpu(ms) {
    const pids = cluster.servers.map((s) => s.pid);
    const before = pids.map(cpuOf);
    const t = performance.now();
    await sleep(ms);
    const secs = (performance.now() - t) / 1000;
    const per = pids.map((p, i) => Math.round(((cpuOf(p) - before[i]) / secs) * 1000) / 10);
    return { total: Math.round(per.reduce((a, b) => a + b, 0) * 10) / 10, perServer: per };
  }

  if (counts.includes(0)) {
    const idle = await idleCpu(idleMs);
    report.idle.push({ queues: 0, cpuPercentOfOneCore: idle.total, perServer: idle.perServer });
    log(`idle with 0 queues: ${JSON.stringify(report.idle.at(-1))}`);
  }

  /** One queue: its own stream + consumer, or a filtered consumer on its shard's stream. */
  async function createQueue(n) {
    if (!sharded) return createWorkQueue(jsm, `M_${n}`);
    await jsm.consumers.add(`SHARD_${n % shards}`, {
      durable_name: `q${n}`,
      filter_subject: `SHARD_${n % shards}.q${n}`,
      ack_policy: AckPolicy.Explicit,
      ack_wait: 30_000_000_000,
      num_replicas: consumerReplicas,
    });
  }
  if (sharded) {
    for (let i = 0; i < shards; i++) {
      await jsm.streams.add({
        name: `SHARD_${i}`,
        subjects: [`SHARD_${i}.>`],
        retention: RetentionPolicy.Workqueue,
        storage: StorageType.File,
        num_replicas: 3,
      });
    }
  }

  // One at a time first: the latency of one declare with nothing else going on.
  let made = 0;
  for (let i = 0; i < 5; i++) {
    const t = performance.now();
    await createQueue(made++);
    report.single.push(Math.round(performance.now() - t));
  }
  log(`single create (${sharded ? 'consumer' : 'stream+consumer'}), ms: ${report.single.join(', ')}`);

  for (const target of counts.filter((c) => c > 0)) {
    if (target > made) {
      const t = performance.now();
      const lat = [];
      let next = made;
      const worker = async () => {
        while (next < target && Date.now() < stopAt) {
          const n = next++;
          const s = performance.now();
          await createQueue(n);
          lat.push(performance.now() - s);
          made++;
        }
      };
      await Promise.all(Array.from({ length: concurrency }, worker));
      const secs = (performance.now() - t) / 1000;
      const p = percentiles(lat, [50, 90, 99]);
      report.batches.push({
        upTo: made,
        created: lat.length,
        seconds: Math.round(secs * 10) / 10,
        perSecond: Math.round((lat.length / secs) * 10) / 10,
        latencyMs: { p50: Math.round(p.p50), p90: Math.round(p.p90), p99: Math.round(p.p99), max: Math.round(p.max) },
      });
      log(`created up to ${made}: ${JSON.stringify(report.batches.at(-1))}`);
    }
    await sleep(3000); // let the Raft groups settle before sampling "idle"
    const idle = await idleCpu(idleMs);
    const rss = cluster.servers.map((s) => {
      try {
        return Math.round(Number(/VmRSS:\s+(\d+)/.exec(readStatus(s.pid))[1]) / 1024);
      } catch {
        return null;
      }
    });
    report.idle.push({ queues: made, cpuPercentOfOneCore: idle.total, perServer: idle.perServer, rssMiB: rss });
    log(`idle with ${made} queues: ${JSON.stringify(report.idle.at(-1))}`);
    if (Date.now() >= stopAt) {
      log('time budget used up: stopping here');
      break;
    }
  }
  await nc.close();
} finally {
  await cluster.stop();
}
process.stdout.write(`${JSON.stringify(report, null, values.json ? 2 : 0)}\n`);

function readStatus(pid) {
  return readFileSync(`/proc/${pid}/status`, 'utf8');
}
