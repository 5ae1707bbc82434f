/*
 * The manager console's live floor: every counter (open / paused / nobody signed in, its clerk, the
 * visit at it and for how long), every lane (waiting, longest wait, estimate, open counters), the
 * waiting list in call order, and the alerts those raise. Live over Socket.IO (the store's staff
 * room): the floor's state is loaded on (re)connect and on each projection update, never polled;
 * between updates only the clock moves, counted from the server's timestamps on the server's time.
 *
 * Actions are small forms posted to the console (JSON answers): pause / reopen a counter, change
 * its lanes, call a waiting ticket to a free counter, issue a ticket, post the displays' notices.
 */
import { ApiError } from '../lib/api.js';
import { pageConfig } from '../lib/config.js';
import { byId as $, h, setText } from '../lib/dom.js';
import { EVENTS } from '../lib/events.js';
import { canTakeCall, clockOffset, duration, elapsedMs, floorAlerts, isLong, visitSince, wholeMinutes } from '../lib/floor.js';
import { laneName, statusName, t } from '../lib/i18n.js';
import { randomKey } from '../lib/ids.js';
import { STORE_ROOM, live } from '../lib/live.js';
import { clock, etaText, plannedReturn } from '../lib/time.js';
import { setOnline } from '../ui/offline.js';

const config = pageConfig();
const urls = config.floor || {};
const S = { data: null, offset: 0, version: -1, alerts: '', busy: false, noticesDirty: false };
const serverNow = () => Date.now() + S.offset;

/* ---------------------------------------------------------------- requests */

async function request(url, fields) {
  const opts = { method: 'GET', credentials: 'same-origin', headers: { Accept: 'application/json' } };
  if (fields) {
    opts.method = 'POST';
    opts.headers['X-CSRFToken'] = config.csrf_token;
    opts.body = new URLSearchParams(fields);
  }
  let res;
  try {
    res = await fetch(url + (url.includes('?') ? '&' : '?') + 'lang=' + config.lang, opts);
  } catch {
    throw new ApiError(t('network_error'), 0, 'network');
  }
  let data = null;
  try { data = await res.json(); } catch { /* not JSON */ }
  if (!res.ok) throw new ApiError((data && data.message) || t('server_error'), res.status, data && data.error, data);
  return data;
}

function say(text, kind) {
  const m = $('f-message');
  m.textContent = text || '';
  m.className = 'f-message' + (kind ? ' is-' + kind : '');
}

/* ---------------------------------------------------------------- state */

let loading = null;
let again = false;

function show(data) {
  if (!data || data.version < S.version) return; // an older answer than what is shown
  S.data = data;
  S.version = data.version;
  S.offset = clockOffset(data.now);
  render();
}

async function load() {
  const data = await request(urls.state);
  show(data);
  $('f-floor').removeAttribute('aria-busy');
  return data.version;
}

/* The state again after a live update; updates arriving meanwhile make one more load. */
function refresh() {
  if (loading) { again = true; return; }
  loading = load().catch(() => { /* the next update or the reconnect loads it */ }).finally(() => {
    loading = null;
    if (again) { again = false; refresh(); }
  });
}

/* ---------------------------------------------------------------- rendering */

const counterOf = (n) => (S.data ? S.data.counters.find((c) => c.number === Number(n)) : null);
const since = (iso, attr) => h('span', { class: 'f-since', [attr || 'data-since']: iso });

function renderHead() {
  const st = S.data.store;
  const hours = st.hours || {};
  let text = t('hall_closed');
  if (hours.open && hours.closes_at) text = t('hall_open', { time: clock(hours.closes_at) });
  else if (!hours.open && hours.next_open) text = t('hall_opens', { time: clock(hours.next_open) });
  const hall = $('f-hall');
  hall.textContent = text;
  hall.classList.toggle('is-closed', !hours.open);
  setText('f-target', st.wait_target_minutes > 0 ? t('target', { n: st.wait_target_minutes }) : t('no_target'));
}

function stateLine(c) {
  if (c.status === 'closed') return t('state_closed');
  let state = c.status === 'paused'
    ? (c.pause_reason_name ? t('paused_for', { reason: c.pause_reason_name }) : t('state_paused'))
    : t('state_open');
  // The planned return on the server's clock, only while still to come.
  const back = c.status === 'paused' ? plannedReturn(c.back_at, serverNow()) : null;
  if (back) state += ' · ' + t('back_around', { time: clock(back) });
  return c.clerk != null ? state + ' · ' + t('clerk', { name: c.clerk || '—' }) : state;
}

