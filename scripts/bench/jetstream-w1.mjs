#!/usr/bin/env node
// The bare engine's W1: what JetStream itself does on the 3-server loopback cluster, with no
// Switchyard in between — the yardstick for issue 15's "at least 70% of the bare engine".
//
// A publisher keeps ~`window` persistent 1 KiB messages outstanding, each with a Nats-Msg-Id,
// and counts one as confirmed when its PubAck arrives (a publish that fails or times out is
// retried with the same msgID, so JetStream deduplicates it). Meanwhile a durable pull consumer
// on the same R3 WorkQueue file stream consumes and acks each message. With --kill-leader-at S
// the stream leader gets `kill -9` S seconds in: the report then has the stall (longest gap
// between PubAcks, and from the kill to the first PubAck after it), and whether any PubAck'ed
// message was never consumed (counted by msgID).
//
//   node scripts/bench/jetstream-w1.mjs [--duration 10] [--window 1000] [--size 1024]
//        [--ack-wait 10] [--kill-leader-at 5] [--servers nats://a,nats://b,...] [--json]
// Without --servers it starts its own cluster (scripts/cluster/jetstream-cluster.mjs).
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import { connect } from '@nats-io/transport-node';
import { AckPolicy, jetstream, jetstreamManager, RetentionPolicy, StorageType } from '@nats-io/jetstream';
import { startJetStreamCluster } from '../cluster/jetstream-cluster.mjs';
import { cpuOf } from './stats.mjs';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Creates an R3 WorkQueue file stream with one durable explicit-ack pull consumer. */
export async function createWorkQueue(jsm, stream, { replicas = 3, ackWaitMs = 30_000 } = {}) {
  await jsm.streams.add({
    name: stream,
    subjects: [`${stream}.>`],
    retention: RetentionPolicy.Workqueue,
    storage: StorageType.File,
    num_replicas: replicas,
    duplicate_window: 120_000_000_000, // 2 min in ns: covers any publisher retry
  });
  await jsm.consumers.add(stream, {
    durable_name: 'c',
    ack_policy: AckPolicy.Explicit,
    ack_wait: ackWaitMs * 1_000_000,
    max_ack_pending: 10_000,
  });
}

/**
 * Runs the load; `cluster` (optional) is a startJetStreamCluster handle, needed for killLeaderAt.
 * Resolves with the figures: { published, confirmed, consumed, duplicates, missing, msgsPerSec,
 * longestGapMs, killToFirstAckMs, ... }.
 */
