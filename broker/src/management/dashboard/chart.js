// Line charts as inline SVG: no libraries, no network. Used by app.js.

const SVG = 'http://www.w3.org/2000/svg';
const W = 600;
const H = 160;
const PAD = { left: 44, right: 8, top: 8, bottom: 18 };

function el(name, attrs = {}) {
  const node = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  return node;
}

/** A round upper bound for the y axis (1, 2, 5 × 10^n). */
function niceMax(v) {
  if (!(v > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 5, 10]) if (v <= m * p) return m * p;
  return 10 * p;
}

function formatNumber(v) {
  if (v >= 1e6) return `${(v / 1e6).toFixed(1)}M`;
  if (v >= 1e4) return `${Math.round(v / 1e3)}k`;
  return Number.isInteger(v) ? String(v) : v.toFixed(1);
}

/**
 * Draws series over time into `container` (replacing what was there).
 * `t`: sample times (ms); `series`: [{ label, color, values }].
 */
export function drawChart(container, t, series) {
  container.replaceChildren();
  const svg = el('svg', { viewBox: `0 0 ${W} ${H}`, preserveAspectRatio: 'none', role: 'img' });
  const max = niceMax(Math.max(0, ...series.flatMap((s) => s.values)));
  const x0 = PAD.left;
  const x1 = W - PAD.right;
  const y0 = H - PAD.bottom;
  const y1 = PAD.top;
  const tMin = t.length > 0 ? t[0] : Date.now() - 60_000;
  const tMax = t.length > 0 ? t[t.length - 1] : Date.now();
  const span = Math.max(1, tMax - tMin);
  const x = (ti) => x0 + ((ti - tMin) / span) * (x1 - x0);
  const y = (v) => y0 - (v / max) * (y0 - y1);

  for (const f of [0, 0.5, 1]) {
    const yy = y(max * f);
    svg.append(el('line', { x1: x0, x2: x1, y1: yy, y2: yy, class: 'axis' }));
    const label = el('text', { x: x0 - 4, y: yy + 3, 'text-anchor': 'end' });
    label.textContent = formatNumber(max * f);
    svg.append(label);
  }
  const minutes = span / 60_000;
  const left = el('text', { x: x0, y: H - 4 });
  left.textContent =
    t.length > 1 ? `-${minutes >= 1 ? `${minutes.toFixed(1)} min` : `${Math.round(span / 1000)} s`}` : 'collecting…';
  const right = el('text', { x: x1, y: H - 4, 'text-anchor': 'end' });
  right.textContent = 'now';
  svg.append(left, right);

  for (const s of series) {
    if (t.length === 0) continue;
    const points = t.map((ti, i) => `${x(ti).toFixed(1)},${y(s.values[i] ?? 0).toFixed(1)}`).join(' ');
    svg.append(
      el('polyline', {
        points,
        fill: 'none',
        stroke: s.color,
        'stroke-width': 1.5,
        'vector-effect': 'non-scaling-stroke',
      }),
    );
    if (t.length === 1) svg.append(el('circle', { cx: x(t[0]), cy: y(s.values[0] ?? 0), r: 3, fill: s.color }));
  }
  const legend = document.createElement('div');
  legend.className = 'legend';
  for (const s of series) {
    const item = document.createElement('span');
    item.style.setProperty('--swatch', s.color);
    const last = s.values.length > 0 ? s.values[s.values.length - 1] : 0;
    item.textContent = `${s.label} ${formatNumber(last)}`;
    legend.append(item);
  }
  container.append(svg, legend);
}

/** Depth (ready, unacked) and rates (publish, deliver, ack) charts from a history document. */
export function drawHistory(depthEl, ratesEl, h) {
  drawChart(depthEl, h.t, [
    { label: 'ready', color: 'var(--c1)', values: h.ready },
    { label: 'unacked', color: 'var(--c2)', values: h.unacked },
  ]);
  drawChart(ratesEl, h.t, [
    { label: 'publish', color: 'var(--c3)', values: h.publishRate },
    { label: 'deliver', color: 'var(--c4)', values: h.deliverRate },
    { label: 'ack', color: 'var(--c5)', values: h.ackRate },
  ]);
}
