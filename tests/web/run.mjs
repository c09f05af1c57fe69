// Browser tests of the diffd dashboard: real backends (examples/api/server.py x3 with a
// planted change on the candidate, tests/web/hostile.py x3), real diffd instances on
// ports the kernel picks, traffic through their proxy ports, then headless Debian
// Chromium (driven by playwright-core, no downloaded browser) through every view.
//
//   node tests/web/run.mjs            (tests/web/run.sh installs what is missing first)
//
// Environment: DIFFD_BIN [build/diffd], CHROMIUM [/usr/bin/chromium], WEB_OUT
// [tests/web/out] (screenshots), WEB_ONLY=substring (run only matching tests),
// WEB_KEEP=1 (keep the temp dir with process logs).
// Prints `ok`/`FAIL` per test and a final `web: N passed, N failed`; exits 1 on any
// failure. Kills only the processes it started; everything on 127.0.0.1; < 2 min.

import {spawn} from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import {fileURLToPath} from 'node:url';
import {chromium} from 'playwright-core';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const REPO = path.resolve(HERE, '..', '..');
const DIFFD_BIN = path.resolve(process.env.DIFFD_BIN || path.join(REPO, 'build', 'diffd'));
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const OUT = path.resolve(process.env.WEB_OUT || path.join(HERE, 'out'));
const ONLY = process.env.WEB_ONLY || '';
const SHOP = path.join(REPO, 'examples', 'api', 'server.py');
const HOSTILE = path.join(HERE, 'hostile.py');
const TOKEN = 'web-test-token-7f3a';
const TOTAL_BUDGET_MS = 110_000;
const TEST_TIMEOUT_MS = 30_000;
const LISTEN_RE = /diffd: listening proxy=([^\s:]+):(\d+) admin=([^\s:]+):(\d+) threads=(\d+)/;
const ORDERS = 'GET /orders/:id';
const HOSTILE_EP = 'GET /x<img src=x onerror=window.__pwned=7></script>';
const IMG_KEY = '<img src=x onerror=window.__pwned=1>';
const SCRIPT_VAL = '</script><script>window.__pwned=2</script>';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'diffd-web-'));
const children = [];
let browser = null;
let userDataDir = null;

// ---- processes ---------------------------------------------------------------

function start(name, argv, waitRe, timeoutMs = 10_000) {
  const logPath = path.join(tmp, name + '.log');
  const log = fs.openSync(logPath, 'w');
  const child = spawn(argv[0], argv.slice(1), {stdio: ['ignore', log, log], cwd: REPO});
  fs.closeSync(log);
  const entry = {name, child, logPath, exited: null};
  child.on('exit', (code, sig) => { entry.exited = {code, sig}; });
  children.push(entry);
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const poll = () => {
      const text = fs.readFileSync(logPath, 'utf8');
      const m = waitRe.exec(text);
      if (m) return resolve({entry, m});
      if (entry.exited) return reject(new Error(`${name} exited (${JSON.stringify(entry.exited)}) before ready:\n${text.slice(-2000)}`));
      if (Date.now() > deadline) return reject(new Error(`${name}: not ready within ${timeoutMs} ms:\n${text.slice(-2000)}`));
      setTimeout(poll, 30);
    };
    poll();
  });
}

async function startBackend(name, script, args) {
  const {m} = await start(name, ['python3', script, '--port', '0', ...args], /PORT (\d+)/);
  return `http://127.0.0.1:${m[1]}`;
}

async function startDiffd(name, p, s, c, extra) {
  const argv = [DIFFD_BIN, 'serve', '--primary', p, ...(s ? ['--secondary', s] : []), '--candidate', c,
    '--listen', '127.0.0.1:0', '--admin', '127.0.0.1:0', '--threads', '1', ...extra];
  const {entry, m} = await start(name, argv, LISTEN_RE);
  return {name, entry, port: Number(m[2]), admin: Number(m[4]), url: `http://127.0.0.1:${m[4]}`};
}

async function stopAll() {
  if (browser) {
    try { await browser.close(); } catch (e) { /* already gone */ }
    browser = null;
  }
  // Only the processes started here, each by its own pid: SIGTERM, then SIGKILL.
  for (const c of children) if (!c.exited) c.child.kill('SIGTERM');
  const deadline = Date.now() + 5000;
  while (children.some((c) => !c.exited) && Date.now() < deadline) await sleep(50);
  for (const c of children) if (!c.exited) c.child.kill('SIGKILL');
  if (userDataDir) fs.rmSync(userDataDir, {recursive: true, force: true});
  if (!process.env.WEB_KEEP) fs.rmSync(tmp, {recursive: true, force: true});
  else console.log(`web: logs kept in ${tmp}`);
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ---- HTTP --------------------------------------------------------------------

const agent = new http.Agent({keepAlive: true, maxSockets: 4});

function request(port, target, {method = 'GET', headers = {}, body = null} = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request({host: '127.0.0.1', port, path: target, method, headers, agent, timeout: 10_000}, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString('utf8')}));
    });
    req.on('timeout', () => req.destroy(new Error(`timeout on ${target}`)));
    req.on('error', reject);
    if (body) req.write(body);
    req.end();
  });
}

