// Latency histograms of the three legs as one SVG chart (no library): x is latency
// on a log scale, y the share of that leg's requests in each bin, one step line per
// leg, and dashed markers at each leg's p50 and p99.

import {s, ms} from './dom.js';

export const LEGS = ['primary', 'secondary', 'candidate'];
const W = 760, H = 230, L = 48, R = 12, T = 12, B = 34;

/** bucket b >= 1 holds [g^(b-1), g^b) µs; its representative is the geometric mid. */
function bucketMs(b, g) {
  return b <= 0 ? 0.001 : Math.pow(g, b - 0.5) / 1000;
}

function niceTicks(lo, hi) {
  for (const ms of [[1, 2, 5], [1, 2, 3, 5, 7], [1, 1.5, 2, 3, 4, 5, 6, 7, 8, 9]]) {
    const out = [];
    for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++) {
      for (const m of ms) {
        const v = m * Math.pow(10, e);
        if (v >= lo && v <= hi) out.push(v);
      }
    }
    if (out.length >= 4 || ms.length === 10) return out;
  }
  return [];
}

function tickLabel(v) {
  if (v >= 1000) return +(v / 1000).toPrecision(3) + ' s';
  return +v.toPrecision(3) + ' ms';
}

/**
 * hist: {primary: [[bucket, count], ...], ...}; lat: {primary: {p50, p99, n}, ...};
 * growth: the report's histogram growth (1.04).
 */