function currentBlock(c) {
  const tk = c.current;
  if (!tk) {
    if (c.status === 'closed') return h('p', { class: 'f-idle', text: t('closed_line') });
    if (c.status === 'paused') return h('p', { class: 'f-idle', text: t('paused_line') });
    return h('p', { class: 'f-idle', text: c.next ? t('free_next', { label: c.next }) : t('free') });
  }
  const begun = visitSince(tk);
  return h('div', { class: 'f-visit' + (isLong(tk, serverNow()) ? ' is-long' : ''), 'data-ticket': tk.id },
    h('span', { class: 'f-label', text: tk.label }),
    h('span', { class: 'f-visit-info' },
      h('span', { class: 'f-service', text: tk.service_name }),
      h('span', { class: 'f-status', 'data-status': tk.status, text: statusName(tk.status) }),
      h('span', { class: 'f-when' },
        since(begun),
        ' ', t('at_counter_since', { time: clock(begun) }),
        tk.expected_minutes ? ' · ' + t('expected', { n: tk.expected_minutes }) : '')));
}

function counterCard(c) {
  const name = c.own_name ? c.name + ' · ' + c.own_name : c.name;
  // Each button says what it does, then on which counter (its visible text comes first).
  const button = (attr, text) => h('button', {
    type: 'button', class: 'btn btn-small', [attr]: c.number, 'aria-label': text + ' · ' + name, text,
  });
  // Nobody signed in: nothing to pause (the counter serves nobody already).
  const actions = [
    c.status === 'paused' ? button('data-reopen', t('reopen')) : null,
    c.status === 'open' ? button('data-pause', t('pause')) : null,
    button('data-profile', t('lanes_button')),
  ].filter(Boolean);
  return h('article', { class: 'f-counter is-' + c.status, 'data-counter': c.number, 'aria-label': name },
    h('header', { class: 'f-counter-head' },
      h('h3', { text: name }),
      h('span', { class: 'f-state', 'data-state': c.status, text: stateLine(c) })),
    h('div', { class: 'f-profile' }, ...c.lanes.map((l) => h('span', { class: 'lane-badge lane-' + l, text: laneName(l) })),
      c.reserved ? h('span', { class: 'f-parked', text: t('held_for_appointments') }) : null,
      c.parked ? h('span', { class: 'f-parked', text: t('parked', { n: c.parked }) }) : null),
    currentBlock(c),
    h('footer', { class: 'f-counter-foot' }, ...actions));
}

function renderCounters() {
  const list = $('f-counter-list');
  keepFocus(list, () => list.replaceChildren(...S.data.counters.map(counterCard)));
}

function laneRow(l) {
  const eta = etaText(l.eta_minutes) || (l.eta_reason ? t('eta_' + l.eta_reason) : '—');
  return h('tr', { 'data-lane': l.lane, class: l.unserved ? 'is-unserved' : null },
    h('th', { scope: 'row' }, h('span', { class: 'lane-badge lane-' + l.lane, text: l.name })),
    h('td', { class: 'num f-n', text: String(l.waiting) }),
    h('td', { class: 'num' }, l.oldest_issued_at ? since(l.oldest_issued_at, 'data-since-min') : '—'),
    h('td', { text: l.lane === 'appointment' && !l.eta_minutes ? '—' : eta }),
    h('td', { text: l.staffed_counters.length ? l.staffed_counters.join(', ') : t('none') }));
}

function waitingRow(tk) {
  return h('li', { 'data-id': tk.id, 'data-label': tk.label },
    h('span', { class: 'f-label', text: tk.label }),
    h('span', { class: 'f-w-main' },
      h('span', { class: 'f-service', text: tk.service_name }),
      tk.target_counter != null ? h('span', { class: 'f-note', text: t('to_counter', { n: tk.target_counter }) }) : null,
      tk.held ? h('span', { class: 'f-note', text: t('held') }) : null),
    h('span', { class: 'lane-badge lane-' + tk.lane, text: laneName(tk.lane) }),
    h('span', { class: 'f-w-time' }, since(tk.issued_at, 'data-since-min')),
    h('button', { type: 'button', class: 'btn btn-small', 'data-call': tk.id, 'aria-label': t('call_to') + ' · ' + tk.label, text: t('call_to') }));
}

function renderLanes() {
  $('f-lanes').replaceChildren(...S.data.lanes.map(laneRow));
  const box = $('f-waiting');
  keepFocus(box, () => box.replaceChildren(...S.data.waiting.map(waitingRow)));
  setText('f-waiting-count', S.data.waiting.length);
  $('f-waiting-empty').hidden = S.data.waiting.length > 0;
}

function renderNotices() {
  const n = S.data.notices;
  if (S.noticesDirty) return; // never overwrite what the manager is typing
  $('notices_zh').value = n.zh || '';
  $('notices_en').value = n.en || '';
  $('f-notices-loaded').value = n.loaded;
}