async function getJson(port, target, headers = {}) {
  const r = await request(port, target, {headers});
  if (r.status !== 200) throw new Error(`GET ${target}: ${r.status} ${r.body.slice(0, 300)}`);
  return JSON.parse(r.body);
}

/** Send requests (arrays of [target, headers]) through a diffd proxy, 4 at a time. */
async function traffic(d, list) {
  let i = 0;
  const worker = async () => {
    while (i < list.length) {
      const [target, headers] = list[i++];
      const r = await request(d.port, target, {headers: headers || {}});
      if (r.status >= 500 && r.status !== 500) throw new Error(`${d.name} ${target}: ${r.status}`);
    }
  };
  await Promise.all([worker(), worker(), worker(), worker()]);
}

async function settle(d, n) {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const h = await getJson(d.admin, '/healthz');
    const t = h.totals;
    if (h.inflight === 0 && t.received >= n && t.compared + t.skipped.overload + t.skipped.side_effect + (t.skipped.analysis || 0) >= t.sampled) return h;
    if (Date.now() > deadline) throw new Error(`${d.name} did not settle: ${JSON.stringify(h)}`);
    await sleep(50);
  }
}

// ---- tiny test runner --------------------------------------------------------

const tests = [];
const test = (name, fn) => tests.push({name, fn});

class AssertionError extends Error {}
function assert(cond, msg) { if (!cond) throw new AssertionError(msg); }
function eq(a, b, msg) { if (a !== b) throw new AssertionError(`${msg}: expected ${JSON.stringify(b)}, got ${JSON.stringify(a)}`); }

async function withTimeout(p, ms, what) {
  let t;
  const timer = new Promise((_, rej) => { t = setTimeout(() => rej(new Error(`${what}: timed out after ${ms} ms`)), ms); });
  try { return await Promise.race([p, timer]); } finally { clearTimeout(t); }
}

// ---- browser helpers ---------------------------------------------------------

const env = {};

/** A new page (new tab: empty sessionStorage) with the checks every test makes:
 * no page error, no CSP violation, no JS dialog, no request leaving 127.0.0.1. */
async function newPage(t) {
  const page = await browser.newPage();
  page.setDefaultTimeout(8000);
  t.problems = [];
  t.dialogs = [];
  t.external = [];
  page.on('pageerror', (e) => t.problems.push('page error: ' + e.message));
  page.on('console', (m) => {
    if (m.type() !== 'error') return;
    const text = m.text();
    if (/status of 401/.test(text) && t.allow401) return; // the token test expects these
    if (/status of (404|400)/.test(text) && (t.allow404 || t.allow400)) return;
    t.problems.push('console error: ' + text);
  });
  page.on('dialog', (d) => { t.dialogs.push(`${d.type()}: ${d.message()}`); d.dismiss().catch(() => {}); });
  page.on('request', (r) => {
    const u = new URL(r.url());
    if (u.protocol !== 'data:' && u.hostname !== '127.0.0.1') t.external.push(r.url());
  });
  t.page = page;
  return page;
}

async function shot(page, name) {
  await page.screenshot({path: path.join(OUT, name + '.png'), fullPage: true});
}

/** Wait until the header says it refreshed again (the auto-refresh ran). */
async function nextRefresh(page) {
  const before = await page.textContent('#updated');
  await page.waitForFunction((b) => document.getElementById('updated').textContent !== b, before, {timeout: 9000});
  await page.waitForTimeout(300); // the view paints after the shared data
}

// ---- tests -------------------------------------------------------------------

test('static assets: MIME types, caching headers, CSP, no external references', async () => {
  const a = env.shop.admin;
  const idx = await request(a, '/');
  eq(idx.status, 200, 'GET /');
  assert(/^text\/html/.test(idx.headers['content-type']), 'index content-type ' + idx.headers['content-type']);
  assert(/script-src 'self'/.test(idx.headers['content-security-policy'] || ''), 'CSP header on /');
  assert(idx.headers.etag, 'ETag on /');
  const files = fs.readdirSync(path.join(REPO, 'web')).filter((f) => !f.startsWith('.'));
  const types = {'.js': /^text\/javascript/, '.css': /^text\/css/, '.html': /^text\/html/, '.svg': /^image\/svg\+xml/};
  for (const f of files) {
    const r = await request(a, '/' + f);
    eq(r.status, 200, 'GET /' + f);
    const re = types[path.extname(f)];
    if (re) assert(re.test(r.headers['content-type'] || ''), `/${f} content-type ${r.headers['content-type']}`);
    assert(r.headers.etag && /no-cache|max-age/.test(r.headers['cache-control'] || ''), `/${f} caching headers`);
    const again = await request(a, '/' + f, {headers: {'If-None-Match': r.headers.etag}});
    eq(again.status, 304, `/${f} revalidation with its ETag`);
    const text = fs.readFileSync(path.join(REPO, 'web', f), 'utf8');
    assert(!/https?:\/\/(?!www\.w3\.org\/2000\/svg)/.test(text), `web/${f} references an external URL (must work offline)`);
    assert(!/\.innerHTML|outerHTML|insertAdjacentHTML|document\.write/.test(text), `web/${f} uses an HTML-parsing sink`);
  }
  // Static files need no token; the API does.
  eq((await request(env.tok.admin, '/app.js')).status, 200, 'static file without a token');
  eq((await request(env.tok.admin, '/api/v1/endpoints')).status, 401, 'API without a token');
});

