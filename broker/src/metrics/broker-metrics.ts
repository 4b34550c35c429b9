import type { BrokerHost as Broker } from '../broker-host.js';
import type { Queue } from '../queues/queue.js';
import { StreamQueue, type NamedReaderView } from '../streams/stream-queue.js';
import { eventLoopDelay } from './event-loop-delay.js';
import { writeLinkMetrics } from './link-metrics.js';
import { ExpositionWriter } from './prometheus.js';

/** Where streamed exposition text goes: resolves once the chunk may be followed by the next. */
export type ChunkSink = (chunk: string) => Promise<void>;

/** Samples per chunk: a chunk is written, then the event loop runs before the next one. */
const CHUNK_LINES = 2_000;

/**
 * Streams the broker's metrics page (spec/management.md §Metrics) into `sink` in chunks,
 * yielding to the event loop between chunks, so 100,000 queues neither stall the broker nor
 * build the whole page in memory. `perObject` false is RabbitMQ's aggregated `/metrics`: each
 * queue family is one unlabelled sample over all queues (sum; max for ages); true is
 * `/metrics/per-object`: one sample per queue with `vhost` and `queue` labels. Names and
 * labels are part of the public contract: dashboards and alerts are built on them. Process
 * metrics use the names of the standard Prometheus client libraries.
 */
export async function streamMetrics(
  broker: Broker,
  sink: ChunkSink,
  perObject: boolean,
  now = Date.now(),
): Promise<void> {
  const w = new ExpositionWriter();
  writeBrokerMetrics(w, broker);
  writeLinkMetrics(w, broker);
  writeProcessMetrics(w);
  await sink(w.take());
  const queues: { vhost: string; queue: Queue }[] = [];
  for (const v of broker.allVhosts()) for (const q of v.allQueues()) queues.push({ vhost: v.name, queue: q });
  if (!perObject) {
    // One pass over the queues for all families, with the event loop free every chunk.
    const totals = QUEUE_METRICS.map(() => 0);
    for (let i = 0; i < queues.length; i++) {
      const q = queues[i]!.queue;
      QUEUE_METRICS.forEach(([, , , value, aggregate], k) => {
        const x = value(q, now);
        totals[k] = aggregate === 'max' ? Math.max(totals[k]!, x) : totals[k]! + x;
      });
      if (i % CHUNK_LINES === CHUNK_LINES - 1) await sink('');
    }
    QUEUE_METRICS.forEach(([name, type, help], k) => w.single(name, type, help, totals[k]!));
    await sink(w.take());
    return;
  }
  for (const [name, type, help, value] of QUEUE_METRICS) {
    w.family(name, type, help);
    for (const { vhost, queue } of queues) {
      w.sample(name, value(queue, now), { vhost, queue: queue.name });
      if (w.length >= CHUNK_LINES) await sink(w.take());
    }
  }
  await sink(w.take());
  await writeStreamMetrics(w, queues, sink);
}

/**
 * Per-object only: each stream's first and last offset, and each named reader's lag in
 * messages and seconds (spec/semantics.md §Streams). Streams are few; readers per stream too.
 */
async function writeStreamMetrics(
  w: ExpositionWriter,
  queues: readonly { vhost: string; queue: Queue }[],
  sink: ChunkSink,
): Promise<void> {
  const streams = queues.filter((q): q is { vhost: string; queue: StreamQueue } => q.queue instanceof StreamQueue);
  if (streams.length === 0) return;
  const views = streams.map(({ vhost, queue }) => ({ vhost, queue, readers: queue.namedReaders() }));
  w.family('switchyard_stream_first_offset', 'gauge', 'Offset of the first message a stream keeps.');
  for (const { vhost, queue } of views)
    w.sample('switchyard_stream_first_offset', queue.firstOffset, { vhost, queue: queue.name });
  w.family('switchyard_stream_last_offset', 'gauge', 'Offset of the last message appended to a stream (-1: none).');
  for (const { vhost, queue } of views)
    w.sample('switchyard_stream_last_offset', queue.lastOffset, { vhost, queue: queue.name });
  for (const [name, help, pick] of [
    [
      'switchyard_stream_reader_lag_messages',
      "Messages appended after a named reader's stored offset.",
      (r: NamedReaderView) => r.lag,
    ],
    [
      'switchyard_stream_reader_lag_seconds',
      "Age of the oldest message after a named reader's stored offset; 0 when caught up.",
      (r: NamedReaderView) => r.lagSeconds,
    ],
  ] as const) {
    w.family(name, 'gauge', help);
    for (const { vhost, queue, readers } of views)
      for (const r of readers) w.sample(name, pick(r), { vhost, queue: queue.name, reader: r.name });
  }
  await sink(w.take());
}

