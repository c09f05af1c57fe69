// Endpoint view: regressions, the field tree with raw-vs-noise bars (regressions
// first), the three legs' latency histograms, status classes and recent samples.

import {api, enc} from './api.js';
import {bars, fill, h, int, ms, pct, pctv, remember, route, store, time, short} from './dom.js';
import {latencyChart, legend, LEGS} from './chart.js';

const SEG = /^(\.[A-Za-z_][A-Za-z0-9_]*|\[\*\]|\[\d+\]|\['(?:[^'\\]|\\.)*'\]|\.\.[A-Za-z_][A-Za-z0-9_]*)/;

/** Split a field path into tree segments: [group, ...]. */
function segments(path) {
  if (path.startsWith('header.')) return ['headers', path.slice(7)];
  if (!path.startsWith('$')) return [path];
  const out = ['$'];
  let rest = path.slice(1);
  while (rest) {
    const m = SEG.exec(rest);
    if (!m) { out.push(rest); break; }
    out.push(m[1]);
    rest = rest.slice(m[1].length);
  }
  return out;
}

function severity(f) {
  return [f.regression ? 1 : 0, f.absolute || 0, (f.raw || 0) - (f.noise || 0), f.raw || 0];
}
function cmpSev(a, b) {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return b[i] - a[i];
  return 0;
}

/** Build the tree: nodes {key, label, field, kids: [], sev, fields, regs}. */
function buildTree(fields) {
  const root = {key: '', label: '', kids: new Map()};
  for (const f of fields) {
    const segs = segments(f.path);
    let node = root, key = '';
    segs.forEach((seg, i) => {
      key += (i ? '\u0000' : '') + seg;
      if (!node.kids.has(seg)) node.kids.set(seg, {key, label: seg, kids: new Map()});
      node = node.kids.get(seg);
    });
    node.field = f;
  }
  function finish(node) {
    let kids = [...node.kids.values()].map(finish);
    node.sev = node.field ? severity(node.field) : [0, 0, -Infinity, 0];
    node.fields = node.field ? 1 : 0;
    node.regs = node.field && node.field.regression ? 1 : 0;
    for (const k of kids) {
      if (cmpSev(k.sev, node.sev) < 0) node.sev = k.sev;
      node.fields += k.fields;
      node.regs += k.regs;
    }
    kids.sort((a, b) => cmpSev(a.sev, b.sev) || a.label.localeCompare(b.label));
    // Compress chains of plain groups ($ → .order → .lines) into one row.
    while (!node.field && kids.length === 1 && node.label && node.label !== 'headers') {
      const k = kids[0];
      node.label += k.label; node.key = k.key; node.field = k.field; kids = k.kids;
      if (node.field) break;
    }
    node.kids = kids;
    return node;
  }
  return finish(root).kids;
}

function kindsText(kinds) {
  const parts = Object.entries(kinds || {}).filter(([, n]) => n > 0).map(([k, n]) => `${k} ${n}`);
  return parts.length ? parts.join(', ') : '–';
}