test('overview: verdict fail, the regressed endpoint first, sortable columns', async (t) => {
  const page = await newPage(t);
  await page.goto(env.shop.url + '/');
  await page.waitForSelector('#verdict.verdict-fail');
  const banner = await page.textContent('#verdict');
  assert(/FAIL/.test(banner) && banner.includes(ORDERS), 'verdict banner names the endpoint: ' + banner);
  eq((await page.textContent('#verdict-pill')).startsWith('FAIL'), true, 'header verdict pill');
  const names = await page.$$eval('#endpoints tbody tr', (trs) => trs.map((tr) => tr.dataset.endpoint));
  eq(names[0], ORDERS, 'the endpoint with the regression sorts first');
  for (const n of ['GET /users/:id', 'GET /search']) assert(names.includes(n), `${n} listed (${names})`);
  const row = page.locator(`#endpoints tbody tr[data-endpoint="${ORDERS}"]`);
  assert(await row.evaluate((tr) => tr.classList.contains('regressed')), 'regressed row marked');
  const cells = await row.locator('td').allTextContents();
  eq(cells[1], '1', 'regressions column');
  eq(cells[2], '40', 'compared column');
  eq(cells[3], '100%', 'differing % (every order total differs)');
  eq(cells[4], '100%', 'noise % ($.request_id is left unsilenced)');
  assert(/ms/.test(cells[6]) && /ms/.test(cells[7]), 'p99 primary and candidate: ' + cells.slice(6, 8));
  const stats = await page.$$eval('.totals .stat', (els) => els.map((e) => e.querySelector('.stat-l').textContent + '=' + e.querySelector('.stat-v').textContent));
  assert(stats.includes('skipped: analysis=0'), 'totals show the analysis shedding count: ' + stats);
  await shot(page, 'overview');

  // Sort by name ascending, then descending: the order follows and survives a refresh.
  await page.click('#endpoints th[data-key="name"]');
  let sorted = await page.$$eval('#endpoints tbody tr', (trs) => trs.map((tr) => tr.dataset.endpoint));
  eq(JSON.stringify(sorted), JSON.stringify([...sorted].sort((x, y) => x.localeCompare(y))), 'ascending by name');
  await page.click('#endpoints th[data-key="name"]');
  sorted = await page.$$eval('#endpoints tbody tr', (trs) => trs.map((tr) => tr.dataset.endpoint));
  eq(JSON.stringify(sorted), JSON.stringify([...sorted].sort((x, y) => y.localeCompare(x))), 'descending by name');
  await nextRefresh(page);
  const after = await page.$$eval('#endpoints tbody tr', (trs) => trs.map((tr) => tr.dataset.endpoint));
  eq(JSON.stringify(after), JSON.stringify(sorted), 'sort order kept across the auto-refresh');
  eq(await page.getAttribute('#endpoints th[data-key="name"]', 'aria-sort'), 'descending', 'sorted column marked');
  // Filter.
  await page.fill('#view input.filter', 'search');
  eq(await page.locator('#endpoints tbody tr').count(), 1, 'filter keeps one row');
  await page.fill('#view input.filter', '');
  // The dark scheme follows the system setting.
  await page.emulateMedia({colorScheme: 'dark'});
  const bg = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
  assert(bg !== 'rgb(244, 245, 247)', 'dark background under prefers-color-scheme: dark: ' + bg);
  await shot(page, 'overview-dark');
});

