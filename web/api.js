// The admin API client: JSON in and out, the bearer token from sessionStorage, and
// the token prompt when the API answers 401 (requests wait for it, then retry).

const TOKEN_KEY = 'diffd.token';
let token = readToken();
let asking = null; // Promise resolved when the user submitted a token

function readToken() {
  try { return sessionStorage.getItem(TOKEN_KEY) || ''; } catch (e) { return ''; }
}

export class ApiError extends Error {
  constructor(status, message, detail) {
    super(message);
    this.status = status;
    this.detail = detail || message; // the API's own {"error": ...} text
  }
}

function askToken(rejected) {
  if (asking) return asking;
  const overlay = document.getElementById('token-overlay');
  const form = document.getElementById('token-form');
  const input = document.getElementById('token-input');
  const msg = document.getElementById('token-msg');
  msg.hidden = !rejected;
  msg.textContent = rejected ? 'That token was rejected (401). Try again.' : '';
  input.value = '';
  overlay.hidden = false;
  input.focus();
  asking = new Promise((resolve) => {
    const done = (e) => {
      e.preventDefault();
      const t = input.value.trim();
      if (!t) return;
      form.removeEventListener('submit', done);
      token = t;
      try { sessionStorage.setItem(TOKEN_KEY, t); } catch (err) { /* private mode */ }
      overlay.hidden = true;
      asking = null;
      resolve();
    };
    form.addEventListener('submit', done);
  });
  return asking;
}

/**
 * api('/api/v1/report') -> parsed JSON. opts: {method, body (object -> JSON),
 * text: true for a text/plain answer}.
 */
export async function api(path, opts = {}) {
  for (;;) {
    if (asking) await asking;
    const sent = token;
    const headers = {Accept: opts.text ? 'text/plain' : 'application/json'};
    if (sent) headers.Authorization = 'Bearer ' + sent;
    let body;
    if (opts.body !== undefined) {
      headers['Content-Type'] = 'application/json';
      body = JSON.stringify(opts.body);
    }
    let r;
    try {
      r = await fetch(path, {method: opts.method || 'GET', headers, body, cache: 'no-store', credentials: 'same-origin'});
    } catch (e) {
      throw new ApiError(0, 'diffd is unreachable (' + e.message + ')');
    }
    if (r.status === 401) {
      // A token entered meanwhile by another request's prompt: just retry with it.
      if (token !== sent) continue;
      await askToken(Boolean(sent));
      continue;
    }
    const text = await r.text();
    if (!r.ok) {
      let msg = '';
      try { msg = JSON.parse(text).error; } catch (e) { /* not JSON */ }
      throw new ApiError(r.status, `${opts.method || 'GET'} ${path}: ${r.status} ${msg || r.statusText || ''}`.trim(), msg);
    }
    if (opts.text) return text;
    try {
      return JSON.parse(text);
    } catch (e) {
      throw new ApiError(r.status, `${path}: the answer is not JSON`);
    }
  }
}

export const enc = encodeURIComponent;
