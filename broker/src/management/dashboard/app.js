// The Switchyard dashboard: polls the management API (same origin) and renders.
// Plain ES modules served by the broker; no build step, no network beyond this broker.
import { drawHistory } from './chart.js';

const REFRESH_MS = 1000;
const HISTORY_MS = 2000;
const SCHEMAS_MS = 2000;
const VHOST = '/';

const $ = (id) => document.getElementById(id);
const seg = (s) => encodeURIComponent(s);
let selectedQueue = null;

/** Creates an element; children are nodes or text (never parsed as HTML). */
function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'onclick') node.addEventListener('click', v);
    else if (k === 'dataset') Object.assign(node.dataset, v);
    else if (v !== undefined && v !== null && v !== false) node.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children) node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return node;
}

async function api(method, path, body) {
  const res = await fetch(path, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  const data = text === '' ? undefined : JSON.parse(text);
  // Management errors carry `reason`; the schema registry's (Confluent's) carry `message`.
  if (!res.ok) throw new Error(data?.reason ?? data?.message ?? `HTTP ${res.status}`);
  return data;
}

let toastTimer;
function toast(message, isError = false) {
  const t = $('toast');
  t.textContent = message;
  t.className = `show${isError ? ' error' : ''}`;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => (t.className = ''), 3500);
}

async function action(label, fn) {
  try {
    const message = await fn();
    toast(message ?? `${label}: done`);
  } catch (err) {
    toast(`${label} failed: ${err.message}`, true);
  }
  await refresh();
}

const fmt = (v) => (typeof v !== 'number' ? '-' : Number.isInteger(v) ? String(v) : v.toFixed(1));

