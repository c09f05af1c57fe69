// diffd dashboard: hash routing, the header (verdict, pause, sample rate, refresh)
// and the refresh loop. Views update their data regions in place, so scroll
// position, open tree nodes, sort orders and inputs survive each refresh.

import {api, ApiError} from './api.js';
import {fill, h} from './dom.js';
import * as overview from './overview.js';
import * as endpoint from './endpoint.js';
import * as sample from './sample.js';
import * as rules from './rules.js';

const REFRESH_MS = 5000;
const $ = (id) => document.getElementById(id);

const app = {
  endpoints: null, // last GET /api/v1/endpoints
  config: null,
  view: null,
  viewName: '',
  timer: 0,
  busy: null,
  again: false,
};

function parseRoute() {
  const raw = location.hash.replace(/^#/, '') || '/';
  const m = /^\/(endpoint|sample)\/(.*)$/.exec(raw);
  const dec = (t) => { try { return decodeURIComponent(t); } catch (e) { return t; } };
  if (m) return {name: m[1], arg: dec(m[2])};
  if (raw === '/rules') return {name: 'rules'};
  if (raw === '/' || raw === '') return {name: 'overview'};
  return {name: 'notfound', arg: raw};
}

const VIEWS = {overview, endpoint, sample, rules};

let lastHash = null;
const scrolls = new Map(); // route -> scroll position, restored on back/forward

function navigate() {
  if (lastHash !== null) scrolls.set(lastHash, window.scrollY);
  lastHash = location.hash || '#/';
  const r = parseRoute();
  if (app.view && app.view.destroy) app.view.destroy();
  const root = $('view');
  root.replaceChildren();
  document.querySelectorAll('[data-nav]').forEach((a) => a.classList.toggle('active', a.dataset.nav === r.name));
  app.viewName = r.name;
  if (r.name === 'notfound') {
    app.view = null;
    root.append(h('section', {class: 'panel'}, h('h1', null, 'Not found'),
      h('p', null, 'No view for ', h('code', null, r.arg), '. ', h('a', {href: '#/'}, 'Back to the overview'))));
    return;
  }
  app.view = VIEWS[r.name].mount(root, r.arg, app);
  window.scrollTo(0, 0);
  const y = scrolls.get(lastHash) || 0;
  if (y) app.view.afterPaint = () => window.scrollTo(0, y);
  refresh();
}

function showConnError(e) {
  const el = $('conn-error');
  if (!e) { el.hidden = true; return; }
  el.hidden = false;
  fill(el, e instanceof ApiError && e.status === 0 ? 'diffd is unreachable — showing the last data, retrying every 5 s.'
    : String(e.message || e));
}

function updateHeader() {
  const eps = app.endpoints;
  const pill = $('verdict-pill');
  if (eps) {
    const v = String(eps.verdict || 'unknown');
    const regs = (eps.endpoints || []).reduce((a, e) => a + (e.regressions || 0), 0);
    pill.className = 'pill pill-' + (['pass', 'fail', 'insufficient'].includes(v) ? v : 'unknown');
    pill.textContent = v === 'fail' ? `FAIL · ${regs} regression${regs === 1 ? '' : 's'}` : v.toUpperCase();
    document.title = `diffd · ${v}`;
  }
  const cfg = app.config;
  const pause = $('pause-btn');
  const rate = $('sample-rate');
  if (cfg) {
    pause.disabled = false;
    pause.textContent = cfg.paused ? 'Resume' : 'Pause';
    pause.classList.toggle('primary', Boolean(cfg.paused));
    $('paused-badge').hidden = !cfg.paused;
    rate.disabled = false;
    if (document.activeElement !== rate) rate.value = String(cfg.sample_percent);
  } else {
    pause.disabled = true;
    rate.disabled = true;
  }
  $('updated').textContent = 'updated ' + new Date().toLocaleTimeString('en-GB');
}

/** One refresh: the shared data (endpoints, config) and the current view's. */
function refresh() {
  if (app.busy) { app.again = true; return app.busy; }
  clearTimeout(app.timer);
  const view = app.view;
  app.busy = (async () => {
    try {
      const [eps, cfg] = await Promise.all([
        api('/api/v1/endpoints'),
        api('/api/v1/config').catch((e) => (e.status === 401 ? Promise.reject(e) : null)),
      ]);
      app.endpoints = eps;
      app.config = cfg;
      updateHeader();
      if (view && view === app.view && view.refresh) {
        await view.refresh();
        if (view.afterPaint) { const f = view.afterPaint; view.afterPaint = null; f(); }
      }
      showConnError(null);
    } catch (e) {
      showConnError(e);
    }
  })();
  return app.busy.finally(() => {
    app.busy = null;
    if (app.again) { app.again = false; refresh(); return; }
    schedule();
  });
}

function schedule() {
  clearTimeout(app.timer);
  if ($('auto-refresh').checked) app.timer = setTimeout(() => { if (!document.hidden) refresh(); else schedule(); }, REFRESH_MS);
}

app.refresh = refresh;

function setupHeader() {
  const auto = $('auto-refresh');
  try { auto.checked = sessionStorage.getItem('diffd.ui.auto') !== '0'; } catch (e) { /* ignore */ }
  auto.addEventListener('change', () => {
    try { sessionStorage.setItem('diffd.ui.auto', auto.checked ? '1' : '0'); } catch (e) { /* ignore */ }
    if (auto.checked) refresh(); else clearTimeout(app.timer);
  });
  $('pause-btn').addEventListener('click', async () => {
    if (!app.config) return;
    try {
      app.config = await api('/api/v1/config', {method: 'PATCH', body: {paused: !app.config.paused}});
      updateHeader();
    } catch (e) { showConnError(e); }
  });
  const rate = $('sample-rate');
  rate.addEventListener('change', async () => {
    const v = Number(rate.value);
    if (!(v >= 0 && v <= 100) || rate.value === '') { rate.classList.add('invalid'); return; }
    rate.classList.remove('invalid');
    try {
      app.config = await api('/api/v1/config', {method: 'PATCH', body: {sample_percent: v}});
      rate.blur();
      updateHeader();
    } catch (e) { rate.classList.add('invalid'); showConnError(e); }
  });
  // Clear asks for a second click instead of a confirm() dialog.
  const clearBtn = $('clear-btn');
  let armed = 0;
  clearBtn.addEventListener('click', async () => {
    if (!armed) {
      clearBtn.textContent = 'Really clear?';
      clearBtn.classList.add('danger');
      armed = setTimeout(() => { armed = 0; clearBtn.textContent = 'Clear'; clearBtn.classList.remove('danger'); }, 4000);
      return;
    }
    clearTimeout(armed); armed = 0;
    clearBtn.textContent = 'Clear'; clearBtn.classList.remove('danger');
    try { await api('/api/v1/clear', {method: 'POST', body: {}}); refresh(); } catch (e) { showConnError(e); }
  });
  document.addEventListener('visibilitychange', () => { if (!document.hidden && auto.checked) refresh(); });
}

setupHeader();
window.addEventListener('hashchange', navigate);
navigate();