/** The whole page as one string (small brokers, tests). */
export async function renderMetrics(broker: Broker, perObject = true, now = Date.now()): Promise<string> {
  const chunks: string[] = [];
  await streamMetrics(
    broker,
    (c) => {
      chunks.push(c);
      return Promise.resolve();
    },
    perObject,
    now,
  );
  return chunks.join('');
}

function writeBrokerMetrics(w: ExpositionWriter, broker: Broker): void {
  const connections = { ws: 0, amqp: 0 };
  let channels = 0;
  let consumers = 0;
  for (const c of broker.allConnections()) {
    connections[c.protocol]++;
    channels += c.channelCount;
    for (const ch of c.channelList()) consumers += ch.consumerCount;
  }
  let queues = 0;
  let exchanges = 0;
  for (const v of broker.allVhosts()) {
    for (const _ of v.allQueues()) queues++;
    for (const _ of v.allExchanges()) exchanges++;
  }
  const s = broker.stats;
  w.single('switchyard_build_info', 'gauge', 'Broker version (value is always 1).', 1, { version: broker.version });
  writeSchemaFailures(w, broker);
  // One sample per wire protocol: our WebSocket frames (ws) and AMQP 0-9-1 (amqp).
  w.family('switchyard_connections', 'gauge', 'Open client connections, by wire protocol.');
  w.sample('switchyard_connections', connections.ws, { protocol: 'ws' });
  w.sample('switchyard_connections', connections.amqp, { protocol: 'amqp' });
  w.single('switchyard_channels', 'gauge', 'Open channels over all connections.', channels);
  w.single('switchyard_consumers', 'gauge', 'Consumers over all channels.', consumers);
  w.single('switchyard_queues', 'gauge', 'Queues over all vhosts.', queues);
  w.single('switchyard_exchanges', 'gauge', 'Exchanges over all vhosts, built-in ones included.', exchanges);
  w.single(
    'switchyard_connections_opened_total',
    'counter',
    'Client connections opened since start.',
    s.connectionsOpened,
  );
  w.single(
    'switchyard_connections_closed_total',
    'counter',
    'Client connections closed since start.',
    s.connectionsClosed,
  );
  w.single(
    'switchyard_messages_published_total',
    'counter',
    'Messages published to the broker since start, routed or not.',
    s.published,
  );
  w.single(
    'switchyard_messages_unroutable_total',
    'counter',
    'Published messages that matched no queue.',
    s.unroutable,
  );
  w.single(
    'switchyard_messages_duplicate_total',
    'counter',
    'Published messages dropped by an exchange deduplication window.',
    s.duplicates,
  );
  w.single(
    'switchyard_messages_dead_letter_dropped_total',
    'counter',
    'Dead-letter copies not made because a resource alarm was raised (expired, max length, delivery limit).',
    s.deadLetterDroppedUnderAlarm,
  );
  w.single('switchyard_messages_acked_total', 'counter', 'Deliveries acknowledged by clients since start.', s.acked);
  w.single('switchyard_store_size_bytes', 'gauge', 'Size of the LMDB message store on disk.', broker.store.sizeBytes());
  w.family('switchyard_alarm', 'gauge', 'Resource alarm raised (1) or not (0); while raised, publishers are blocked.');
  w.sample('switchyard_alarm', broker.alarms.state.memory ? 1 : 0, { resource: 'memory' });
  w.sample('switchyard_alarm', broker.alarms.state.disk ? 1 : 0, { resource: 'disk' });
  w.histogram(
    'switchyard_commit_latency_seconds',
    'Time for a group-commit write transaction to become durable.',
    broker.histograms.commitLatency,
  );
  w.histogram(
    'switchyard_confirm_latency_seconds',
    'Time from the first publish of an event-loop turn to its publisher confirms.',
    broker.histograms.confirmLatency,
  );
}

/** A per-queue family; `aggregate` says how the aggregated `/metrics` combines the queues. */
type QueueMetric = [
  name: string,
  type: 'gauge' | 'counter',
  help: string,
  value: (q: Queue, now: number) => number,
  aggregate?: 'max',
];