function duration(ms) {
  if (!(ms > 0)) return '-';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${Math.floor(s % 60)} s`;
  const hrs = Math.floor(m / 60);
  return hrs < 24 ? `${hrs} h ${m % 60} min` : `${Math.floor(hrs / 24)} d ${hrs % 24} h`;
}

function bytes(n) {
  const units = ['B', 'KiB', 'MiB', 'GiB'];
  let u = 0;
  while (n >= 1024 && u < units.length - 1) {
    n /= 1024;
    u++;
  }
  return u === 0 ? `${n} B` : `${n.toFixed(1)} ${units[u]}`;
}

function renderOverview(o) {
  $('version').textContent = `${o.product} ${o.version}`;
  $('uptime').textContent = `up ${duration(o.uptimeMs)}`;
  const cards = [
    ['connections', o.connections],
    ['channels', o.channels],
    ['consumers', o.consumers],
    ['queues', o.queues],
    ['ready', o.messages.ready],
    ['unacked', o.messages.unacked],
    ['publish/s', fmt(o.rates.publish)],
    ['deliver/s', fmt(o.rates.deliver)],
    ['ack/s', fmt(o.rates.ack)],
    ['store', bytes(o.storeBytes)],
    ['memory', bytes(o.memory.rss)],
  ];
  $('overview').replaceChildren(
    ...cards.map(([label, value]) =>
      h(
        'div',
        { class: 'card', dataset: { card: label } },
        h('div', { class: 'value' }, value),
        h('div', { class: 'label' }, label),
      ),
    ),
  );
}

function queueActions(q) {
  const path = `/api/queues/${seg(q.vhost)}/${seg(q.name)}`;
  return h(
    'td',
    { class: 'actions' },
    h(
      'button',
      {
        dataset: { action: 'publish' },
        title: 'publish a test message to this queue through the default exchange',
        onclick: () =>
          action('publish', async () => {
            const r = await api('POST', `/api/exchanges/${seg(q.vhost)}/amq.default/publish`, {
              routingKey: q.name,
              payload: `test message from the dashboard at ${new Date().toISOString()}`,
              properties: { contentType: 'text/plain' },
            });
            return r.routed ? `published a test message to '${q.name}'` : 'message was not routed';
          }),
      },
      'Publish test',
    ),
    h(
      'button',
      {
        class: 'danger',
        dataset: { action: 'purge' },
        onclick: () => {
          if (!confirm(`Purge all ready messages from queue '${q.name}'?`)) return;
          void action(
            'purge',
            async () => `purged ${(await api('DELETE', `${path}/contents`)).messageCount} messages from '${q.name}'`,
          );
        },
      },
      'Purge',
    ),
    h(
      'button',
      {
        class: 'danger',
        dataset: { action: 'delete' },
        onclick: () => {
          if (!confirm(`Delete queue '${q.name}' and its messages?`)) return;
          if (selectedQueue === q.name) selectQueue(null);
          void action('delete', async () => {
            await api('DELETE', path);
            return `deleted queue '${q.name}'`;
          });
        },
      },
      'Delete',
    ),
  );
}

/** A stream's offsets and named readers under its name (spec/semantics.md §Streams). */
function streamNote(st) {
  const readers = st.namedReaders.map((r) => `${r.name} lag ${r.lag} (${duration(r.lagSeconds * 1000)})`);
  const text = `stream · offsets ${st.firstOffset}–${st.lastOffset}${readers.length ? ' · ' + readers.join(', ') : ''}`;
  return h('div', { class: 'muted', dataset: { field: 'stream' } }, text);
}

function renderQueues(queues) {
  const rows = queues.map((q) =>
    h(
      'tr',
      { dataset: { queue: q.name }, class: q.name === selectedQueue ? 'selected' : undefined },
      h(
        'td',
        { class: 'name' },
        h('button', { class: 'link', title: 'show charts', onclick: () => selectQueue(q.name) }, q.name),
        q.stream ? streamNote(q.stream) : '',
      ),
      h('td', { class: 'num', dataset: { field: 'ready' } }, q.messagesReady),
      h('td', { class: 'num', dataset: { field: 'unacked' } }, q.messagesUnacked),
      h('td', { class: 'num', dataset: { field: 'consumers' } }, q.consumers),
      h('td', { class: 'num', dataset: { field: 'publish-rate' } }, fmt(q.rates.publish)),
      h('td', { class: 'num', dataset: { field: 'deliver-rate' } }, fmt(q.rates.deliver)),
      h('td', { class: 'num', dataset: { field: 'ack-rate' } }, fmt(q.rates.ack)),
      h(
        'td',
        { class: 'num', dataset: { field: 'oldest' } },
        q.messagesReady > 0 ? duration(q.oldestMessageAgeMs) : '-',
      ),
      queueActions(q),
    ),
  );
  $('queues').tBodies[0].replaceChildren(...rows);
  $('queues-empty').hidden = queues.length > 0;
}

function renderConnections(conns) {
  $('connections').tBodies[0].replaceChildren(
    ...conns.map((c) =>
      h(
        'tr',
        { dataset: { connection: c.id } },
        h('td', {}, c.peer),
        h('td', {}, c.user || '-'),
        h('td', {}, [c.clientProperties?.product, c.clientProperties?.version].filter(Boolean).join(' ') || '-'),
        h('td', {}, c.protocol ?? '-'),
        h('td', { class: 'num' }, c.channels),
        h('td', { class: 'num' }, c.unacked),
        h('td', {}, duration(Date.now() - Date.parse(c.connectedAt))),
        h('td', { class: 'muted', title: c.id }, c.id.slice(0, 8)),
        h(
          'td',
          { class: 'actions' },
          h(
            'button',
            {
              class: 'danger',
              dataset: { action: 'close-connection' },
              onclick: () => {
                if (!confirm(`Close the connection from ${c.peer}?`)) return;
                void action('close', async () => {
                  await api('DELETE', `/api/connections/${seg(c.id)}?reason=${seg('closed from the dashboard')}`);
                  return `closed connection from ${c.peer}`;
                });
              },
            },
            'Close',
          ),
        ),
      ),
    ),
  );
}

/** Cluster nodes (spec/cluster.md §Management); none on a single node: the section stays hidden. */
function renderNodes(nodes) {
  $('nodes-section').hidden = nodes.length === 0;
  $('nodes').tBodies[0].replaceChildren(
    ...nodes.map((n) =>
      h(
        'tr',
        { dataset: { node: n.name } },
        h('td', {}, n.name),
        h('td', { class: n.reachable ? '' : 'muted' }, n.reachable ? 'up' : 'not answering'),
        h('td', {}, n.url ?? '-'),
        h('td', {}, n.jetstream ? `${n.jetstream.connectedTo} (${n.jetstream.serverVersion})` : '-'),
        h('td', { class: 'num' }, n.connections?.length ?? '-'),
        h('td', {}, duration(Date.now() - Date.parse(n.startedAt))),
      ),
    ),
  );
}

function renderConsumers(consumers) {
  $('consumers').tBodies[0].replaceChildren(
    ...consumers.map((c) =>
      h(
        'tr',
        {},
        h('td', {}, c.queue),
        h('td', {}, c.consumerTag),
        h('td', {}, c.peer),
        h('td', { class: 'num' }, c.channel),
        h('td', {}, c.noAck ? 'auto' : 'manual'),
        h('td', { class: 'num' }, c.prefetch),
        h('td', { class: 'num' }, c.unacked),
        h('td', {}, c.active ? 'yes' : 'waiting'),
      ),
    ),
  );
}

// spec/links.md §Status: state, messages moved, lag, last error, next attempt while not running
function renderLinks(links) {
  $('links-empty').hidden = links.length > 0;
  const time = (iso) => (iso ? new Date(iso).toLocaleTimeString() : '-');
  $('links').tBodies[0].replaceChildren(
    ...links.map((l) =>
      h(
        'tr',
        { dataset: { link: `${l.type}:${l.vhost}/${l.name}` } },
        h('td', {}, l.name),
        h('td', {}, l.type),
        h('td', { class: `state state-${l.state}` }, l.state),
        h('td', {}, l.src),
        h('td', {}, l.dest),
        h('td', { class: 'num' }, fmt(l.messagesMoved)),
        h('td', { class: 'num' }, fmt(l.inFlight)),
        h('td', { class: 'num' }, fmt(l.lag)),
        h('td', { title: l.lastErrorAt ? `at ${l.lastErrorAt}` : '' }, l.lastError ?? '-'),
        h('td', {}, time(l.nextAttemptAt)),
      ),
    ),
  );
}

function selectQueue(name) {
  selectedQueue = name;
  $('queue-detail').hidden = name === null;
  $('detail-name').textContent = name ?? '';
  for (const tr of $('queues').tBodies[0].rows) tr.classList.toggle('selected', tr.dataset.queue === name);
  if (name !== null) void refreshHistory();
}

async function refresh() {
  try {
    const v = seg(VHOST);
    const [overview, queues, connections, consumers, shovels, federation, nodes] = await Promise.all([
      api('GET', '/api/overview'),
      api('GET', `/api/queues/${v}`),
      api('GET', '/api/connections'),
      api('GET', `/api/consumers/${v}`),
      api('GET', '/api/shovels'),
      api('GET', '/api/federation-links'),
      api('GET', '/api/nodes'),
    ]);
    renderOverview(overview);
    renderQueues(queues);
    renderConnections(connections);
    renderConsumers(consumers);
    renderLinks([...shovels, ...federation]);
    renderNodes(nodes);
    if (selectedQueue !== null && !queues.some((q) => q.name === selectedQueue)) selectQueue(null);
    $('live').textContent = `live · ${new Date().toLocaleTimeString()}`;
    $('live').className = 'live ok';
  } catch (err) {
    $('live').textContent = `broker unreachable (${err.message})`;
    $('live').className = 'live down';
  }
}

function renderSchemas({ compatibility, subjects }, exchanges) {
  $('schemas-global').textContent = `global compatibility: ${compatibility}`;
  const validating = new Map();
  for (const x of exchanges) {
    const subject = x.arguments?.['x-schema-subject'];
    if (typeof subject !== 'string') continue;
    const version = x.arguments['x-schema-version'] ?? 'latest';
    validating.set(subject, [...(validating.get(subject) ?? []), `${x.name || '(default)'} (${version})`]);
  }
  $('schemas').tBodies[0].replaceChildren(
    ...subjects.map((s) =>
      h(
        'tr',
        { dataset: { subject: s.subject } },
        h('td', { class: 'name' }, s.subject),
        h('td', { dataset: { field: 'type' } }, s.schemaType),
        h(
          'td',
          { dataset: { field: 'compatibility' }, title: s.ownLevel ? 'set on the subject' : 'the global default' },
          s.ownLevel ? s.compatibility : `${s.compatibility} (global)`,
        ),
        h(
          'td',
          { dataset: { field: 'versions' } },
          ...s.versions.map((v) =>
            h(
              'button',
              {
                class: 'link',
                dataset: { version: v.version },
                title: 'show the schema',
                onclick: () => void showSchema(s.subject, v.version),
              },
              `v${v.version} (${v.id})`,
            ),
          ),
        ),
        h('td', { dataset: { field: 'exchanges' } }, (validating.get(s.subject) ?? []).join(', ') || '-'),
      ),
    ),
  );
  $('schemas-empty').hidden = subjects.length > 0;
}

async function showSchema(subject, version) {
  try {
    const v = await api('GET', `/subjects/${seg(subject)}/versions/${version}`);
    let text = v.schema;
    try {
      // JSON Schema and Avro are JSON: indent them; Protobuf text is shown as registered.
      if ((v.schemaType ?? 'AVRO') !== 'PROTOBUF') text = JSON.stringify(JSON.parse(v.schema), null, 2);
    } catch {
      // shown as registered
    }
    $('schema-subject').textContent = subject;
    $('schema-version').textContent = `${v.version} (id ${v.id}, ${v.schemaType ?? 'AVRO'})`;
    $('schema-text').textContent = text;
    $('schema-detail').hidden = false;
  } catch (err) {
    toast(`schema: ${err.message}`, true);
  }
}

async function refreshSchemas() {
  try {
    const [schemas, exchanges] = await Promise.all([
      api('GET', '/api/schemas'),
      api('GET', `/api/exchanges/${seg(VHOST)}`),
    ]);
    renderSchemas(schemas, exchanges);
  } catch {
    // the next tick retries; the live indicator shows the outage
  }
}

async function refreshHistory() {
  try {
    drawHistory($('overview-depth'), $('overview-rates'), await api('GET', '/api/overview/history'));
    if (selectedQueue !== null) {
      drawHistory(
        $('queue-depth'),
        $('queue-rates'),
        await api('GET', `/api/queues/${seg(VHOST)}/${seg(selectedQueue)}/history`),
      );
    }
  } catch {
    // the next tick retries; the live indicator shows the outage
  }
}

$('detail-close').addEventListener('click', () => selectQueue(null));
$('schema-close').addEventListener('click', () => ($('schema-detail').hidden = true));
$('declare-form').addEventListener('submit', (e) => {
  e.preventDefault();
  const name = $('declare-name').value.trim();
  if (name === '') return;
  void action('declare', async () => {
    await api('PUT', `/api/queues/${seg(VHOST)}/${seg(name)}`, { durable: $('declare-durable').checked });
    $('declare-name').value = '';
    return `declared queue '${name}'`;
  });
});

void refresh();
void refreshHistory();
void refreshSchemas();
setInterval(refresh, REFRESH_MS);
setInterval(refreshHistory, HISTORY_MS);
setInterval(refreshSchemas, SCHEMAS_MS);
