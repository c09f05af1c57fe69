// JSON bodies for display: a small parser that keeps member order, duplicate keys
// and number text exactly as received, a path formatter identical to diffd's
// (jsonpath.c: .name for [A-Za-z_][A-Za-z0-9_]*, else ['...'] with \' \\ \b \f \n \r
// \t and \u00XX escapes), and a renderer that marks the nodes whose exact path is
// in a set. Everything is built with text nodes.

import {h} from './dom.js';

const MAX_DEPTH = 256;

/** Parse text; returns a node tree or null when it is not JSON (or too deep). */
export function parse(text) {
  let i = 0;
  const n = text.length;
  const ws = () => { while (i < n && (text[i] === ' ' || text[i] === '\n' || text[i] === '\r' || text[i] === '\t')) i++; };
  const fail = () => { throw new SyntaxError('bad JSON at ' + i); };
  function str() {
    let out = '';
    i++; // opening quote
    for (;;) {
      if (i >= n) fail();
      const c = text[i];
      if (c === '"') { i++; return out; }
      if (c === '\\') {
        const e = text[i + 1];
        const map = {'"': '"', '\\': '\\', '/': '/', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t'};
        if (e in map) { out += map[e]; i += 2; continue; }
        if (e === 'u') {
          const hex = text.slice(i + 2, i + 6);
          if (!/^[0-9a-fA-F]{4}$/.test(hex)) fail();
          out += String.fromCharCode(parseInt(hex, 16));
          i += 6; continue;
        }
        fail();
      }
      if (c < ' ') fail();
      out += c; i++;
    }
  }
  function value(depth) {
    if (depth > MAX_DEPTH) fail();
    ws();
    const c = text[i];
    if (c === '{') {
      i++; const entries = [];
      ws();
      if (text[i] === '}') { i++; return {t: 'object', entries}; }
      for (;;) {
        ws(); if (text[i] !== '"') fail();
        const k = str(); ws();
        if (text[i] !== ':') fail();
        i++;
        entries.push([k, value(depth + 1)]);
        ws();
        if (text[i] === ',') { i++; continue; }
        if (text[i] === '}') { i++; return {t: 'object', entries}; }
        fail();
      }
    }
    if (c === '[') {
      i++; const items = [];
      ws();
      if (text[i] === ']') { i++; return {t: 'array', items}; }
      for (;;) {
        items.push(value(depth + 1)); ws();
        if (text[i] === ',') { i++; continue; }
        if (text[i] === ']') { i++; return {t: 'array', items}; }
        fail();
      }
    }
    if (c === '"') return {t: 'string', v: str()};
    const m = /^(?:-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?|true|false|null)/.exec(text.slice(i, i + 400));
    if (!m) fail();
    i += m[0].length;
    const w = m[0];
    return w === 'true' || w === 'false' ? {t: 'bool', v: w} : w === 'null' ? {t: 'null', v: w} : {t: 'number', v: w};
  }
  try {
    const root = value(0);
    ws();
    if (i !== n) return null;
    return root;
  } catch (e) {
    return null;
  }
}

/** One path element as diffd writes it. */
export function pathKey(k) {
  if (/^[A-Za-z_][A-Za-z0-9_]*$/.test(k)) return '.' + k;
  let out = "['";
  for (const ch of k) {
    const c = ch.codePointAt(0);
    if (ch === "'") out += "\\'";
    else if (ch === '\\') out += '\\\\';
    else if (c >= 0x20) out += ch;
    else if (ch === '\b') out += '\\b';
    else if (ch === '\f') out += '\\f';
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    else out += '\\u' + c.toString(16).padStart(4, '0');
  }
  return out + "']";
}

const quote = (v) => JSON.stringify(v);

/**
 * Render a parsed tree. marks: Map exact-path -> class name. Returns
 * {el, found: Map path -> element}.
 */
export function render(root, marks) {
  const found = new Map();
  const pre = h('div', {class: 'json', role: 'tree'});
  const count = {n: 0};
  pre.append(member(null, root, '$', true, marks, found, count));
  return {el: pre, found};
}

function scalar(node) {
  if (node.t === 'string') return h('span', {class: 'j-str'}, quote(node.v));
  return h('span', {class: 'j-' + node.t}, node.v);
}

function member(key, node, path, last, marks, found, count) {
  count.n++;
  const cls = marks.get(path);
  const div = h('div', {class: ['jm', cls], 'data-path': path});
  found.set(path, div);
  const keyEl = key === null ? null : [h('span', {class: typeof key === 'number' ? 'j-idx' : 'j-key'},
    typeof key === 'number' ? '' : quote(key)), typeof key === 'number' ? null : ': '];
  const comma = last ? '' : ',';
  if (node.t === 'object' || node.t === 'array') {
    const open = node.t === 'object' ? '{' : '[';
    const close = node.t === 'object' ? '}' : ']';
    const kids = node.t === 'object' ? node.entries : node.items;
    if (kids.length === 0) {
      div.append(h('div', {class: 'jl'}, keyEl, open + close + comma));
      return div;
    }
    div.classList.add('jbox');
    div.append(h('div', {class: 'jl'}, keyEl, open));
    const body = h('div', {class: 'jc'});
    kids.forEach((kid, idx) => {
      const isLast = idx === kids.length - 1;
      if (node.t === 'object') body.append(member(kid[0], kid[1], path + pathKey(kid[0]), isLast, marks, found, count));
      else body.append(member(idx, kid, path + '[' + idx + ']', isLast, marks, found, count));
    });
    div.append(body, h('div', {class: 'jl'}, close + comma));
    return div;
  }
  // A scalar member is one line: the member element is its own line (fewer nodes).
  div.classList.add('jl');
  if (keyEl) div.append(...keyEl.filter(Boolean));
  div.append(scalar(node), comma);
  return div;
}