const QUEUE_METRICS: readonly QueueMetric[] = [
  ['switchyard_queue_messages_ready', 'gauge', 'Messages ready for delivery.', (q) => q.messageCount],
  ['switchyard_queue_messages_unacked', 'gauge', 'Messages delivered and not yet acknowledged.', (q) => q.unacked],
  ['switchyard_queue_messages', 'gauge', 'Messages ready plus unacknowledged.', (q) => q.messageCount + q.unacked],
  [
    'switchyard_queue_messages_ready_bytes',
    'gauge',
    'Bytes of message bodies ready for delivery.',
    (q) => q.readyBytes,
  ],
  ['switchyard_queue_consumers', 'gauge', 'Consumers of the queue.', (q) => q.consumerCount],
  [
    'switchyard_queue_oldest_message_age_seconds',
    'gauge',
    'Age of the oldest ready message (consumer lag in time); 0 when empty.',
    (q, now) => q.oldestReadyAgeMs(now) / 1000,
    'max',
  ],
  [
    'switchyard_queue_messages_published_total',
    'counter',
    'Messages routed to the queue.',
    (q) => q.counters.published,
  ],
  [
    'switchyard_queue_messages_delivered_total',
    'counter',
    'Deliveries to consumers and gets, redeliveries included.',
    (q) => q.counters.delivered,
  ],
  [
    'switchyard_queue_messages_redelivered_total',
    'counter',
    'Deliveries of messages delivered before.',
    (q) => q.counters.redelivered,
  ],
  [
    'switchyard_queue_messages_acked_total',
    'counter',
    'Deliveries settled (acknowledged, or dropped without requeue).',
    (q) => q.counters.acked,
  ],
  [
    'switchyard_queue_messages_dead_lettered_total',
    'counter',
    'Messages dead-lettered (rejected, expired, over max length or delivery limit).',
    (q) => q.counters.deadLettered,
  ],
  [
    'switchyard_queue_messages_dropped_total',
    'counter',
    'Messages dropped without a dead-letter exchange (expired, over max length, rejected, delivery limit).',
    (q) => q.counters.dropped,
  ],
  ['switchyard_queue_messages_delayed', 'gauge', 'Messages held back for a delayed retry.', (q) => q.delayedCount],
];

/** Messages refused (or diverted) by a validating exchange, per vhost and exchange (spec/schemas.md). */
function writeSchemaFailures(w: ExpositionWriter, broker: Broker): void {
  w.family(
    'switchyard_schema_validation_failures_total',
    'counter',
    'Messages that failed their exchange schema (x-schema-subject), by vhost and exchange.',
  );
  for (const [key, n] of broker.schemaGate.failures) {
    const [vhost, exchange] = key.split('\u0000') as [string, string];
    w.sample('switchyard_schema_validation_failures_total', n, { vhost, exchange });
  }
}

function writeProcessMetrics(w: ExpositionWriter): void {
  writeEventLoopDelay(w);
  const mem = process.memoryUsage();
  const cpu = process.cpuUsage();
  w.single('process_resident_memory_bytes', 'gauge', 'Resident memory size in bytes.', mem.rss);
  w.single(
    'process_cpu_seconds_total',
    'counter',
    'Total user and system CPU time spent in seconds.',
    (cpu.user + cpu.system) / 1e6,
  );
  w.single(
    'process_start_time_seconds',
    'gauge',
    'Start time of the process since unix epoch in seconds.',
    Math.floor(Date.now() / 1000 - process.uptime()),
  );
  w.single('nodejs_heap_size_total_bytes', 'gauge', 'V8 heap size in bytes.', mem.heapTotal);
  w.single('nodejs_heap_size_used_bytes', 'gauge', 'V8 heap used in bytes.', mem.heapUsed);
  w.single(
    'nodejs_external_memory_bytes',
    'gauge',
    'Memory of C++ objects bound to JavaScript objects, in bytes.',
    mem.external,
  );
}

/** spec/management.md §Metrics: cumulative since broker start or the last reset, in seconds. */
function writeEventLoopDelay(w: ExpositionWriter): void {
  const eld = eventLoopDelay();
  w.summary(
    'switchyard_event_loop_delay_seconds',
    'Event-loop delay beyond the 10 ms sampling timer, since broker start or the last reset.',
    [0.5, 0.99, 0.999].map((q) => [q, eld.quantileMs(q) / 1000] as const),
    eld.sumMs / 1000,
    eld.count,
  );
  w.single(
    'switchyard_event_loop_delay_max_seconds',
    'gauge',
    'Longest event-loop delay since broker start or the last reset.',
    eld.maxMs / 1000,
  );
}