export function mount(root, name, app) {
  const closed = new Set(remember('ep.closed.' + name, []));
  const open = new Set(remember('ep.open.' + name, []));
  const sampleCache = new Map();
  let data = null;
  let recent = null;
  let painted = '';

  const title = h('h1', {class: 'ep-title'}, name);
  const summary = h('div', {class: 'totals'});
  const regsBox = h('div', {class: 'regs'});
  const filter = h('input', {type: 'search', class: 'filter', placeholder: 'filter fields', 'aria-label': 'filter fields',
    value: remember('ep.filter', '')});
  const tree = h('table', {class: 'grid-table tree', id: 'fields'});
  const fieldCount = h('span', {class: 'muted'});
  const chartBox = h('div', {class: 'chart-box'});
  const latTable = h('table', {class: 'grid-table compact', id: 'latency'});
  const statusTable = h('table', {class: 'grid-table compact', id: 'status'});
  const recentBox = h('div', {class: 'table-wrap'});
  const err = h('div', {class: 'banner banner-error', hidden: true});

  root.append(
    h('nav', {class: 'crumbs'}, h('a', {href: route.overview()}, 'Overview'), ' › ', h('span', null, 'endpoint')),
    title, err, summary, regsBox,
    h('section', {class: 'panel'},
      h('div', {class: 'panel-head'}, h('h2', null, 'Fields'), fieldCount,
        h('span', {class: 'legend-inline'}, h('span', {class: 'sw sw-raw'}), 'raw: primary ≠ candidate',
          h('span', {class: 'sw sw-noise'}), 'noise: primary ≠ secondary'),
        h('span', {class: 'spacer'}), filter),
      h('div', {class: 'table-wrap'}, tree)),
    h('div', {class: 'cols'},
      h('section', {class: 'panel grow'}, h('div', {class: 'panel-head'}, h('h2', null, 'Latency'), legend()), chartBox),
      h('section', {class: 'panel'}, h('h2', null, 'Quantiles'), latTable, h('h2', null, 'Status'), statusTable)),
    h('section', {class: 'panel'}, h('div', {class: 'panel-head'}, h('h2', null, 'Recent samples')), recentBox));

  const save = () => { store('ep.closed.' + name, [...closed]); store('ep.open.' + name, [...open]); };

  function samplesRows(list, highlight) {
    if (!list.length) return h('p', {class: 'muted'}, 'No stored samples.');
    return h('table', {class: 'grid-table compact samples'},
      h('thead', null, h('tr', null, h('th', null, 'sample'), h('th', null, 'time'),
        ...LEGS.map((l) => h('th', {class: 'num'}, l)), h('th', null, 'differing fields'))),
      h('tbody', null, list.map((sm) => h('tr', null,
        h('td', null, h('a', {href: route.sample(sm.id), class: 'sample-link'}, sm.id)),
        h('td', {class: 'nowrap'}, time(sm.time)),
        ...LEGS.map((l) => {
          const st = sm.status?.[l];
          const differs = l !== 'primary' && st !== sm.status?.primary;
          if (st == null) return h('td', {class: 'num muted', title: 'not sent'}, '–');
          return h('td', {class: ['num', differs && 'worse']}, st === 0 ? 'err' : String(st));
        }),
        h('td', {class: 'paths'}, (sm.fields || []).slice(0, 8).map((p, i) => [i ? ' ' : '',
          h('code', {class: p === highlight ? 'hl' : null}, short(p, 60))]),
        (sm.fields || []).length > 8 ? ` +${sm.fields.length - 8}` : '')))));
  }

  async function loadSamples(path) {
    try {
      const r = await api(`/api/v1/samples?endpoint=${enc(name)}&field=${enc(path)}`);
      sampleCache.set(path, r.samples || []);
    } catch (e) {
      if (!sampleCache.has(path)) sampleCache.set(path, null);
    }
  }

  function details(f) {
    const cached = sampleCache.get(f.path);
    const ids = f.samples || [];
    return h('tr', {class: 'details', 'data-details': f.path}, h('td', {colspan: 8},
      h('div', {class: 'detail-grid'},
        h('div', null, h('b', null, 'path '), h('code', null, f.path)),
        h('div', null, h('b', null, 'raw '), int(f.raw), h('span', {class: 'muted'}, ` (${kindsText(f.kinds)})`)),
        h('div', null, h('b', null, 'noise '), int(f.noise), h('span', {class: 'muted'}, ` (${kindsText(f.noise_kinds)})`)),
        h('div', null, h('b', null, 'relative '), pctv(f.relative), h('b', null, ' absolute '), pctv(f.absolute),
          f.regression ? h('span', {class: 'tag tag-reg'}, 'regression') : h('span', {class: 'tag'}, 'within noise'))),
      cached === undefined ? h('p', {class: 'muted'}, 'Loading samples…')
        : cached === null ? h('p', null, 'Samples: ', ids.map((id, i) => [i ? ', ' : '', h('a', {href: route.sample(id), class: 'sample-link'}, id)]))
          : samplesRows(cached, f.path)));
  }

  function fieldCells(f, compared) {
    return [
      h('td', {class: 'num'}, int(f.raw)),
      h('td', {class: 'num muted'}, int(f.noise)),
      h('td', {class: 'barcell'}, bars(f.raw, f.noise, compared, f.regression)),
      h('td', {class: 'num', title: '(raw − noise) / compared'}, pctv(f.absolute)),
      h('td', {class: 'num', title: '(raw − noise) / (raw + noise)'}, pctv(f.relative)),
      h('td', {class: 'kinds'}, kindsText(f.kinds)),
    ];
  }

  function paintTree() {
    if (!data) return;
    const q = filter.value.trim().toLowerCase();
    const fields = (data.fields || []).filter((f) => !q || f.path.toLowerCase().includes(q));
    const nodes = buildTree(fields);
    const regs = fields.filter((f) => f.regression).length;
    fieldCount.textContent = `${fields.length} field${fields.length === 1 ? '' : 's'}` + (regs ? `, ${regs} regressed` : '') +
      (data.fields_dropped ? ` · ${int(data.fields_dropped)} differences on untracked fields (cap)` : '');
    const rows = [];
    const walk = (node, depth) => {
      const f = node.field;
      const hasKids = node.kids.length > 0;
      const isOpen = hasKids && !closed.has(node.key);
      const detailOpen = f && open.has(f.path);
      const caret = h('button', {type: 'button', class: 'caret', 'aria-expanded': String(hasKids ? isOpen : Boolean(detailOpen)),
        title: hasKids ? 'show/hide the fields below' : 'show details and samples'}, (hasKids ? isOpen : detailOpen) ? '▾' : '▸');
      const label = f
        ? h('button', {type: 'button', class: 'field-name', title: f.path}, node.label)
        : h('span', {class: 'group-name'}, node.label === 'headers' ? 'headers' : node.label === '$' ? '$ (body)' : node.label);
      const toggleDetails = () => {
        if (open.has(f.path)) open.delete(f.path); else { open.add(f.path); loadSamples(f.path).then(paintTree); }
        save(); paintTree();
      };
      caret.addEventListener('click', () => {
        if (hasKids) { if (closed.has(node.key)) closed.delete(node.key); else closed.add(node.key); save(); paintTree(); }
        else if (f) toggleDetails();
      });
      if (f) label.addEventListener('click', toggleDetails);
      const first = h('td', {class: 'tree-cell'}, h('span', {class: 'indent indent-' + Math.min(depth, 12)}), caret, label,
        f && f.regression ? h('span', {class: 'tag tag-reg'}, 'regression') : null,
        !f || hasKids ? h('span', {class: 'muted sub'}, ` ${node.fields} field${node.fields === 1 ? '' : 's'}${node.regs ? `, ${node.regs} regressed` : ''}`) : null);
      rows.push(h('tr', {class: [f ? 'field' : 'group', f && f.regression && 'regressed'], 'data-field': f ? f.path : null},
        first, f ? fieldCells(f, data.compared) : h('td', {colspan: 6})));
      if (detailOpen) rows.push(details(f));
      if (isOpen) node.kids.forEach((k) => walk(k, depth + 1));
    };
    nodes.forEach((n) => walk(n, 0));
    fill(tree,
      h('thead', null, h('tr', null, h('th', null, 'Field'), h('th', {class: 'num'}, 'Raw'), h('th', {class: 'num'}, 'Noise'),
        h('th', null, 'Raw vs noise'), h('th', {class: 'num', title: '(raw − noise) / compared'}, 'Excess'),
        h('th', {class: 'num', title: '(raw − noise) / (raw + noise)'}, 'Relative'), h('th', null, 'Kinds (raw)'))),
      h('tbody', null, rows.length ? rows : h('tr', null, h('td', {colspan: 7, class: 'empty'},
        (data.fields || []).length ? 'No field matches the filter.' : 'No field differs on this endpoint.'))));
  }
  filter.addEventListener('input', () => { store('ep.filter', filter.value); paintTree(); });

  function paint() {
    const d = data;
    const raw = d.differing?.raw, noise = d.differing?.noise;
    const ep = (app.endpoints?.endpoints || []).find((e) => e.name === name) || {};
    const stat = (label, value, cls) => h('div', {class: ['stat', cls]}, h('div', {class: 'stat-v'}, value), h('div', {class: 'stat-l'}, label));
    fill(summary,
      stat('compared', int(d.compared)),
      ep.received != null ? stat('received', int(ep.received)) : null,
      raw != null ? stat('differing (raw)', pct(raw, d.compared)) : null,
      noise != null ? stat('noise', pct(noise, d.compared)) : null,
      stat('field regressions', int((d.fields || []).filter((f) => f.regression).length), (d.fields || []).some((f) => f.regression) ? 'stat-bad' : null),
      stat('latency', d.latency_regression ? 'REGRESSION' : 'ok', d.latency_regression ? 'stat-bad' : null),
      stat('p99 primary → candidate', `${ms(d.latency_ms?.primary?.p99)} → ${ms(d.latency_ms?.candidate?.p99)}`));

    const regFields = (d.fields || []).filter((f) => f.regression);
    fill(regsBox, regFields.length || d.latency_regression ? h('section', {class: 'panel panel-bad'},
      h('h2', null, 'Regressions'),
      h('ul', {class: 'reg-list'},
        regFields.map((f) => h('li', null, h('code', null, f.path), ` — candidate differs in ${int(f.raw)} of ${int(d.compared)} trials, ` +
          (app.endpoints?.noise_subtraction === false ? 'no secondary to measure noise' : `secondary in ${int(f.noise)}`) + ` (${kindsText(f.kinds)})`)),
        d.latency_regression ? h('li', null, 'latency — candidate p50 ', ms(d.latency_ms?.candidate?.p50), ' / p99 ', ms(d.latency_ms?.candidate?.p99),
          ' vs primary ', ms(d.latency_ms?.primary?.p50), ' / ', ms(d.latency_ms?.primary?.p99)) : null)) : null);

    paintTree();
    fill(chartBox, latencyChart(d.latency_histogram || {}, d.latency_ms || {}, app.growth));
    const q = ['n', 'p50', 'p90', 'p99'];
    fill(latTable, h('thead', null, h('tr', null, h('th', null, 'leg'), q.map((k) => h('th', {class: 'num'}, k)))),
      h('tbody', null, LEGS.map((leg) => {
        const l = d.latency_ms?.[leg] || {};
        return h('tr', null, h('td', null, h('span', {class: 'sw sw-' + leg}), leg),
          q.map((k) => h('td', {class: ['num', leg === 'candidate' && d.latency_regression && k !== 'n' && 'worse']}, k === 'n' ? int(l.n) : ms(l[k]))));
      })));
    const classes = ['2xx', '3xx', '4xx', '5xx', 'error'];
    fill(statusTable, h('thead', null, h('tr', null, h('th', null, 'leg'), classes.map((c) => h('th', {class: 'num'}, c)))),
      h('tbody', null, LEGS.map((leg) => h('tr', null, h('td', null, leg), classes.map((c) => {
        const v = d.status?.[leg]?.[c];
        const worse = leg === 'candidate' && (c === '5xx' || c === 'error') && (v || 0) > (d.status?.primary?.[c] || 0);
        return h('td', {class: ['num', worse && 'worse']}, int(v ?? 0));
      })))));
    fill(recentBox, recent === null ? h('p', {class: 'muted'}, 'Loading…') : samplesRows(recent.slice(0, 25)));
  }

  return {
    async refresh() {
      try {
        const [d, sm] = await Promise.all([
          api(`/api/v1/endpoints/${enc(name)}/fields`),
          api(`/api/v1/samples?endpoint=${enc(name)}`).catch(() => ({samples: []})),
          ...[...open].map((p) => loadSamples(p)),
        ]);
        // Unchanged answers: leave the DOM alone (keeps a text selection, hover).
        const sig = JSON.stringify([d, sm, [...sampleCache], app.endpoints?.endpoints?.find((e) => e.name === name)]);
        if (sig === painted && err.hidden) return;
        painted = sig;
        data = d;
        recent = (sm.samples || []).slice().sort((a, b) => String(b.time).localeCompare(String(a.time)));
        err.hidden = true;
        paint();
      } catch (e) {
        err.hidden = false;
        err.textContent = e.status === 404 ? `No endpoint named “${name}” (yet).` : String(e.message);
        if (e.status !== 404) throw e;
      }
    },
  };
}
