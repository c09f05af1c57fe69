// DOM helpers. Every value that comes from traffic goes through text nodes or
// setAttribute, never through HTML parsing: there is no innerHTML in this dashboard.

const SVG_NS = 'http://www.w3.org/2000/svg';

function put(el, attrs) {
  if (!attrs) return;
  for (const [k, v] of Object.entries(attrs)) {
    if (v == null || v === false) continue;
    if (k === 'class') el.setAttribute('class', Array.isArray(v) ? v.filter(Boolean).join(' ') : v);
    else if (k === 'text') el.textContent = String(v);
    else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
}

function add(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c == null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

/** h('td', {class: 'num'}, 'text', node, [more]) -> element */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  put(el, attrs);
  add(el, children);
  return el;
}

export function s(tag, attrs, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  put(el, attrs);
  add(el, children);
  return el;
}

export function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
  return el;
}

/** Replace the children of el by the given nodes in one step (no empty frame). */
export function fill(el, ...children) {
  const frag = document.createDocumentFragment();
  add(frag, children);
  el.replaceChildren(frag);
  return el;
}

export function link(route, text, attrs) {
  return h('a', Object.assign({href: route}, attrs || {}), text);
}

export const route = {
  overview: () => '#/',
  endpoint: (name) => '#/endpoint/' + encodeURIComponent(name),
  sample: (id) => '#/sample/' + encodeURIComponent(id),
  rules: () => '#/rules',
};

// ---- number formatting ----

export function int(n) {
  if (typeof n !== 'number' || !isFinite(n)) return '–';
  return Math.round(n).toLocaleString('en-US');
}

export function pct(part, whole) {
  if (!whole) return '–';
  return pctv((part / whole) * 100);
}

export function pctv(p) {
  if (typeof p !== 'number' || !isFinite(p)) return '–';
  if (p === 0) return '0%';
  if (p < 0.1) return p.toFixed(3) + '%';
  if (p < 10) return p.toFixed(1) + '%';
  return p.toFixed(0) + '%';
}

export function ms(v) {
  if (typeof v !== 'number' || !isFinite(v)) return '–';
  if (v < 1) return v.toFixed(2) + ' ms';
  if (v < 100) return v.toFixed(1) + ' ms';
  if (v < 10000) return v.toFixed(0) + ' ms';
  return (v / 1000).toFixed(1) + ' s';
}

export function time(t) {
  if (!t) return '–';
  const d = new Date(typeof t === 'number' ? (t > 1e12 ? t : t * 1000) : t);
  if (isNaN(d)) return String(t);
  return d.toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z');
}

export function short(text, n) {
  text = String(text);
  return text.length > n ? text.slice(0, n - 1) + '…' : text;
}

/** A JSON value shown compactly (difference left/right values). */
export function jsonText(v, n = 160) {
  if (v === undefined) return '(absent)';
  let t;
  try { t = JSON.stringify(v); } catch (e) { t = String(v); }
  return short(t === undefined ? String(v) : t, n);
}

/** Two thin bars: raw (primary vs candidate) over noise (primary vs secondary). */
export function bars(raw, noise, compared, regression) {
  const w = (n) => (compared > 0 ? Math.min(100, (n / compared) * 100) : 0);
  const rb = h('span', {class: ['bar', 'bar-raw', regression && 'bar-reg']});
  const nb = h('span', {class: 'bar bar-noise'});
  // CSSOM writes (not style attributes) are allowed by style-src 'self'.
  rb.style.width = w(raw) + '%';
  nb.style.width = w(noise) + '%';
  return h('span', {class: 'bars', title: `raw ${raw} · noise ${noise} of ${compared} compared`},
    h('span', {class: 'track'}, rb), h('span', {class: 'track'}, nb));
}

/** Sortable table helper: columns [{key, label, num, get(row), render(row)}];
 * state {key, dir} is kept by the caller so it survives refreshes. */
export function sortRows(rows, columns, state) {
  const col = columns.find((c) => c.key === state.key);
  if (!col) return rows.slice();
  const get = col.get || ((r) => r[col.key]);
  const dir = state.dir === 'asc' ? 1 : -1;
  return rows.map((r, i) => [r, i]).sort((a, b) => {
    const x = get(a[0]), y = get(b[0]);
    let c;
    if (typeof x === 'number' || typeof y === 'number') c = (x ?? -Infinity) - (y ?? -Infinity);
    else c = String(x ?? '').localeCompare(String(y ?? ''));
    if (Number.isNaN(c)) c = 0;
    return c !== 0 ? c * dir : (col.tie ? col.tie(a[0], b[0]) : a[1] - b[1]);
  }).map((p) => p[0]);
}

export function sortHeader(columns, state, onChange) {
  return h('thead', null, h('tr', null, columns.map((c) => {
    const active = state.key === c.key;
    const th = h('th', {
      class: [c.num && 'num', 'sortable', active && 'sorted'],
      title: c.title || ('Sort by ' + c.label),
      'aria-sort': active ? (state.dir === 'asc' ? 'ascending' : 'descending') : 'none',
      'data-key': c.key,
      tabindex: '0',
    }, c.label, h('span', {class: 'arrow'}, active ? (state.dir === 'asc' ? ' ▲' : ' ▼') : ''));
    const go = () => {
      if (state.key === c.key) state.dir = state.dir === 'asc' ? 'desc' : 'asc';
      else { state.key = c.key; state.dir = c.num ? 'desc' : 'asc'; }
      onChange();
    };
    th.addEventListener('click', go);
    th.addEventListener('keydown', (e) => { if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); go(); } });
    return th;
  })));
}

/** Persisted UI state (sort orders, open nodes) for this tab. */
export function remember(key, fallback) {
  try {
    const v = JSON.parse(sessionStorage.getItem('diffd.ui.' + key));
    if (v != null) return v;
  } catch (e) { /* ignore */ }
  return fallback;
}

export function store(key, value) {
  try { sessionStorage.setItem('diffd.ui.' + key, JSON.stringify(value)); } catch (e) { /* ignore */ }
}