function renderAlerts() {
  const alerts = floorAlerts(S.data, serverNow());
  const sig = JSON.stringify(alerts);
  if (sig === S.alerts) return;
  S.alerts = sig;
  $('f-alerts').replaceChildren(...alerts.map((a) => h('li', { class: 'f-alert f-alert-' + a.kind, 'data-kind': a.kind, text: t(a.key, a.params) })));
  $('f-calm').hidden = alerts.length > 0;
}

/* The clock moves: every duration on screen from its server timestamp, on the server's time. */
function tick() {
  const now = serverNow();
  setText('f-clock', clock(new Date(now), true));
  document.querySelectorAll('[data-since]').forEach((el) => {
    el.textContent = duration(elapsedMs(el.dataset.since, now));
  });
  document.querySelectorAll('[data-since-min]').forEach((el) => {
    const m = wholeMinutes(elapsedMs(el.dataset.sinceMin, now));
    el.textContent = m == null ? '' : t('wait_min', { n: m });
    const target = S.data && S.data.store.wait_target_minutes;
    el.classList.toggle('is-over', !!target && m >= target);
  });
  document.querySelectorAll('.f-visit[data-ticket]').forEach((el) => {
    const c = S.data && S.data.counters.find((x) => x.current && x.current.id === Number(el.dataset.ticket));
    if (c) el.classList.toggle('is-long', isLong(c.current, now));
  });
  if (S.data) renderAlerts();
}

function render() {
  if (!S.data) return;
  renderHead();
  renderCounters();
  renderLanes();
  renderNotices();
  tick();
}

/* Re-rendering a list must not take the keyboard focus from its buttons. */
function keepFocus(container, build) {
  const f = document.activeElement;
  const key = f && container.contains(f) ? [...f.attributes].find((a) => a.name.startsWith('data-'))
    : null;
  build();
  if (key) {
    const again2 = container.querySelector('[' + key.name + '="' + key.value + '"]');
    if (again2) again2.focus();
  }
}

/* ---------------------------------------------------------------- forms and dialogs */

function clearErrors(form) {
  form.querySelectorAll('[data-js-error]').forEach((el) => el.remove());
  form.querySelectorAll('[aria-invalid="true"]').forEach((el) => {
    el.removeAttribute('aria-invalid');
    el.removeAttribute('aria-describedby');
  });
}

/* The server's field errors next to their fields, in the page's language. */
function showErrors(form, err, box) {
  clearErrors(form);
  const fields = (err.data && err.data.fields) || {};
  let first = null;
  Object.entries(fields).forEach(([name, messages]) => {
    const el = form.elements[name];
    if (!el || !el.id) return;
    const p = h('p', { class: 'm-error', id: el.id + '-error', 'data-js-error': true, text: messages.join(' ') });
    el.after(p);
    el.setAttribute('aria-invalid', 'true');
    el.setAttribute('aria-describedby', p.id);
    first = first || el;
  });
  if (box) {
    setText(box, err.message);
    box.hidden = false;
  }
  if (first) first.focus();
}

/* Posts `fields` to `url` once at a time; the answer's message is said, errors shown. */
async function act(url, fields, { form, box, onOk } = {}) {
  if (S.busy) return false;
  S.busy = true;
  document.body.classList.add('is-busy');
  try {
    const res = await request(url, fields);
    if (form) clearErrors(form);
    if (box) box.hidden = true;
    say(res.message, 'ok');
    if (onOk) onOk(res);
    refresh();
    return true;
  } catch (err) {
    if (form) showErrors(form, err, box);
    else say(err.message, 'error');
    if (err.status === 409 || err.status === 404) refresh(); // what we showed was stale
    return false;
  } finally {
    S.busy = false;
    document.body.classList.remove('is-busy');
  }
}

/* Opens a dialog; `submit()` resolves true to close it. */
function dialog(el, setup, submit) {
  const form = el.querySelector('form');
  clearErrors(form);
  const box = form.querySelector('p.m-error[id$="-error"]:not([data-js-error])');
  if (box) box.hidden = true;
  setup(form);
  const onSubmit = async (e) => {
    e.preventDefault();
    if (await submit(form, box)) el.close();
  };
  const onCancel = () => el.close();
  form.addEventListener('submit', onSubmit);
  form.querySelectorAll('[data-cancel]').forEach((b) => b.addEventListener('click', onCancel));
  el.addEventListener('close', () => {
    form.removeEventListener('submit', onSubmit);
    form.querySelectorAll('[data-cancel]').forEach((b) => b.removeEventListener('click', onCancel));
  }, { once: true });
  el.showModal();
  const focus = form.querySelector('select, textarea, input:not([type="hidden"])');
  if (focus) focus.focus();
}

function counterUrl(number, what) {
  return urls.counters + '/' + encodeURIComponent(number) + '/' + what;
}