export async function runJetStreamW1(opts) {
  const { servers, cluster } = opts;
  const durationMs = (opts.duration ?? 10) * 1000;
  const window = opts.window ?? 1000;
  const body = new Uint8Array(opts.size ?? 1024).fill(120);
  const stream = opts.stream ?? `W1_${process.pid}_${Date.now()}`;
  const subject = `${stream}.q`;
  const nc = await connect({ servers, maxReconnectAttempts: -1, reconnectTimeWait: 200, name: 'jetstream-w1' });
  const jsm = await jetstreamManager(nc);
  const ackWaitMs = opts.ackWaitMs ?? 10_000;
  await createWorkQueue(jsm, stream, { ackWaitMs });
  const js = jetstream(nc, { timeout: opts.pubTimeoutMs ?? 2000 });

  // ---- consumer: ack each, count by msgID ----
  const seen = new Map(); // msgID -> times delivered
  const confirmedIds = new Set(); // msgIDs with a PubAck
  let consumed = 0;
  let consuming = true;
  const consumer = await js.consumers.get(stream, 'c');
  let stopConsume = () => {};
  let lastMsgAt = performance.now();
  let consumeRestarts = 0;
  const consumeLoop = (async () => {
    while (consuming) {
      try {
        const msgs = await consumer.consume({ max_messages: Math.max(100, window), idle_heartbeat: 1000 });
        stopConsume = () => msgs.stop();
        for await (const m of msgs) {
          lastMsgAt = performance.now();
          const id = m.headers?.get('Nats-Msg-Id') ?? '';
          seen.set(id, (seen.get(id) ?? 0) + 1);
          consumed++;
          m.ack();
          if (!consuming) break;
        }
      } catch {
        await sleep(100); // consumer leader moving: pull again
      }
      if (consuming) consumeRestarts++;
    }
  })();
  // After a leader kill the consume() iterator can sit silent with messages waiting
  // (seen on 2.9.10 with @nats-io/jetstream 3.4.0): restart it after 3 s without a message
  // while confirmed messages are still unconsumed.
  const watchdog = setInterval(() => {
    if (performance.now() - lastMsgAt > 3000 && confirmedIds.size > consumed) {
      lastMsgAt = performance.now();
      stopConsume();
    }
  }, 500);

  // ---- publisher: `window` in flight, retry with the same msgID until PubAck ----
  let published = 0;
  let retries = 0;
  let lastAckAt = 0;
  let longestGapMs = 0;
  let killAt = null;
  let killToFirstAckMs = null;
  let killedServer = null;
  const t0 = performance.now();
  const deadline = t0 + durationMs;

  async function publishOne(i) {
    const id = `w1-${i}`;
    for (;;) {
      const sentAt = performance.now();
      try {
        await js.publish(subject, body, { msgID: id });
        const now = performance.now();
        if (lastAckAt) longestGapMs = Math.max(longestGapMs, now - lastAckAt);
        lastAckAt = now;
        // Only a publish sent after the kill proves the stream took writes again (acks already
        // on the wire when the leader died arrive a moment later and prove nothing).
        if (killAt !== null && sentAt > killAt && killToFirstAckMs === null) killToFirstAckMs = now - killAt;
        confirmedIds.add(id);
        return;
      } catch {
        retries++;
        await sleep(50);
      }
    }
  }
  async function lane() {
    while (performance.now() < deadline) await publishOne(published++);
  }
  const killer = (async () => {
    if (opts.killLeaderAt === undefined) return;
    await sleep(opts.killLeaderAt * 1000);
    const info = await jsm.streams.info(stream);
    const leader = info.cluster?.leader;
    const s = cluster.serverByName(leader);
    killedServer = leader;
    killAt = performance.now();
    await cluster.kill(s.index, 'SIGKILL');
  })();
  lastAckAt = performance.now();
  // Who is the bottleneck: this client process or the servers (% of one core, over the load).
  const serverPids = cluster ? cluster.servers.map((s) => s.pid) : [];
  const serverCpu0 = serverPids.map(cpuOf);
  const clientCpu0 = process.cpuUsage();
  await Promise.all(Array.from({ length: window }, lane));
  const pubElapsed = (performance.now() - t0) / 1000;
  const clientCpu = process.cpuUsage(clientCpu0);
  const cpu = {
    clientPercent: Math.round((clientCpu.user + clientCpu.system) / 1e4 / pubElapsed),
    serversPercent: serverPids.map((p, i) =>
      serverCpu0[i] === null ? null : Math.round((((cpuOf(p) ?? serverCpu0[i]) - serverCpu0[i]) * 100) / pubElapsed),
    ),
  };
  await killer;

  // ---- drain: wait until every confirmed id was consumed, or nothing moved for ack_wait + 10 s
  // (messages that were out to a pull request lost in a failover come back only after ack_wait) ----
  const drainStart = performance.now();
  let last = -1;
  let stillSince = performance.now();
  while ([...confirmedIds].some((id) => !seen.has(id)) && performance.now() - stillSince < ackWaitMs + 10_000) {
    if (consumed !== last) stillSince = performance.now();
    last = consumed;
    await sleep(100);
  }
  const drainMs = Math.round(performance.now() - drainStart);
  const elapsed = (performance.now() - t0) / 1000;
  consuming = false;
  clearInterval(watchdog);
  stopConsume();
  await Promise.race([consumeLoop, sleep(2000)]);
  const missing = [...confirmedIds].filter((id) => !seen.has(id));
  // Not consumed is not lost: what the stream still holds tells them apart.
  const streamMessagesLeft = (await jsm.streams.info(stream)).state.messages;
  const ci = await jsm.consumers.info(stream, 'c');
  const consumerState = {
    pending: ci.num_pending,
    ackPending: ci.num_ack_pending,
    redelivered: ci.num_redelivered,
  };
  let duplicates = 0;
  for (const n of seen.values()) duplicates += n - 1;
  const result = {
    stream,
    window,
    size: body.length,
    published,
    confirmed: confirmedIds.size,
    consumed,
    duplicates,
    missing: missing.length,
    missingSample: missing.slice(0, 5),
    streamMessagesLeft,
    consumerState,
    consumeRestarts,
    drainMs,
    retries,
    confirmedPerSec: Math.round(confirmedIds.size / pubElapsed),
    consumedPerSec: Math.round(consumed / elapsed),
    longestGapMs: Math.round(longestGapMs),
    cpu,
    killedServer,
    killToFirstAckMs: killToFirstAckMs === null ? null : Math.round(killToFirstAckMs),
  };
  if (!opts.keepStream) await jsm.streams.delete(stream).catch(() => {});
  await nc.close();
  return result;
}

async function main() {
  const { values } = parseArgs({
    options: {
      duration: { type: 'string', default: '10' },
      window: { type: 'string', default: '1000' },
      size: { type: 'string', default: '1024' },
      'kill-leader-at': { type: 'string' },
      'ack-wait': { type: 'string', default: '10' },
      servers: { type: 'string' },
      runs: { type: 'string', default: '1' },
      json: { type: 'boolean', default: false },
    },
  });
  if (values['kill-leader-at'] && values.servers)
    throw new Error('--kill-leader-at needs the script to own the cluster');
  const runs = Number(values.runs);
  const results = [];
  for (let r = 0; r < runs; r++) {
    const cluster = values.servers ? null : await startJetStreamCluster();
    const servers = values.servers ? values.servers.split(',') : cluster.urls;
    try {
      results.push(
        await runJetStreamW1({
          servers,
          cluster,
          duration: Number(values.duration),
          window: Number(values.window),
          size: Number(values.size),
          ackWaitMs: Number(values['ack-wait']) * 1000,
          killLeaderAt: values['kill-leader-at'] === undefined ? undefined : Number(values['kill-leader-at']),
        }),
      );
    } finally {
      await cluster?.stop();
    }
    const res = results.at(-1);
    if (!values.json) process.stdout.write(`run ${r + 1}: ${JSON.stringify(res)}\n`);
  }
  if (values.json) process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err) => {
    process.stderr.write(`${err.stack ?? err}\n`);
    process.exit(1);
  });
}