test('endpoint view: regressed field first with bars, latency chart, open the field', async (t) => {
  const page = await newPage(t);
  await page.goto(env.shop.url + '/');
  await page.click(`#endpoints a:text-is("${ORDERS}")`);
  await page.waitForSelector('#fields tr.field');
  eq(await page.evaluate(() => location.hash), '#/endpoint/' + encodeURIComponent(ORDERS), 'route');
  eq(await page.textContent('h1.ep-title'), ORDERS, 'title');
  const fields = await page.$$eval('#fields tr.field', (trs) => trs.map((tr) => tr.dataset.field));
  eq(fields[0], '$.total', 'the regression is the first field row');
  assert(fields.length >= 2, 'noise fields listed too: ' + fields);
  assert(fields.includes('$.request_id'), 'the unsilenced noise field is listed: ' + fields);
  const first = page.locator('#fields tr.field').first();
  assert(await first.evaluate((tr) => tr.classList.contains('regressed') && tr.textContent.includes('regression')), 'regression marked');
  const widths = await first.evaluate((tr) => [...tr.querySelectorAll('.bar')].map((b) => b.getBoundingClientRect().width / b.parentElement.getBoundingClientRect().width));
  assert(widths[0] > 0.95 && widths[1] < 0.05, 'raw bar full, noise bar empty for $.total: ' + widths);
  const noiseRow = page.locator('#fields tr.field[data-field="$.request_id"]');
  const nw = await noiseRow.evaluate((tr) => [...tr.querySelectorAll('.bar')].map((b) => b.getBoundingClientRect().width / b.parentElement.getBoundingClientRect().width));
  assert(nw[0] > 0.9 && nw[1] > 0.9, 'raw and noise bars both full for a noise field: ' + nw);
  eq(await page.locator('#view svg.chart path.area').count(), 3, 'three legs in the latency chart');
  eq(await page.locator('#latency tbody tr').count(), 3, 'quantile table per leg');
  await page.waitForSelector('#view .samples a.sample-link'); // recent samples
  await shot(page, 'endpoint');

  await first.locator('.field-name').click();
  const details = page.locator('#fields tr.details[data-details="$.total"]');
  await details.waitFor();
  await details.locator('a.sample-link').first().waitFor();
  assert((await details.textContent()).includes('value 40'), 'kinds of the field: ' + (await details.textContent()).slice(0, 200));
  await shot(page, 'endpoint-field');

  // Auto-refresh keeps the open field, the collapsed groups and the scroll position.
  await page.setViewportSize({width: 1280, height: 500});
  await page.evaluate(() => window.scrollTo(0, 400));
  const y = await page.evaluate(() => window.scrollY);
  assert(y > 100, 'page scrolls: ' + y);
  await nextRefresh(page);
  eq(await page.evaluate(() => window.scrollY), y, 'scroll position kept across the refresh');
  eq(await details.count(), 1, 'open field still open after the refresh');
  await page.setViewportSize({width: 1440, height: 900});
});

test('sample view: three responses side by side, the differing path highlighted', async (t) => {
  const page = await newPage(t);
  await page.goto(env.shop.url + '/#/endpoint/' + encodeURIComponent(ORDERS));
  await page.click('#fields tr.field[data-field="$.total"] .field-name');
  const link = page.locator('#fields tr.details a.sample-link').first();
  const id = await link.textContent();
  await page.setViewportSize({width: 1280, height: 400});
  await page.evaluate(() => window.scrollTo(0, 250));
  const y = await page.evaluate(() => window.scrollY);
  await link.click();
  await page.waitForSelector('[data-leg="candidate"] .json');
  await page.setViewportSize({width: 1440, height: 900});
  eq(await page.evaluate(() => location.hash), '#/sample/' + encodeURIComponent(id), 'route');
  for (const leg of ['primary', 'secondary', 'candidate']) {
    assert(await page.locator(`[data-leg="${leg}"] .json`).count() === 1, `${leg} body rendered`);
    eq((await page.textContent(`[data-leg="${leg}"] .status`)).trim(), '200', `${leg} status`);
  }
  const hl = (leg, cls) => page.$$eval(`[data-leg="${leg}"] .jm.${cls}`, (els) => els.map((e) => e.dataset.path));
  // Raw differences: the planted $.total (red) and the unsilenced noise $.request_id,
  // which the secondary shows too (grey).
  eq(JSON.stringify(await hl('candidate', 'hl-diff')), '["$.total"]', 'candidate: $.total highlighted as a difference');
  eq(JSON.stringify(await hl('primary', 'hl-diff')), '["$.total"]', 'primary: $.total highlighted as a difference');
  assert((await hl('candidate', 'hl-noise')).includes('$.request_id'), 'candidate: $.request_id marked as noise');
  eq((await hl('secondary', 'hl-diff')).length, 0, 'secondary: no raw highlight');
  assert((await hl('secondary', 'hl-noise')).includes('$.request_id'), 'secondary: noise path highlighted');
  const node = page.locator('[data-leg="candidate"] .jm.hl-diff[data-path="$.total"]');
  assert((await node.textContent()).includes('"total"'), 'the highlighted node is the total member');
  const bg = await node.evaluate((e) => getComputedStyle(e).backgroundColor);
  assert(bg !== 'rgba(0, 0, 0, 0)' && bg !== 'transparent', 'highlight is visible: ' + bg);
  const diffPaths = await page.$$eval('table[data-diffs="raw"] tbody tr td:first-child code', (tds) => tds.map((td) => td.textContent));
  eq(diffPaths[0], '$.total', 'differences table: the real difference first');
  eq(JSON.stringify(diffPaths.sort()), '["$.request_id","$.total","header.x-request-id"]', 'differences table');
  // Headers: the noisy X-Request-Id row is marked as noise in the secondary column.
  assert(await page.locator('[data-leg="secondary"] tr[data-path="header.x-request-id"].hl-noise').count() === 1, 'noisy header marked');
  // The JSON Patch loads on demand.
  await page.click('details.patch > summary');
  await page.waitForFunction(() => /"op": "replace"/.test(document.querySelector('details.patch pre').textContent));
  assert((await page.textContent('details.patch pre')).includes('"/total"'), 'patch names /total');
  await shot(page, 'sample');
  // Back to the endpoint: the open field and the scroll position come back.
  await page.setViewportSize({width: 1280, height: 400});
  await page.goBack();
  await page.waitForSelector('#fields tr.details[data-details="$.total"]');
  await page.waitForFunction((want) => Math.abs(window.scrollY - want) <= 2, y, {timeout: 3000})
    .catch(async () => { throw new AssertionError(`scroll after back: ${await page.evaluate(() => window.scrollY)}, was ${y}`); });
  await page.setViewportSize({width: 1440, height: 900});
});

