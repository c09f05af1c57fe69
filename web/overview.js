// Overview: the verdict, the totals and every endpoint in a sortable table.

import {bars, fill, h, int, ms, pct, remember, route, sortHeader, sortRows, store} from './dom.js';

const p99 = (e, leg) => e.latency_ms?.[leg]?.p99;
const bad = (e, leg) => (e.status?.[leg]?.['5xx'] || 0) + (e.status?.[leg]?.error || 0);
const rawPct = (e) => (e.compared ? (e.differing?.raw || 0) / e.compared : -1);
const noisePct = (e) => (e.compared ? (e.differing?.noise || 0) / e.compared : -1);

const COLUMNS = [
  {key: 'name', label: 'Endpoint', get: (e) => e.name,
    render: (e) => h('td', {class: 'name'}, h('a', {href: route.endpoint(e.name)}, e.name),
      e.latency_regression ? h('span', {class: 'tag tag-reg', title: 'latency regression'}, 'latency') : null)},
  {key: 'regressions', label: 'Regressions', num: true, get: (e) => e.regressions || 0,
    title: 'Field and latency regressions on this endpoint',
    render: (e) => h('td', {class: ['num', e.regressions && 'reg-count']}, e.regressions ? int(e.regressions) : '0')},
  {key: 'compared', label: 'Compared', num: true, title: 'Trials compared (of requests received)',
    render: (e) => h('td', {class: 'num', title: `${int(e.received)} received, ${int(e.sampled)} sampled`}, int(e.compared))},
  {key: 'raw', label: 'Differing', num: true, get: rawPct, title: 'Trials where the candidate differs from the primary',
    render: (e) => h('td', {class: 'num'}, pct(e.differing?.raw || 0, e.compared))},
  {key: 'noise', label: 'Noise', num: true, get: noisePct, title: 'Trials where the secondary differs from the primary',
    render: (e) => h('td', {class: 'num muted'}, pct(e.differing?.noise || 0, e.compared))},
  {key: 'bars', label: 'Raw vs noise', get: (e) => rawPct(e) - noisePct(e), num: true,
    render: (e) => h('td', {class: 'barcell'}, bars(e.differing?.raw || 0, e.differing?.noise || 0, e.compared, e.regressions > 0))},
  {key: 'p99p', label: 'p99 primary', num: true, get: (e) => p99(e, 'primary'),
    render: (e) => h('td', {class: 'num'}, ms(p99(e, 'primary')))},
  {key: 'p99c', label: 'p99 candidate', num: true, get: (e) => p99(e, 'candidate'),
    render: (e) => {
      const c = p99(e, 'candidate'), p = p99(e, 'primary');
      const ratio = c && p ? c / p : null;
      return h('td', {class: ['num', e.latency_regression && 'reg-count']}, ms(c),
        ratio ? h('span', {class: ['ratio', e.latency_regression ? 'worse' : null]}, ` ×${ratio.toFixed(2)}`) : null);
    }},
  {key: 'errors', label: '5xx+err P / C', num: true, get: (e) => bad(e, 'candidate') - bad(e, 'primary'),
    title: '5xx answers and failed legs: primary / candidate',
    render: (e) => h('td', {class: ['num', bad(e, 'candidate') > bad(e, 'primary') && 'worse']},
      `${int(bad(e, 'primary'))} / ${int(bad(e, 'candidate'))}`)},
];

function tie(a, b) {
  return (b.regressions || 0) - (a.regressions || 0) || rawPct(b) - rawPct(a) || String(a.name).localeCompare(String(b.name));
}
COLUMNS.forEach((c) => { c.tie = tie; });

