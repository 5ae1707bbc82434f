/* Shared helpers for every page: page config, i18n, JSON API, versioned live updates, time. */
(function () {
  'use strict';

  function readJSON(id) {
    const el = document.getElementById(id);
    try { return el ? JSON.parse(el.textContent) || {} : {}; } catch (e) { return {}; }
  }

  const config = readJSON('page-config');
  const strings = Object.assign(readJSON('i18n-common'), readJSON('i18n'));

  /* t('key', {n: 3}) -> translated string with {n} placeholders filled in. */
  function t(key, params) {
    const s = strings[key] != null ? String(strings[key]) : key;
    return params ? s.replace(/\{(\w+)\}/g, (m, k) => (params[k] != null ? String(params[k]) : m)) : s;
  }
  const localName = (o) => (o ? o['name_' + config.lang] || o.name : '');
  const laneName = (lane) => (lane ? t('lane_' + lane) : '');
  const statusName = (status) => (status ? t('status_' + status) : '');

  /* h('li', {class: 'x', text: 'y', 'data-id': 1}, child...) - builds DOM with textContent only. */
  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    Object.entries(attrs || {}).forEach(([k, v]) => {
      if (v == null || v === false) return;
      if (k === 'text') el.textContent = v;
      else if (k === 'class') el.className = v;
      else el.setAttribute(k, v === true ? '' : v);
    });
    children.forEach((c) => c != null && el.append(c));
    return el;
  }

  /* fill(el, 'go_counter', {n: node}): the translated string with {slots} replaced by nodes/text. */
  function fill(el, key, slots) {
    const parts = t(key).split(/\{(\w+)\}/); // odd indices are slot names
    el.replaceChildren(...parts.map((p, i) => (i % 2 ? (slots[p] != null ? slots[p] : '') : p)));
    return el;
  }

  function setText(el, text) {
    if (typeof el === 'string') el = document.getElementById(el);
    if (el) el.textContent = text == null ? '' : String(text);
  }

  /* ---- time ---- */
  function parseTime(iso) {
    if (!iso) return null;
    const s = /([zZ]|[+-]\d\d:?\d\d)$/.test(iso) ? iso : iso + 'Z'; // API times are UTC
    const d = new Date(s);
    return isNaN(d) ? null : d;
  }
  const pad = (n) => String(n).padStart(2, '0');
  function clock(d, seconds) {
    d = d instanceof Date ? d : parseTime(d);
    if (!d) return '';
    return pad(d.getHours()) + ':' + pad(d.getMinutes()) + (seconds ? ':' + pad(d.getSeconds()) : '');
  }
  function minutesSince(iso) {
    const d = parseTime(iso);
    return d ? Math.max(0, Math.floor((Date.now() - d.getTime()) / 60000)) : null;
  }
  function etaText(eta) {
    if (!eta || eta.length < 2) return '';
    return eta[0] === eta[1] ? t('eta_one', { n: eta[0] }) : t('eta', { lo: eta[0], hi: eta[1] });
  }

  /* ---- API ---- */
  class ApiError extends Error {
    constructor(message, status, code) {
      super(message);
      this.status = status;
      this.code = code;
    }
  }

  async function api(path, body) {
    const opts = { method: 'GET', credentials: 'same-origin', headers: { Accept: 'application/json' } };
    if (body !== undefined) {
      opts.method = 'POST';
      opts.headers['Content-Type'] = 'application/json';
      if (config.csrf_token) opts.headers['X-CSRFToken'] = config.csrf_token;
      opts.body = JSON.stringify(body);
    }
    let res;
    try {
      const lang = config.lang ? (path.includes('?') ? '&' : '?') + 'lang=' + config.lang : '';
      res = await fetch((config.api || '/api/v1') + path + lang, opts);
    } catch (e) {
      throw new ApiError(t('network_error'), 0, 'network');
    }
    let data = null;
    try { data = await res.json(); } catch (e) { /* not JSON */ }
    if (!res.ok) {
      throw new ApiError((data && data.message) || t('server_error'), res.status, data && data.error);
    }
    return data;
  }

  /* ---- offline mark (#offline) ---- */
  let lastUpdate = null;
  function touched() { lastUpdate = new Date(); }
  function setOnline(online) {
    const el = document.getElementById('offline');
    if (!el) return;
    el.hidden = online;
    if (!online) {
      el.textContent = lastUpdate ? t('offline_since', { time: clock(lastUpdate, true) }) : t('offline');
    }
  }

  /*
   * Versioned live subscription.
   *   load():  fetches the full state, renders it, resolves to its version (number).
   *   apply(eventName, payload): applies one in-order event.
   *   full:    events carry the full state (ticket page), so any newer version applies.
   * Events with version <= known are ignored; known+1 is applied; a gap triggers load().
   * Events arriving while a load is in flight are buffered and replayed after it.
   */
  function live({ auth, events, load, apply, full }) {
    let version = -1;
    let syncing = false;
    let buffer = [];
    let retry = null;

    async function sync() {
      if (syncing) return;
      syncing = true;
      clearTimeout(retry);
      try {
        const v = await load();
        version = typeof v === 'number' ? v : version;
        touched();
      } catch (e) {
        retry = setTimeout(sync, 5000);
      }
      syncing = false;
      const pending = buffer;
      buffer = [];
      pending.forEach(([name, p]) => handle(name, p));
    }

    function handle(name, p) {
      if (!p) return;
      if (syncing) { buffer.push([name, p]); return; }
      const v = p.version;
      if (typeof v !== 'number') { apply(name, p); touched(); return; }
      if (v <= version) return;
      if (full || v === version + 1) {
        version = v;
        apply(name, p);
        touched();
      } else {
        sync();
      }
    }

    if (typeof window.io !== 'function') { // socket client missing: show state once, mark offline
      sync().then(() => setOnline(false));
      return { resync: sync };
    }
    const socket = window.io({ auth });
    socket.on('connect', () => { setOnline(true); sync(); });
    socket.on('disconnect', () => setOnline(false));
    socket.on('connect_error', () => setOnline(false));
    events.forEach((name) => socket.on(name, (p) => handle(name, p)));
    return { socket, resync: sync };
  }

  const STORE_EVENTS = ['issued', 'called', 'recalled', 'started', 'completed', 'no_show', 'cancelled', 'transferred'];

  /* Local times in server-rendered markup: <time data-time="ISO"> */
  function localizeTimes(root) {
    (root || document).querySelectorAll('[data-time]').forEach((el) => {
      const d = parseTime(el.getAttribute('data-time'));
      if (!d) return;
      const day = d.getFullYear() + '-' + pad(d.getMonth() + 1) + '-' + pad(d.getDate()) + ' ';
      el.textContent = (el.hasAttribute('data-time-full') ? day : '') + clock(d);
    });
  }
  document.addEventListener('DOMContentLoaded', () => {
    localizeTimes();
    document.querySelectorAll('[data-back]').forEach((el) => el.addEventListener('click', (e) => {
      if (history.length > 1) { e.preventDefault(); history.back(); }
    }));
  });

  window.HQ = {
    config, t, localName, laneName, statusName, h, fill, setText, parseTime, clock, minutesSince, etaText,
    api, ApiError, live, STORE_EVENTS, setOnline, localizeTimes,
  };
})();