test('rules view: rules with match counts, suggested rules with a copy button', async (t) => {
  await browser.grantPermissions(['clipboard-read', 'clipboard-write'], {origin: env.shop.url});
  const page = await newPage(t);
  await page.goto(env.shop.url + '/#/rules');
  await page.waitForSelector('#rules tbody tr');
  const rows = await page.$$eval('#rules tbody tr', (trs) => trs.map((tr) => [...tr.cells].map((c) => c.textContent)));
  eq(rows.length, env.ruleLines.length, 'one row per rule directive');
  for (const [n, text] of env.ruleLines) {
    const r = rows.find((x) => x[0].endsWith(`:${n}`));
    assert(r, `rule at line ${n} listed`);
    eq(r[1], text, `rule text at line ${n}`);
    assert(/^[1-9][\d,]*$/.test(r[2]), `rule at line ${n} has a match count > 0: ${r[2]}`);
  }
  await page.waitForFunction(() => /ignore/.test(document.getElementById('suggested').textContent));
  const sug = await page.textContent('#suggested');
  assert(/request_id/.test(sug), 'suggested rules silence the unsilenced noise ($.request_id): ' + sug.slice(0, 400));
  await shot(page, 'rules');
  await page.click('#copy-suggested');
  await page.waitForFunction(() => document.getElementById('copy-suggested').textContent === 'Copied');
  const clip = await page.evaluate(() => navigator.clipboard.readText());
  eq(clip, sug, 'clipboard holds the suggested rules');
});

test('rules view: reload, and a broken rules file shows its error and keeps the rules', async (t) => {
  t.allow400 = true; // the reload of the broken file answers 400
  const page = await newPage(t);
  await page.goto(env.shop.url + '/#/rules');
  await page.waitForSelector('#rules tbody tr');
  await page.click('#reload-rules');
  await page.waitForFunction(() => /reloaded: \d+ rules/.test(document.querySelector('.reload-msg').textContent));
  eq(await page.textContent('.reload-msg'), `reloaded: ${env.ruleLines.length} rules`, 'reload message');
  const good = fs.readFileSync(env.rulesPath, 'utf8');
  try {
    fs.writeFileSync(env.rulesPath, good + 'ignore $.[\n');
    await page.click('#reload-rules');
    await page.waitForSelector('.reload-msg.error-text');
    const msg = await page.textContent('.reload-msg');
    assert(msg.includes(path.basename(env.rulesPath) + ':' + (good.split('\n').length)), 'error names file:line: ' + msg);
    await page.waitForSelector('.last-reload.error-text');
    eq(await page.locator('#rules tbody tr').count(), env.ruleLines.length, 'the old rules stay loaded');
    await shot(page, 'rules-reload-error');
  } finally {
    fs.writeFileSync(env.rulesPath, good);
  }
  await page.click('#reload-rules');
  await page.waitForFunction(() => /reloaded/.test(document.querySelector('.reload-msg').textContent));
});

test('unknown routes, endpoints and samples say so', async (t) => {
  t.allow404 = true;
  const page = await newPage(t);
  await page.goto(env.shop.url + '/#/endpoint/' + encodeURIComponent('GET /nope'));
  await page.waitForSelector('#view .banner-error:not([hidden])');
  assert(/No endpoint named “GET \/nope”/.test(await page.textContent('#view .banner-error')), 'unknown endpoint');
  await page.goto(env.shop.url + '/#/sample/t-does-not-exist');
  await page.waitForSelector('#view .banner-error');
  assert(/No stored sample/.test(await page.textContent('#view .banner-error')), 'unknown sample');
  await page.goto(env.shop.url + '/#/bogus');
  await page.waitForSelector('#view h1');
  eq(await page.textContent('#view h1'), 'Not found', 'unknown route');
  await page.click('#view a[href="#/"]');
  await page.waitForSelector('#endpoints tbody tr[data-endpoint]');
});

