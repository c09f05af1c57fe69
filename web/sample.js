// Sample view: the request, then primary / secondary / candidate side by side with
// the differing paths highlighted (raw differences on the primary and candidate,
// noise on the primary and secondary), and the list of differences.

import {api, enc} from './api.js';
import {fill, h, int, jsonText, ms, route, time} from './dom.js';
import {parse, render} from './json.js';
import {LEGS} from './chart.js';

function bodyText(part) {
  if (!part) return {text: '', binary: false};
  if (typeof part.body === 'string') return {text: part.body, binary: false};
  if (typeof part.body_base64 === 'string') return {text: part.body_base64, binary: true};
  return {text: '', binary: false};
}

function bodyView(part, marks, found, whole) {
  const {text, binary} = bodyText(part);
  const note = [];
  if (part?.body_truncated) note.push(h('p', {class: 'note'}, `body truncated in storage (${int(part.body_bytes)} bytes in all)`));
  if (binary) {
    return h('div', {class: ['body', whole && 'hl-diff']}, note,
      h('p', {class: 'muted'}, `binary body, ${int(part.body_bytes ?? text.length)} bytes (base64):`),
      h('pre', {class: 'raw'}, text.slice(0, 4096) + (text.length > 4096 ? '…' : '')));
  }
  if (!text) return h('div', {class: ['body', whole && 'hl-diff']}, note, h('p', {class: 'muted'}, '(empty body)'));
  const tree = parse(text);
  if (!tree) return h('div', {class: ['body', whole && 'hl-diff']}, note, h('pre', {class: 'raw'}, text));
  const r = render(tree, marks);
  r.found.forEach((el, p) => found.set(p, el));
  return h('div', {class: 'body'}, note, r.el);
}

function headersTable(headers, marks) {
  const list = Array.isArray(headers) ? headers : [];
  return h('table', {class: 'headers'}, h('tbody', null, list.map(([n, v]) => {
    const cls = marks.get('header.' + String(n).toLowerCase());
    return h('tr', {class: cls, 'data-path': 'header.' + String(n).toLowerCase()}, h('th', null, String(n)), h('td', null, String(v)));
  })));
}

