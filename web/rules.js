// Rules view: loaded rules with match counts, reload, the rule files, and the
// suggested rules (text to review and paste) with a copy button.

import {api} from './api.js';
import {fill, h, int, remember, sortHeader, sortRows, store, time} from './dom.js';

const COLUMNS = [
  {key: 'file', label: 'File', get: (r) => `${r.file}\u0000${String(r.line).padStart(8, '0')}`,
    render: (r) => h('td', {class: 'nowrap'}, h('code', null, `${r.file}:${r.line}`))},
  {key: 'text', label: 'Rule', render: (r) => h('td', null, h('code', null, r.text))},
  {key: 'matched', label: 'Matched', num: true,
    render: (r) => h('td', {class: ['num', !r.matched && 'muted']}, int(r.matched),
      r.matched ? null : h('span', {class: 'tag tag-warn', title: 'this rule has not matched anything yet'}, 'unused'))},
];

async function copyText(text) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch (e) {
    // Fallback for browsers without the async clipboard (or without permission).
    const ta = h('textarea', {class: 'offscreen', readonly: true});
    ta.value = text;
    document.body.append(ta);
    ta.select();
    let ok = false;
    try { ok = document.execCommand('copy'); } catch (err) { ok = false; }
    ta.remove();
    return ok;
  }
}

export function mount(root) {
  const sort = remember('rules.sort', {key: 'file', dir: 'asc'});
  const status = h('div', {class: 'reload-status'});
  const reloadBtn = h('button', {type: 'button', id: 'reload-rules'}, 'Reload rules');
  const reloadMsg = h('span', {class: 'reload-msg', role: 'status'});
  const table = h('table', {class: 'grid-table', id: 'rules'});
  const files = h('div');
  const suggested = h('pre', {class: 'raw suggested', id: 'suggested'}, 'Loading…');
  const copyBtn = h('button', {type: 'button', id: 'copy-suggested', class: 'primary'}, 'Copy');
  const copyMsg = h('span', {class: 'muted', role: 'status'});
  const count = h('span', {class: 'muted'});
  let data = null;

  root.append(
    h('h1', null, 'Rules'),
    h('section', {class: 'panel'}, h('div', {class: 'panel-head'}, h('h2', null, 'Loaded rules'), count,
      h('span', {class: 'spacer'}), reloadMsg, reloadBtn), status, h('div', {class: 'table-wrap'}, table)),
    h('section', {class: 'panel'}, h('div', {class: 'panel-head'}, h('h2', null, 'Suggested rules'),
      h('span', {class: 'muted'}, 'fields that differ about as often between primary and secondary as with the candidate — review before pasting into a rules file'),
      h('span', {class: 'spacer'}), copyMsg, copyBtn), suggested),
    h('section', {class: 'panel'}, h('h2', null, 'Rule files'), files));

  function paint() {
    if (!data) return;
    const lr = data.last_reload;
    fill(status, h('span', null, 'rule paths: ', (data.paths || []).length ? (data.paths || []).map((p, i) => [i ? ', ' : '', h('code', null, p)]) : h('span', {class: 'muted'}, 'none (diffd runs without --rules)')),
      lr ? h('span', {class: ['last-reload', lr.ok === false && 'error-text']}, ` · last reload ${time(lr.time)}: `, lr.ok === false ? `failed: ${lr.error}` : 'ok') : null);
    const rules = data.rules || [];
    count.textContent = `${rules.length} rule${rules.length === 1 ? '' : 's'}, ${rules.filter((r) => !r.matched).length} unused`;
    fill(table, sortHeader(COLUMNS, sort, () => { store('rules.sort', sort); paint(); }),
      h('tbody', null, rules.length ? sortRows(rules, COLUMNS, sort).map((r) => h('tr', {class: r.matched ? null : 'unused'}, COLUMNS.map((c) => c.render(r))))
        : h('tr', null, h('td', {colspan: 3, class: 'empty'}, 'No rules loaded.'))));
    const openFiles = new Set([...files.querySelectorAll('details[open]')].map((d) => d.dataset.file));
    fill(files, (data.files || []).map((f) => h('details', {'data-file': f.path, open: openFiles.has(f.path) || null},
      h('summary', null, h('code', null, f.path)), h('pre', {class: 'raw'}, f.text))));
    if (!(data.files || []).length) files.append(h('p', {class: 'muted'}, 'No rule files.'));
  }

  reloadBtn.addEventListener('click', async () => {
    reloadBtn.disabled = true;
    reloadMsg.className = 'reload-msg';
    try {
      const r = await api('/api/v1/rules/reload', {method: 'POST', body: {}});
      reloadMsg.textContent = `reloaded: ${int(r.rules)} rules`;
    } catch (e) {
      reloadMsg.classList.add('error-text');
      reloadMsg.textContent = 'reload failed, the old rules stay: ' + String(e.detail);
    } finally {
      reloadBtn.disabled = false;
    }
    await refresh();
  });

  copyBtn.addEventListener('click', async () => {
    const ok = await copyText(suggested.textContent);
    copyMsg.textContent = ok ? 'copied to the clipboard' : 'copy failed: select the text and copy it';
    copyBtn.textContent = ok ? 'Copied' : 'Copy';
    setTimeout(() => { copyBtn.textContent = 'Copy'; copyMsg.textContent = ''; }, 2500);
  });

  async function refresh() {
    const [r, sug] = await Promise.all([api('/api/v1/rules'), api('/api/v1/rules/suggested', {text: true}).catch((e) => e)]);
    data = r;
    paint();
    if (typeof sug === 'string') {
      const text = sug.trim() ? sug : '# nothing to suggest: no field is mostly noise';
      if (suggested.textContent !== text) suggested.textContent = text; // keeps a selection
      copyBtn.disabled = !sug.trim();
    } else {
      suggested.textContent = `could not load suggestions: ${sug.message}`;
      copyBtn.disabled = true;
    }
  }

  return {refresh};
}