test('header controls: pause/resume and the sample rate change the config', async (t) => {
  const page = await newPage(t);
  await page.goto(env.shop.url + '/');
  await page.waitForSelector('#pause-btn:not([disabled])');
  eq(await page.textContent('#pause-btn'), 'Pause', 'button label');
  await page.click('#pause-btn');
  await page.waitForSelector('#paused-badge:not([hidden])');
  eq((await getJson(env.shop.admin, '/api/v1/config')).paused, true, 'paused through PATCH');
  await page.click('#pause-btn');
  await page.waitForSelector('#paused-badge', {state: 'hidden'});
  eq((await getJson(env.shop.admin, '/api/v1/config')).paused, false, 'resumed');
  await page.fill('#sample-rate', '37.5');
  await page.press('#sample-rate', 'Enter');
  await page.waitForFunction(() => document.activeElement !== document.getElementById('sample-rate'));
  eq((await getJson(env.shop.admin, '/api/v1/config')).sample_percent, 37.5, 'sample rate through PATCH');
  await page.fill('#sample-rate', '100');
  await page.press('#sample-rate', 'Enter');
  await page.waitForFunction(() => document.activeElement !== document.getElementById('sample-rate'));
  eq((await getJson(env.shop.admin, '/api/v1/config')).sample_percent, 100, 'sample rate back to 100');
});