export function mount(root, id, app) {
  const box = h('div', null, h('p', {class: 'muted'}, 'Loading sample…'));
  const crumbs = h('nav', {class: 'crumbs'}, h('a', {href: route.overview()}, 'Overview'), ' › ', h('span', null, 'sample'));
  root.append(crumbs, box);
  let loaded = false;

  function show(sm) {
    // Samples list a bounded number of differences per field and in all.
    const notListed = (side) => {
      const n = Number(sm.differences?.not_listed?.[side] || 0);
      return n > 0 ? h('p', {class: 'note'}, `${int(n)} more ${side} differences of the same fields not listed in the sample`) : null;
    };
    const raw = sm.differences?.raw || [];
    const noise = sm.differences?.noise || [];
    // Marks per leg: path -> class.
    // A raw difference at a path where the secondary differs too is noise in this
    // trial: grey. Red is kept for what only the candidate changed.
    const noisy = new Set(noise.map((d) => d.path));
    const marks = {primary: new Map(), secondary: new Map(), candidate: new Map()};
    for (const d of noise) {
      if (d.kind !== 'extra') marks.primary.set(d.path, 'hl-noise');
      if (d.kind !== 'missing') marks.secondary.set(d.path, 'hl-noise');
    }
    for (const d of raw) {
      const cls = noisy.has(d.path) ? 'hl-noise' : 'hl-diff';
      if (d.kind !== 'extra') marks.primary.set(d.path, cls);
      if (d.kind !== 'missing') marks.candidate.set(d.path, cls);
    }
    raw.sort((a, b) => noisy.has(a.path) - noisy.has(b.path));
    const found = {primary: new Map(), secondary: new Map(), candidate: new Map()};
    fill(crumbs, h('a', {href: route.overview()}, 'Overview'), ' › ',
      h('a', {href: route.endpoint(sm.endpoint)}, sm.endpoint), ' › ', h('span', null, 'sample ', h('code', null, sm.id)));

    const req = sm.request || {};
    const reqBody = bodyText(req);
    const reqPanel = h('section', {class: 'panel'},
      h('div', {class: 'panel-head'}, h('h2', null, 'Request'), h('span', {class: 'muted'}, time(sm.time))),
      h('div', {class: 'reqline'}, h('code', null, `${req.method || ''} ${req.target || ''}`)),
      h('details', null, h('summary', null, `headers (${(req.headers || []).length})`), headersTable(req.headers, new Map())),
      reqBody.text ? h('details', null, h('summary', null, `body (${int(req.body_bytes ?? reqBody.text.length)} bytes)`),
        bodyView(req, new Map(), new Map(), false)) : null);

    const column = (leg) => {
      const r = sm.responses?.[leg];
      if (!r) return h('section', {class: 'leg leg-col-' + leg}, h('h3', null, leg), h('p', {class: 'muted'}, 'not sent (no secondary)'));
      const m = marks[leg];
      const statusCls = m.get('status');
      const hdrDiff = [...m.keys()].some((p) => p.startsWith('header.'));
      return h('section', {class: 'leg leg-col-' + leg, 'data-leg': leg},
        h('h3', null, h('span', {class: 'sw sw-' + leg}), leg,
          h('span', {class: ['status', statusCls, r.status >= 500 || !r.status ? 'status-bad' : null], 'data-path': 'status'},
            r.status ? String(r.status) : 'no answer'),
          h('span', {class: 'muted lat'}, ms(r.latency_ms))),
        r.error ? h('p', {class: ['leg-error', m.get('error')], 'data-path': 'error'}, String(r.error)) : null,
        h('details', {open: hdrDiff || null}, h('summary', null, `headers (${(r.headers || []).length})`), headersTable(r.headers, m)),
        bodyView(r, m, found[leg], m.has('body')));
    };

    const diffTable = (list, which) => list.length ? h('table', {class: 'grid-table compact diffs', 'data-diffs': which},
      h('thead', null, h('tr', null, h('th', null, 'path'), h('th', null, 'kind'), h('th', null, 'primary'),
        h('th', null, which === 'raw' ? 'candidate' : 'secondary'))),
      h('tbody', null, list.map((d) => {
        const tr = h('tr', {class: 'clickable', title: 'show in the responses'},
          h('td', null, h('code', null, d.path),
            which === 'raw' && noisy.has(d.path) ? h('span', {class: 'tag', title: 'the secondary differs from the primary here too'}, 'noise') : null),
          h('td', null, d.kind),
          h('td', {class: 'val'}, jsonText(d.left)), h('td', {class: 'val'}, jsonText(d.right)));
        tr.addEventListener('click', () => {
          const el = found[which === 'raw' ? 'candidate' : 'secondary'].get(d.path) || found.primary.get(d.path);
          if (el) { el.scrollIntoView({block: 'center'}); el.classList.add('flash'); setTimeout(() => el.classList.remove('flash'), 1200); }
        });
        return tr;
      }))) : h('p', {class: 'muted'}, which === 'raw' ? 'The candidate answered like the primary.' : 'No noise in this trial.');

    const patch = h('details', {class: 'patch'}, h('summary', null, 'JSON Patch, primary → candidate (RFC 6902)'));
    const patchBody = h('pre', {class: 'raw'}, 'Loading…');
    patch.append(patchBody);
    patch.addEventListener('toggle', async () => {
      if (!patch.open || patch.dataset.loaded) return;
      try {
        const p = await api(`/api/v1/samples/${enc(sm.id)}?format=patch`);
        patchBody.textContent = JSON.stringify(p, null, 2);
        patch.dataset.loaded = '1';
      } catch (e) { patchBody.textContent = String(e.message); }
    });

    fill(box, reqPanel,
      h('section', {class: 'panel'},
        h('div', {class: 'panel-head'}, h('h2', null, 'Differences'),
          h('span', {class: 'legend-inline'}, h('span', {class: 'sw hl-diff'}), 'candidate differs from primary', h('span', {class: 'sw hl-noise'}), 'secondary differs too (noise)')),
        diffTable(raw, 'raw'),
        notListed('raw'),
        h('details', {open: raw.length === 0 && noise.length > 0 || null}, h('summary', null, `noise (${noise.length})`), diffTable(noise, 'noise'), notListed('noise')),
        patch),
      // Without --secondary there is no secondary response: two columns, more room.
      sm.responses?.secondary ? h('div', {class: 'legs'}, LEGS.map(column))
        : [h('p', {class: 'note'}, 'diffd runs without a secondary: noise is not measured, every difference counts.'),
          h('div', {class: 'legs legs-2'}, ['primary', 'candidate'].map(column))]);
    loaded = true;
  }

  return {
    async refresh() {
      if (loaded) return; // a stored sample does not change
      try {
        show(await api(`/api/v1/samples/${enc(id)}`));
      } catch (e) {
        fill(box, h('div', {class: 'banner banner-error'}, e.status === 404 ? `No stored sample “${id}” (it may have been cleared or evicted).` : String(e.message)));
        if (e.status !== 404) throw e;
      }
    },
  };
}
