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
  // Times are shown in the store's time zone, whatever the device's own setting.
  let zoneFormat = null;
  try {
    if (config.timezone) {
      zoneFormat = new Intl.DateTimeFormat('en-GB', {
        timeZone: config.timezone, hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23',
      });
    }
  } catch (e) { zoneFormat = null; } // an unknown zone: fall back to the device's
  function clock(d, seconds) {
    d = d instanceof Date ? d : parseTime(d);
    if (!d) return '';
    if (zoneFormat) {
      const parts = Object.fromEntries(zoneFormat.formatToParts(d).map((p) => [p.type, p.value]));
      return parts.hour + ':' + parts.minute + (seconds ? ':' + parts.second : '');
    }
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
    constructor(message, status, code, data) {
      super(message);
      this.status = status;
      this.code = code;
      this.data = data || {}; // the whole error body (e.g. retry_after, status_url)
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
      throw new ApiError((data && data.message) || t('server_error'), res.status, data && data.error, data);
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

  /* throttle(fn, 2000): runs fn at once, then at most once per interval (a trailing call is kept). */
  function throttle(fn, ms) {
    let last = 0;
    let timer = null;
    return function run() {
      const wait = last + ms - Date.now();
      if (wait <= 0) {
        clearTimeout(timer);
        timer = null;
        last = Date.now();
        fn();
      } else if (!timer) {
        timer = setTimeout(() => { timer = null; run(); }, wait);
      }
    };
  }

  /* ---- services (kiosk and join pages) ---- */
  function serviceInfo(s) {
    const eta = etaText(s.eta_minutes);
    return t('waiting_n', { n: s.waiting }) + (eta ? ' · ' + eta : '');
  }
  /* Spoken name of a service button: name, description, lane, wait - in the order they are shown. */
  function serviceLabel(s) {
    return [localName(s), s.description, laneName(s.lane), serviceInfo(s)].filter(Boolean).join(', ');
  }
  function serviceButton(s, disabled) {
    return h('button', {
      type: 'button', class: 'service-btn lane-' + s.lane, 'data-service': s.code,
      'aria-label': serviceLabel(s), disabled: !!disabled,
    },
    s.icon ? h('img', { class: 'service-icon', src: '/static/icons/' + s.icon + '.svg', alt: '', width: 48, height: 48 }) : null,
    h('span', { class: 'service-text' }, // the spaces keep words apart for screen readers
      h('span', { class: 'service-name', text: localName(s) }), ' ',
      s.description ? h('span', { class: 'service-desc', text: s.description }) : null, ' ',
      h('span', { class: 'service-meta' },
        h('span', { class: 'lane-badge lane-' + s.lane, text: laneName(s.lane) }), ' ',
        h('span', { class: 'service-info', text: serviceInfo(s) }))));
  }
  /* Services grouped by category, in the order they come: [{category, name, services}]. */
  function serviceGroups(services) {
    const groups = [];
    services.forEach((s) => {
      const key = s.category || '';
      let g = groups.find((x) => x.category === key);
      if (!g) groups.push(g = { category: key, name: s.category_name || '', services: [] });
      g.services.push(s);
    });
    return groups;
  }
  /* Fills container with category sections of service buttons. Returns true when rebuilt. Buttons
     already shown for the same services are updated in place (a finger on a button is not disturbed). */
  function renderServices(container, services, opts) {
    opts = opts || {};
    const shown = [...container.querySelectorAll('[data-service]')];
    const same = shown.length === services.length && services.length > 0 &&
      shown.every((b, i) => b.dataset.service === services[i].code);
    if (same) {
      services.forEach((s, i) => {
        shown[i].querySelector('.service-info').textContent = serviceInfo(s);
        shown[i].setAttribute('aria-label', serviceLabel(s));
      });
      return false;
    }
    if (!services.length) {
      container.replaceChildren(h('p', { class: 'services-empty', text: t('no_services') }));
      return true;
    }
    container.replaceChildren(...serviceGroups(services).map((g) => h('section',
      { class: 'service-group', 'data-category': g.category || null },
      g.name ? h('h2', { class: 'service-group-title', text: g.name }) : null,
      h('div', { class: 'service-grid' }, ...g.services.map((s) => serviceButton(s, opts.disabled))))));
    return true;
  }


  /* ---- appointments: day chips and slot buttons (booking and manage pages) ----
     Dates are store-local "YYYY-MM-DD"; slot times come as store-local "HH:MM" from the server. */
  const dayFmt = (opts) => new Intl.DateTimeFormat(config.lang === 'en' ? 'en-US' : 'zh-CN', Object.assign({ timeZone: 'UTC' }, opts));
  function dayDate(ymd) {
    const m = /^(\d{4})-(\d\d)-(\d\d)/.exec(ymd || '');
    return m ? new Date(Date.UTC(+m[1], +m[2] - 1, +m[3])) : null;
  }
  /* "11月27日 周五" / "Fri, Nov 27" */
  function dayText(ymd, withWeekday) {
    const d = dayDate(ymd);
    if (!d) return ymd || '';
    if (config.lang === 'en') {
      return dayFmt(withWeekday !== false ? { weekday: 'short', month: 'short', day: 'numeric' } : { month: 'short', day: 'numeric' }).format(d);
    }
    const md = dayFmt({ month: 'long', day: 'numeric' }).format(d); // 11月27日 周五
    return withWeekday !== false ? md + ' ' + dayFmt({ weekday: 'short' }).format(d) : md;
  }
  /* "10:00" + 15 -> "10:15" */
  function addMinutes(hhmm, minutes) {
    const m = /^(\d\d?):(\d\d)/.exec(hhmm || '');
    if (!m) return '';
    const total = ((+m[1] * 60 + +m[2] + Math.round(minutes)) % 1440 + 1440) % 1440;
    return pad(Math.floor(total / 60)) + ':' + pad(total % 60);
  }
  /* Store-local "HH:MM" of an ISO instant, using a known pair (startIso shown as startHHMM) for the
     store's offset, so the answer does not depend on the phone's own time zone. */
  function storeClock(iso, startIso, startHHMM) {
    const d = parseTime(iso);
    const s = parseTime(startIso);
    if (!d) return '';
    if (!s || !startHHMM) return clock(d);
    return addMinutes(startHHMM, (d.getTime() - s.getTime()) / 60000);
  }
  /* Day chips: buttons[data-date]; index 0 is today. Needs i18n keys today, tomorrow, day_closed. */
  function renderDays(container, days, selected) {
    container.replaceChildren(...days.map((day, i) => {
      const top = i === 0 ? t('today') : i === 1 ? t('tomorrow') : dayFmt({ weekday: 'short' }).format(dayDate(day.date));
      const bottom = dayText(day.date, false);
      return h('button', {
        type: 'button', class: 'day-chip' + (day.open ? '' : ' is-closed'), 'data-date': day.date,
        'aria-pressed': String(day.date === selected), disabled: !day.open,
        'aria-label': top + ' ' + dayText(day.date) + (day.open ? '' : ', ' + t('day_closed')),
      },
      h('span', { class: 'day-top', text: top }),
      h('span', { class: 'day-date', text: bottom }),
      day.open ? null : h('span', { class: 'day-closed', text: t('day_closed') }));
    }));
  }
  /* Slot buttons [data-slot=start ISO] grouped into morning / afternoon. Needs i18n keys
     slots_left, slot_full, morning, afternoon. Returns the number of bookable slots. */
  function renderSlots(container, slots, selected) {
    const groups = [['morning', []], ['afternoon', []]];
    slots.forEach((s) => groups[parseInt(s.time, 10) < 12 ? 0 : 1][1].push(s));
    container.replaceChildren(...groups.filter((g) => g[1].length).map(([name, list]) => h('div', { class: 'slot-group' },
      h('p', { class: 'slot-group-title', text: t(name) }),
      h('div', { class: 'slot-grid' }, ...list.map((s) => {
        const free = s.free > 0;
        const left = free ? t('slots_left', { n: s.free }) : t('slot_full');
        return h('button', {
          type: 'button', class: 'slot-btn' + (free ? '' : ' is-full'), 'data-slot': s.start, value: s.start,
          'aria-pressed': String(s.start === selected), disabled: !free, 'aria-label': s.time + ', ' + left,
        }, h('span', { class: 'slot-time', text: s.time }), h('span', { class: 'slot-left', text: left }));
      })))));
    return slots.filter((s) => s.free > 0).length;
  }
  /* Marks one button of a group as chosen (aria-pressed). */
  function choose(container, selector, attr, value) {
    container.querySelectorAll(selector).forEach((b) => b.setAttribute('aria-pressed', String(b.getAttribute(attr) === value)));
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
    document.querySelectorAll('[data-print]').forEach((el) => el.addEventListener('click', () => window.print()));
  });

  window.HQ = {
    config, t, localName, laneName, statusName, h, fill, setText, parseTime, clock, minutesSince, etaText,
    api, ApiError, live, STORE_EVENTS, setOnline, localizeTimes,
    throttle, serviceInfo, serviceLabel, serviceButton, serviceGroups, renderServices,
    dayDate, dayText, addMinutes, storeClock, renderDays, renderSlots, choose,
  };
})();