test('XSS: markup and script in endpoint names, keys, values and headers stay text', async (t) => {
  const page = await newPage(t);
  await page.addInitScript(() => {
    window.__pwned = undefined;
    for (const f of ['alert', 'confirm', 'prompt']) window[f] = () => { window.__pwned = 'dialog:' + f; };
  });
  await page.goto(env.xss.url + '/');
  await page.waitForSelector('#endpoints tbody tr[data-endpoint]');
  const names = await page.$$eval('#endpoints tbody a', (as) => as.map((a) => a.textContent));
  assert(names.includes(HOSTILE_EP), 'hostile endpoint name shown as text: ' + JSON.stringify(names));
  await shot(page, 'xss-overview');
  await page.locator('#endpoints tbody a', {hasText: 'onerror'}).click();
  await page.waitForSelector('#fields tr.field');
  eq(await page.textContent('h1.ep-title'), HOSTILE_EP, 'endpoint title');
  const fields = await page.$$eval('#fields tr.field', (trs) => trs.map((tr) => tr.dataset.field));
  assert(fields.includes(`$['${IMG_KEY}']`), 'hostile field path listed: ' + JSON.stringify(fields));
  await page.locator(`#fields tr.field`).first().locator('.field-name').click();
  const link = page.locator('#fields tr.details a.sample-link').first();
  await link.click();
  await page.waitForSelector('[data-leg="candidate"] .json');
  const keys = await page.$$eval('[data-leg="candidate"] .j-key', (els) => els.map((e) => e.textContent));
  assert(keys.includes(JSON.stringify(IMG_KEY)), 'hostile key shown as text: ' + JSON.stringify(keys));
  const strs = await page.$$eval('[data-leg="primary"] .j-str', (els) => els.map((e) => e.textContent));
  assert(strs.includes(JSON.stringify(SCRIPT_VAL)), 'hostile value shown as text');
  const hlPaths = await page.$$eval('[data-leg="candidate"] .jm.hl-diff', (els) => els.map((e) => e.dataset.path));
  for (const p of [`$['${IMG_KEY}']`, `$.list[1]['x-${IMG_KEY}']`]) {
    assert(hlPaths.includes(p), `differing path ${p} highlighted (have ${JSON.stringify(hlPaths)})`);
  }
  assert(hlPaths.some((p) => p.includes("odd key\\'s") && p.endsWith("['<svg onload=window.__pwned=3>']")),
    'quoted odd key path highlighted: ' + JSON.stringify(hlPaths));
  await page.click('details.patch > summary');
  await page.waitForFunction(() => /"op"/.test(document.querySelector('details.patch pre').textContent));
  await page.$$eval('details', (ds) => ds.forEach((d) => { d.open = true; }));
  await page.waitForTimeout(300);
  const evil = await page.$$eval('[data-leg] tr[data-path="header.x-evil"] td', (tds) => tds.map((td) => td.textContent));
  assert(evil.includes(IMG_KEY) && evil.includes(SCRIPT_VAL), 'hostile header value shown as text: ' + JSON.stringify(evil));
  await shot(page, 'xss-sample');
  const dom = await page.evaluate(() => ({
    pwned: window.__pwned,
    imgs: document.querySelectorAll('img, iframe, object, embed').length,
    handlers: [...document.querySelectorAll('*')].filter((e) => [...e.attributes].some((a) => /^on/i.test(a.name))).length,
    scripts: [...document.scripts].map((s) => s.getAttribute('src')),
    svgs: [...document.querySelectorAll('svg')].filter((s) => !s.classList.contains('chart') && !s.classList.contains('legend')).length,
    jsLinks: [...document.querySelectorAll('a[href]')].filter((a) => !/^#\//.test(a.getAttribute('href'))).length,
  }));
  eq(dom.pwned, undefined, 'window.__pwned');
  eq(dom.imgs, 0, 'no img/iframe/object element made from data');
  eq(dom.handlers, 0, 'no element with an on* attribute');
  eq(JSON.stringify(dom.scripts), '["app.js"]', 'only the dashboard script');
  eq(dom.svgs, 0, 'no svg element made from data');
  eq(dom.jsLinks, 0, 'every link is a dashboard route');
  eq(t.dialogs.length, 0, 'no dialog opened: ' + t.dialogs.join('; '));
});

test('token prompt: 401 asks for the token, a wrong one is refused, the right one loads data', async (t) => {
  t.allow401 = true;
  const page = await newPage(t);
  await page.goto(env.tok.url + '/');
  await page.waitForSelector('#token-overlay:not([hidden])');
  await shot(page, 'token-prompt');
  await page.fill('#token-input', 'wrong-token');
  await page.click('#token-submit');
  await page.waitForSelector('#token-msg:not([hidden])');
  assert(/rejected/.test(await page.textContent('#token-msg')), 'wrong token refused');
  assert(await page.isVisible('#token-overlay'), 'prompt shown again');
  await page.fill('#token-input', TOKEN);
  await page.click('#token-submit');
  await page.waitForSelector('#token-overlay', {state: 'hidden'});
  await page.waitForSelector(`#endpoints tbody tr[data-endpoint="${ORDERS}"]`);
  await page.waitForSelector('#verdict.verdict-fail');
  eq(await page.evaluate(() => sessionStorage.getItem('diffd.token')), TOKEN, 'token kept in sessionStorage');
  await shot(page, 'token-loaded');
  await page.reload();
  await page.waitForSelector(`#endpoints tbody tr[data-endpoint="${ORDERS}"]`);
  assert(!(await page.isVisible('#token-overlay')), 'no prompt after a reload in the same tab');
});

test('without --secondary: the overview says so, samples show two columns', async (t) => {
  const page = await newPage(t);
  await page.goto(env.nosec.url + '/');
  await page.waitForSelector('#verdict.verdict-fail');
  assert(/no noise subtraction/.test(await page.textContent('#verdict')), 'verdict banner flags it');
  await page.goto(env.nosec.url + '/#/endpoint/' + encodeURIComponent(ORDERS));
  await page.waitForSelector('#fields tr.field[data-field="$.total"].regressed');
  assert(/no secondary/.test(await page.textContent('.reg-list')), 'regression text says noise is not measured');
  await page.click('#view .samples a.sample-link');
  await page.waitForSelector('[data-leg="candidate"] .jm.hl-diff[data-path="$.total"]');
  eq(JSON.stringify(await page.$$eval('[data-leg]', (els) => els.map((e) => e.dataset.leg))), '["primary","candidate"]', 'two columns');
  await shot(page, 'sample-no-secondary');
});

test('clear: two clicks forget the statistics', async (t) => {
  const page = await newPage(t);
  await page.goto(env.shop.url + '/');
  await page.waitForSelector('#endpoints tbody tr[data-endpoint]');
  await page.click('#clear-btn');
  eq(await page.textContent('#clear-btn'), 'Really clear?', 'first click arms');
  eq((await getJson(env.shop.admin, '/api/v1/endpoints')).totals.compared > 0, true, 'nothing cleared yet');
  await page.click('#clear-btn');
  await page.waitForSelector('#endpoints td.empty');
  eq((await getJson(env.shop.admin, '/api/v1/endpoints')).totals.compared, 0, 'cleared');
  eq(await page.textContent('#verdict .verdict-word'), 'INSUFFICIENT', 'verdict after clear');
  eq(t.dialogs.length, 0, 'no confirm() dialog');
});

// ---- main --------------------------------------------------------------------

async function setup() {
  fs.mkdirSync(OUT, {recursive: true});
  for (const f of fs.readdirSync(OUT)) if (f.endsWith('.png')) fs.rmSync(path.join(OUT, f));
  if (!fs.existsSync(DIFFD_BIN)) throw new Error(`diffd binary not found: ${DIFFD_BIN} (run make, or set DIFFD_BIN)`);
  if (!fs.existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} not found (tests/web/run.sh installs Debian's chromium)`);

  // Some of the shop API's noise silenced, not all: $.request_id and X-Request-Id stay
  // (noise the suggested rules should offer to silence).
  const rules = env.rulesPath = path.join(tmp, 'web.rules');
  fs.writeFileSync(rules, [
    '# web test: part of rules/examples/shop-api.rules',
    '[*]',
    'ignore $.generated_at',
    'ignore-header date',
    '',
    '[GET /users/:id]',
    'unordered $.tags',
    'tolerance $.score 0.0001%',
    '',
    '[GET /orders/:id]',
    'unordered $.tags',
    '',
    '[GET /search]',
    'tolerance $.results[*].score 0.0001%',
    ''].join('\n'));
  env.ruleLines = fs.readFileSync(rules, 'utf8').split('\n').map((l, i) => [i + 1, l.split('#')[0].trim()])
    .filter(([, l]) => l && !l.startsWith('['));

  const [p, s, c, hp, hs, hc] = await Promise.all([
    startBackend('shop-primary', SHOP, ['--name', 'primary']),
    startBackend('shop-secondary', SHOP, ['--name', 'secondary']),
    startBackend('shop-candidate', SHOP, ['--name', 'candidate', '--change', 'orders.total']),
    startBackend('hostile-primary', HOSTILE, ['--role', 'primary']),
    startBackend('hostile-secondary', HOSTILE, ['--role', 'secondary']),
    startBackend('hostile-candidate', HOSTILE, ['--role', 'candidate']),
  ]);
  [env.shop, env.xss, env.tok, env.nosec] = await Promise.all([
    startDiffd('diffd-shop', p, s, c, ['--rules', rules]),
    startDiffd('diffd-xss', hp, hs, hc, []),
    startDiffd('diffd-token', p, s, c, ['--rules', path.join(REPO, 'rules', 'examples', 'shop-api.rules'), '--admin-token', TOKEN]),
    startDiffd('diffd-no-secondary', p, null, c, ['--rules', path.join(REPO, 'rules', 'examples', 'shop-api.rules')]),
  ]);

  const words = ['mug', 'tea', 'kettle', 'cup', 'jug'];
  const shop = [];
  for (let i = 0; i < 40; i++) {
    shop.push([`/orders/${1 + i * 7}`], [`/users/${1 + i * 13}`], [`/search?q=${words[i % 5]}${i}`]);
  }
  shop.push(['/health']);
  const xss = [];
  for (let i = 0; i < 12; i++) {
    xss.push([`/h/${i}?q=<script>`, {'Canonical-Resource': HOSTILE_EP}], [`/plain/${i}`]);
  }
  const tok = shop.filter(([u]) => u.startsWith('/orders/')).slice(0, 20);
  await Promise.all([traffic(env.shop, shop), traffic(env.xss, xss), traffic(env.tok, tok), traffic(env.nosec, tok)]);
  await Promise.all([settle(env.shop, shop.length), settle(env.xss, xss.length), settle(env.tok, tok.length),
    settle(env.nosec, tok.length)]);

  userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'diffd-web-chromium-'));
  browser = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: {width: 1440, height: 900},
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

async function main() {
  const t0 = Date.now();
  let passed = 0, failed = 0;
  const budget = setTimeout(async () => {
    console.log(`FAIL - the whole run exceeded ${TOTAL_BUDGET_MS / 1000} s`);
    console.log(`web: ${passed} passed, ${failed + 1} failed`);
    await stopAll();
    process.exit(1);
  }, TOTAL_BUDGET_MS);
  for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, async () => { await stopAll(); process.exit(1); });
  try {
    await withTimeout(setup(), 45_000, 'setup');
    console.log(`web: setup done in ${((Date.now() - t0) / 1000).toFixed(1)} s (diffd ${DIFFD_BIN})`);
    for (const tc of tests) {
      if (ONLY && !tc.name.includes(ONLY)) continue;
      const t = {problems: [], dialogs: []};
      const t1 = Date.now();
      try {
        await withTimeout(tc.fn(t), TEST_TIMEOUT_MS, tc.name);
        assert(t.problems.length === 0, 'browser reported: ' + t.problems.join(' | '));
        assert(!t.external || t.external.length === 0, 'requests left 127.0.0.1: ' + (t.external || []).join(', '));
        passed++;
        console.log(`ok - ${tc.name} (${((Date.now() - t1) / 1000).toFixed(1)} s)`);
      } catch (e) {
        failed++;
        console.log(`FAIL - ${tc.name}\n    ${String(e.stack || e).split('\n').slice(0, 4).join('\n    ')}`);
        if (t.page) await shot(t.page, 'FAILED-' + tc.name.split(':')[0].replace(/\W+/g, '-')).catch(() => {});
      } finally {
        if (t.page) await t.page.close().catch(() => {});
      }
    }
  } catch (e) {
    failed++;
    console.log(`FAIL - setup\n    ${String(e.stack || e).split('\n').slice(0, 6).join('\n    ')}`);
  }
  clearTimeout(budget);
  await stopAll();
  console.log(`web: screenshots in ${path.relative(process.cwd(), OUT) || '.'}/ (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
  console.log(`web: ${passed} passed, ${failed} failed`);
  process.exit(failed ? 1 : 0);
}

main();