function openPause(number) {
  const c = counterOf(number);
  if (!c) return;
  dialog($('f-pause-dialog'), () => setText('f-pause-title', t('pause_title', { counter: c.name })),
    (form, box) => act(counterUrl(number, 'pause'),
      { reason: form.elements.reason.value, minutes: form.elements.minutes.value }, { form, box }));
}

function openProfile(number) {
  const c = counterOf(number);
  if (!c) return;
  dialog($('f-profile-dialog'), (form) => {
    setText('f-profile-title', t('profile_title', { counter: c.name }));
    ['lane_1', 'lane_2', 'lane_3', 'lane_4'].forEach((name, i) => { form.elements[name].value = c.lanes[i] || ''; });
    form.elements.loaded.value = c.profile_loaded;
  }, (form, box) => {
    const fields = { loaded: form.elements.loaded.value };
    ['lane_1', 'lane_2', 'lane_3', 'lane_4'].forEach((name) => { fields[name] = form.elements[name].value; });
    return act(counterUrl(number, 'profile'), fields, { form, box });
  });
}

function counterOption(c, tk) {
  let text = t('opt_free', { counter: c.name, clerk: c.clerk || '—' });
  if (c.status === 'closed') text = t('opt_closed', { counter: c.name });
  else if (c.status === 'paused') text = t('opt_paused', { counter: c.name });
  else if (c.current) text = t('opt_busy', { counter: c.name, label: c.current.label });
  const sentElsewhere = tk.target_counter != null && tk.target_counter !== c.number;
  return h('option', { value: c.number, disabled: !canTakeCall(c) || sentElsewhere, text });
}

function openCall(ticketId) {
  const tk = S.data && S.data.waiting.find((w) => w.id === Number(ticketId));
  if (!tk) return;
  dialog($('f-call-dialog'), (form) => {
    setText('f-call-title', t('call_title', { label: tk.label }));
    const select = form.elements.counter;
    select.replaceChildren(...S.data.counters.map((c) => counterOption(c, tk)));
    const usable = [...select.options].filter((o) => !o.disabled);
    const serving = usable.find((o) => (counterOf(o.value).lanes || []).includes(tk.lane));
    const chosen = serving || usable[0];
    if (chosen) select.value = chosen.value;
    const error = $('f-call-error');
    error.hidden = !!chosen;
    if (!chosen) setText(error, t('no_free_counter'));
    form.querySelector('[type="submit"]').disabled = !chosen;
  }, (form, box) => act(urls.call, { ticket: tk.id, counter: form.elements.counter.value }, { form, box }));
}

$('f-counter-list').addEventListener('click', (e) => {
  const b = e.target.closest('button');
  if (!b || S.busy) return;
  if (b.dataset.pause) openPause(b.dataset.pause);
  else if (b.dataset.reopen) act(counterUrl(b.dataset.reopen, 'reopen'), {});
  else if (b.dataset.profile) openProfile(b.dataset.profile);
});
$('f-waiting').addEventListener('click', (e) => {
  const b = e.target.closest('[data-call]');
  if (b && !S.busy) openCall(b.dataset.call);
});

$('f-issue').addEventListener('submit', async (e) => {
  e.preventDefault();
  const form = e.currentTarget;
  const result = $('f-issue-result');
  const button = form.querySelector('[type="submit"]');
  button.disabled = true;
  setText(result, t('working'));
  result.className = 'f-result';
  try {
    const res = await request(urls.issue, { service: form.elements.service.value, request_key: randomKey() });
    setText(result, res.message);
    result.classList.add('is-ok');
    refresh();
  } catch (err) {
    setText(result, err.message);
    result.classList.add('is-error');
  } finally {
    button.disabled = false;
  }
});

const noticesForm = $('f-notices');
noticesForm.addEventListener('input', () => { S.noticesDirty = true; });
noticesForm.addEventListener('submit', async (e) => {
  e.preventDefault();
  const result = $('f-notices-result');
  const fields = {
    loaded: noticesForm.elements.loaded.value,
    notices_zh: noticesForm.elements.notices_zh.value,
    notices_en: noticesForm.elements.notices_en.value,
  };
  result.className = 'f-result';
  try {
    const res = await request(urls.notices, fields);
    clearErrors(noticesForm);
    S.noticesDirty = false;
    setText(result, res.message);
    result.classList.add('is-ok');
    refresh();
  } catch (err) {
    showErrors(noticesForm, err, null);
    setText(result, err.message);
    result.classList.add('is-error');
    if (err.code === 'changed_meanwhile') { S.noticesDirty = false; refresh(); } // shown as they are now
  }
});

/* ---------------------------------------------------------------- live */

live({
  auth: { store: config.store, role: 'floor' },
  events: STORE_ROOM,
  onStatus: setOnline,
  load,
  apply: (name) => { if (name === EVENTS.QUEUE_UPDATED) refresh(); },
});
setInterval(tick, 1000); // the clock only: nothing is fetched