export function mount(root, _arg, app) {
  const sort = remember('overview.sort', {key: 'regressions', dir: 'desc'});
  const banner = h('section', {class: 'verdict verdict-unknown', id: 'verdict'}, 'Loading…');
  const totals = h('div', {class: 'totals'});
  const filter = h('input', {type: 'search', class: 'filter', placeholder: 'filter endpoints', 'aria-label': 'filter endpoints',
    value: remember('overview.filter', '')});
  const table = h('table', {class: 'grid-table', id: 'endpoints'});
  const count = h('span', {class: 'muted'});
  root.append(banner, totals,
    h('section', {class: 'panel'},
      h('div', {class: 'panel-head'}, h('h2', null, 'Endpoints'), count, h('span', {class: 'spacer'}), filter),
      h('div', {class: 'table-wrap'}, table)));

  let painted = '';
  function paint(force) {
    const data = app.endpoints;
    if (!data) return;
    // Unchanged data, sort and filter: leave the DOM alone (keeps a text selection).
    const sig = JSON.stringify([data, sort, filter.value]);
    if (!force && sig === painted) return;
    painted = sig;
    const v = String(data.verdict || 'unknown');
    const eps = data.endpoints || [];
    const regs = eps.reduce((a, e) => a + (e.regressions || 0), 0);
    const regEps = eps.filter((e) => e.regressions > 0);
    banner.className = 'verdict verdict-' + (['pass', 'fail', 'insufficient'].includes(v) ? v : 'unknown');
    const t = data.totals || {};
    let detail;
    if (v === 'fail') {
      detail = [`${regs} regression${regs === 1 ? '' : 's'} on `,
        regEps.slice(0, 4).map((e, i) => [i ? ', ' : '', h('a', {href: route.endpoint(e.name)}, e.name)]),
        regEps.length > 4 ? ` and ${regEps.length - 4} more` : ''];
    } else if (v === 'pass') {
      detail = `no regressions in ${int(t.compared)} compared trials`;
    } else if (v === 'insufficient') {
      detail = 'not enough compared trials yet for a verdict';
    } else {
      detail = '';
    }
    fill(banner, h('span', {class: 'verdict-word'}, v.toUpperCase()), h('span', {class: 'verdict-detail'}, detail),
      data.noise_subtraction === false ? h('span', {class: 'tag tag-warn', title: 'diffd runs without --secondary'}, 'no noise subtraction') : null);

    const sk = t.skipped || {};
    const stat = (label, value, title) => h('div', {class: 'stat', title: title || label}, h('div', {class: 'stat-v'}, value), h('div', {class: 'stat-l'}, label));
    fill(totals,
      stat('received', int(t.received)),
      stat('sampled', int(t.sampled)),
      stat('compared', int(t.compared)),
      stat('skipped: side effect', int(sk.side_effect), 'POST/PUT/PATCH/DELETE not compared (see --allow-side-effects)'),
      stat('skipped: overload', int(sk.overload), 'not compared because --max-inflight was reached'),
      stat('skipped: rule', int(sk.rule), 'skipped by a skip rule'),
      stat('skipped: analysis', int(sk.analysis), 'answered but not compared: the analysis queue was full (--analysis-queue-bytes, --analysis-queue-trials)'),
      stat('endpoints', int(eps.length)),
      stat('regressed endpoints', int(regEps.length)));

    const q = filter.value.trim().toLowerCase();
    const shown = eps.filter((e) => !q || String(e.name).toLowerCase().includes(q));
    count.textContent = q ? `${shown.length} of ${eps.length}` : `${eps.length}`;
    const rows = sortRows(shown, COLUMNS, sort);
    fill(table, sortHeader(COLUMNS, sort, () => { store('overview.sort', sort); paint(); }),
      h('tbody', null, rows.length ? rows.map((e) => h('tr', {class: [e.regressions > 0 && 'regressed'], 'data-endpoint': e.name},
        COLUMNS.map((c) => c.render(e)))) : h('tr', null, h('td', {colspan: COLUMNS.length, class: 'empty'},
        eps.length ? 'No endpoint matches the filter.' : 'No traffic yet. Send requests through the diffd proxy port.'))));
  }
  filter.addEventListener('input', () => { store('overview.filter', filter.value); paint(); });

  return {refresh: async () => paint()};
}