export function latencyChart(hist, lat, growth) {
  const g = growth > 1 ? growth : 1.04;
  const legs = LEGS.filter((leg) => (hist?.[leg] || []).length);
  const svg = s('svg', {class: 'chart', viewBox: `0 0 ${W} ${H}`, role: 'img',
    'aria-label': 'Latency histograms of the primary, secondary and candidate'});
  if (!legs.length) {
    svg.append(s('text', {x: W / 2, y: H / 2, class: 'chart-empty', 'text-anchor': 'middle'}, 'no latency recorded yet'));
    return svg;
  }
  let bmin = Infinity, bmax = -Infinity;
  for (const leg of legs) for (const [b] of hist[leg]) { bmin = Math.min(bmin, Math.max(1, b)); bmax = Math.max(bmax, b); }
  // Coarser display bins: fewer when there are few values (2·√n, 12 to 70 across
  // the range), at least one histogram bucket each.
  const nmax = Math.max(...legs.map((leg) => hist[leg].reduce((a, [, c]) => a + c, 0)));
  const target = Math.max(12, Math.min(70, Math.round(2 * Math.sqrt(nmax))));
  const span = bmax - bmin + 1;
  const k = Math.max(1, Math.ceil(span / target));
  const nb = Math.ceil(span / k) + 1;
  const lo = bmin - 1, hi = bmin - 1 + nb * k; // bucket edges (bucket b spans edge b-1..b)
  const edgeMs = (e) => Math.pow(g, e) / 1000;
  const xlo = Math.log(edgeMs(lo)), xhi = Math.log(edgeMs(hi));
  const X = (v) => L + ((Math.log(Math.max(v, 1e-6)) - xlo) / (xhi - xlo)) * (W - L - R);

  const shares = {};
  let ymax = 0;
  for (const leg of legs) {
    const arr = new Array(nb).fill(0);
    let n = 0;
    for (const [b, c] of hist[leg]) { arr[Math.floor((Math.max(1, b) - bmin) / k)] += c; n += c; }
    shares[leg] = arr.map((c) => (n ? c / n : 0));
    ymax = Math.max(ymax, ...shares[leg]);
  }
  // A round step for the share axis (1, 2, 2.5 or 5 times a power of ten).
  const raw = (ymax > 0 ? ymax : 1) / 4;
  const p10 = Math.pow(10, Math.floor(Math.log10(raw)));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * p10).find((v) => v >= raw);
  const nsteps = Math.ceil((ymax > 0 ? ymax : 1) / step - 1e-9);
  ymax = step * nsteps;
  const Y = (f) => T + (1 - f / ymax) * (H - T - B);

  // Grid and axes.
  const grid = s('g', {class: 'grid'});
  for (let i = 0; i <= nsteps; i++) {
    const f = step * i;
    grid.append(s('line', {x1: L, x2: W - R, y1: Y(f), y2: Y(f)}),
      s('text', {x: L - 6, y: Y(f) + 4, 'text-anchor': 'end', class: 'tick'}, +(f * 100).toPrecision(3) + '%'));
  }
  // Rounder values first (1, 5, 2 × 10^k, then the rest); skip labels that would touch.
  const rank = (v) => { const m = +(v / Math.pow(10, Math.floor(Math.log10(v) + 1e-9))).toFixed(3); return m === 1 ? 0 : m === 5 ? 1 : m === 2 ? 2 : 3; };
  const kept = [];
  for (const v of niceTicks(edgeMs(lo), edgeMs(hi)).sort((a, b) => rank(a) - rank(b))) {
    if (kept.some((k) => Math.abs(X(k) - X(v)) < 56)) continue;
    kept.push(v);
  }
  for (const v of kept) {
    grid.append(s('line', {x1: X(v), x2: X(v), y1: T, y2: H - B, class: 'vgrid'}),
      s('text', {x: X(v), y: H - B + 16, 'text-anchor': 'middle', class: 'tick'}, tickLabel(v)));
  }
  grid.append(s('text', {x: W - R, y: H - 4, 'text-anchor': 'end', class: 'axis-label'}, 'latency (log scale)'),
    s('text', {x: 4, y: T + 2, class: 'axis-label', 'dominant-baseline': 'hanging'}, ''));
  svg.append(grid);

  // One step path per leg (area + outline).
  for (const leg of legs) {
    let d = `M${X(edgeMs(lo)).toFixed(1)},${Y(0).toFixed(1)}`;
    shares[leg].forEach((f, i) => {
      const x0 = X(edgeMs(lo + i * k)), x1 = X(edgeMs(lo + (i + 1) * k));
      d += `L${x0.toFixed(1)},${Y(f).toFixed(1)}L${x1.toFixed(1)},${Y(f).toFixed(1)}`;
    });
    d += `L${X(edgeMs(hi)).toFixed(1)},${Y(0).toFixed(1)}Z`;
    svg.append(s('path', {d, class: 'area leg-' + leg}));
  }
  // Quantile markers.
  for (const leg of legs) {
    const q = lat?.[leg] || {};
    for (const [name, v] of [['p50', q.p50], ['p99', q.p99]]) {
      if (typeof v !== 'number') continue;
      const x = X(Math.max(v, edgeMs(lo)));
      svg.append(s('line', {x1: x, x2: x, y1: T, y2: H - B, class: `marker marker-${name} leg-${leg}`},
        s('title', null, `${leg} ${name} ${ms(v)}`)));
    }
  }
  // Hover targets: one transparent column per bin with the three counts.
  const hover = s('g', {class: 'hover'});
  for (let i = 0; i < nb; i++) {
    const x0 = X(edgeMs(lo + i * k)), x1 = X(edgeMs(lo + (i + 1) * k));
    const label = `${ms(edgeMs(lo + i * k))} – ${ms(edgeMs(lo + (i + 1) * k))}\n` +
      legs.map((leg) => `${leg}: ${(shares[leg][i] * 100).toFixed(1)}%`).join('\n');
    hover.append(s('rect', {x: x0, y: T, width: Math.max(0.5, x1 - x0), height: H - T - B}, s('title', null, label)));
  }
  svg.append(hover);
  svg.append(s('line', {x1: L, x2: W - R, y1: Y(0), y2: Y(0), class: 'axis'}));
  return svg;
}

export function legend() {
  return s('svg', {class: 'legend', viewBox: '0 0 470 16', role: 'img', 'aria-label': 'legend'},
    ...LEGS.map((leg, i) => s('g', {transform: `translate(${i * 110},0)`},
      s('rect', {x: 0, y: 3, width: 14, height: 10, class: 'area leg-' + leg}),
      s('text', {x: 19, y: 12, class: 'tick'}, leg))),
    s('g', {transform: 'translate(335,0)'},
      s('line', {x1: 0, x2: 16, y1: 8, y2: 8, class: 'marker marker-p99 leg-primary'}),
      s('text', {x: 20, y: 12, class: 'tick'}, 'p50 / p99')));
}
