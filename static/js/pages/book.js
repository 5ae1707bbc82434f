/* Booking an appointment from a phone: 1 service, 2 day + time, 3 name + mobile + consent.
   One submit at a time; a slot taken meanwhile re-renders that day's slots. */
import { api, storePath } from '../lib/api.js';
import { pageConfig } from '../lib/config.js';
import { byId as $, h, setText } from '../lib/dom.js';
import { t } from '../lib/i18n.js';
import { dayText } from '../lib/time.js';
import { choose, renderDays, renderSlots } from '../ui/slots.js';

const config = pageConfig();
const base = storePath(config.store);

const S = { info: null, service: null, date: null, slot: null, slots: [], phoneRe: null, sending: false, slotsReq: 0 };

/* ---------------------------------------------------------------- loading */

async function load() {
  $('book-loading').hidden = false;
  $('load-error').hidden = true;
  try {
    S.info = await api(base + '/booking');
  } catch (err) {
    $('book-loading').hidden = true;
    setText('load-error-text', err.message);
    $('load-error').hidden = false;
    return;
  }
  $('book-loading').hidden = true;
  const info = S.info;
  const store = info.store || {};
  setText('store-address', store.address || '');
  setText('store-hours', store.hours_text ? t('hours', { hours: store.hours_text }) : '');
  $('store-info').hidden = !(store.address || store.hours_text);
  try { S.phoneRe = info.phone_pattern ? new RegExp('^(?:' + info.phone_pattern + ')$') : null; } catch { S.phoneRe = null; }
  if (info.phone_pattern) $('phone').setAttribute('pattern', info.phone_pattern);
  setText('consent-text', info.consent_text || '');
  renderServiceCards(info.services || []);
  renderBusy(info.busy);
  $('step-service').hidden = false;
  // A single bookable service: pre-select it, the customer still sees what it is.
  if ((info.services || []).length === 1) pickService(info.services[0].code, false);
}

function renderServiceCards(services) {
  const box = $('book-services');
  if (!services.length) {
    box.replaceChildren(h('p', { class: 'slots-empty', text: t('no_services') }));
    return;
  }
  box.replaceChildren(...services.map((s) => h('button', {
    type: 'button', class: 'book-service', 'data-service': s.code, 'aria-pressed': 'false',
  },
  s.icon ? h('img', { class: 'book-service-icon', src: '/static/icons/' + s.icon + '.svg', alt: '', width: 40, height: 40 }) : null,
  h('span', { class: 'book-service-text' },
    h('span', { class: 'book-service-name', text: s.name }), ' ',
    s.description ? h('span', { class: 'book-service-desc', text: s.description }) : null, ' ',
    s.slot_minutes ? h('span', { class: 'book-service-time', text: t('minutes_slot', { n: s.slot_minutes }) }) : null))));
}

/* A tiny bar per opening hour (low / medium / high) and the advice sentence. */
function renderBusy(busy) {
  const hours = (busy && busy.hours) || [];
  const advice = (busy && busy.advice) || '';
  setText('busy-advice', advice);
  $('busy-hint').hidden = !hours.length && !advice;
  const levels = { low: 1, medium: 2, high: 3 };
  $('busy-bars').replaceChildren(...hours.map((x) => h('span', {
    class: 'busy-bar level-' + (levels[x.level] ? x.level : 'low'),
    title: x.hour + ':00 ' + t('busy_' + (levels[x.level] ? x.level : 'low')),
  }, h('span', { class: 'busy-fill' }), h('span', { class: 'busy-hour', text: String(x.hour) }))));
  $('busy-bars').hidden = !hours.length;
}

/* ---------------------------------------------------------------- choosing */

function serviceOf(code) { return ((S.info && S.info.services) || []).find((s) => s.code === code) || null; }

function pickService(code, scroll) {
  if (!serviceOf(code)) return;
  S.service = code;
  choose($('book-services'), '[data-service]', 'data-service', code);
  const days = S.info.days || [];
  if (!S.date || !days.some((d) => d.date === S.date && d.open)) {
    const first = days.find((d) => d.open);
    S.date = first ? first.date : null;
    S.autoDay = true; // not the customer's choice: move on when that day has nothing left
  }
  renderDays($('book-days'), days, S.date);
  $('step-time').hidden = false;
  setSlot(null);
  loadSlots();
  if (scroll !== false) $('step-time').scrollIntoView({ behavior: 'smooth', block: 'start' });
}

async function loadSlots(fresh) {
  const req = ++S.slotsReq;
  $('slots-empty').hidden = true;
  if (!S.date) {
    $('book-slots').replaceChildren();
    showSlotsEmpty(t('day_is_closed'));
    return;
  }
  if (fresh) {
    showSlots(fresh, false);
    return;
  }
  $('book-slots').replaceChildren();
  $('slots-loading').hidden = false;
  try {
    const data = await api(base + '/slots?service=' + encodeURIComponent(S.service) + '&date=' + encodeURIComponent(S.date));
    if (req !== S.slotsReq) return; // the customer already chose another day or service
    showSlots(data.slots || [], !!data.closed);
  } catch (err) {
    if (req !== S.slotsReq) return;
    showSlotsEmpty(err.message);
  } finally {
    if (req === S.slotsReq) $('slots-loading').hidden = true;
  }
}

/* The day we picked ourselves (not the customer) is full or over: show the next open day instead. */
function nextAutoDay() {
  const days = (S.info && S.info.days) || [];
  const i = days.findIndex((d) => d.date === S.date);
  const next = days.slice(i + 1, i + 8).find((d) => d.open);
  if (!S.autoDay || i < 0 || !next) return false;
  S.date = next.date;
  choose($('book-days'), '[data-date]', 'data-date', S.date);
  const chip = $('book-days').querySelector('[aria-pressed="true"]');
  if (chip) chip.scrollIntoView({ block: 'nearest', inline: 'nearest' });
  loadSlots();
  return true;
}

function showSlots(slots, closed) {
  if (!slots.some((s) => s.free > 0) && nextAutoDay()) return;
  S.autoDay = false;
  S.slots = slots;
  if (S.slot && !slots.some((s) => s.start === S.slot.start && s.free > 0)) setSlot(null);
  const n = renderSlots($('book-slots'), slots, S.slot && S.slot.start);
  if (closed) showSlotsEmpty(t('day_is_closed'));
  else if (!n) showSlotsEmpty(t('no_slots'));
  else $('slots-empty').hidden = true;
}
function showSlotsEmpty(text) {
  setText('slots-empty', text);
  $('slots-empty').hidden = false;
}

function setSlot(slot) {
  S.slot = slot;
  choose($('book-slots'), '[data-slot]', 'data-slot', slot ? slot.start : '');
  const service = serviceOf(S.service);
  setText('choice-summary', slot && service
    ? t('summary', { service: service.name, day: dayText(S.date), time: slot.time })
    : t('choose_time_first'));
  $('choice-summary').classList.toggle('is-missing', !slot);
}

/* ---------------------------------------------------------------- form */

const cleanPhone = (v) => String(v || '').replace(/[\s\-()]/g, '');

function fieldError(id, text) {
  const el = $(id + '-error');
  setText(el, text || '');
  el.hidden = !text;
  const input = $(id);
  if (text) input.setAttribute('aria-invalid', 'true'); else input.removeAttribute('aria-invalid');
}

function checkName() {
  const ok = $('name').value.trim().length > 0;
  fieldError('name', ok ? '' : t('need_name'));
  return ok;
}
function checkPhone(strict) {
  const v = cleanPhone($('phone').value);
  let msg = '';
  if (!v) msg = strict ? t('need_phone') : '';
  else if (S.phoneRe ? !S.phoneRe.test(v) : !/^\+?\d{6,15}$/.test(v)) msg = t('bad_phone');
  fieldError('phone', msg);
  return !msg && !!v;
}
function checkConsent() {
  const ok = $('consent').checked;
  fieldError('consent', ok ? '' : t('need_consent'));
  return ok;
}

function showError(text, kind) {
  const box = $('book-error');
  setText(box, text || '');
  box.classList.toggle('info', kind === 'info');
  box.hidden = !text;
}

function setSending(on) {
  S.sending = on;
  const b = $('book-submit');
  b.disabled = on;
  b.setAttribute('aria-busy', String(on));
  if (on) { b.dataset.label = b.textContent; b.textContent = t('booking'); }
  else if (b.dataset.label) b.textContent = b.dataset.label;
}

async function submit(e) {
  e.preventDefault();
  if (S.sending) return;
  showError('');
  const okName = checkName();
  const okPhone = checkPhone(true);
  const okConsent = checkConsent();
  if (!S.slot) {
    showError(t('choose_time_first'));
    $('step-time').scrollIntoView({ behavior: 'smooth', block: 'start' });
    return;
  }
  if (!okName) { $('name').focus(); return; }
  if (!okPhone) { $('phone').focus(); return; }
  if (!okConsent) { $('consent').focus(); return; }
  setSending(true);
  try {
    const booking = await api(base + '/appointments', {
      service: S.service, start: S.slot.start, name: $('name').value.trim(),
      phone: cleanPhone($('phone').value), consent: true,
    });
    if (!booking || !booking.manage_url) throw new Error(t('server_error'));
    location.href = booking.manage_url + (booking.manage_url.includes('?') ? '&' : '?') + 'new=1';
    return; // keep the button disabled while the next page loads
  } catch (err) {
    setSending(false);
    handleError(err);
  }
}

function handleError(err) {
  const data = err.data || {};
  switch (err.code) {
    case 'slot_taken':
      setSlot(null);
      if (Array.isArray(data.slots)) loadSlots(data.slots); else loadSlots();
      setText('slot-note', t('slot_taken'));
      $('slot-note').hidden = false;
      showError(t('slot_taken'));
      $('step-time').scrollIntoView({ behavior: 'smooth', block: 'start' });
      return;
    case 'too_soon':
    case 'outside_horizon':
      setSlot(null);
      loadSlots();
      showError(err.message);
      return;
    case 'bad_phone':
      fieldError('phone', err.message || t('bad_phone'));
      $('phone').focus();
      return;
    case 'consent_required':
      fieldError('consent', err.message || t('need_consent'));
      $('consent').focus();
      return;
    case 'bad_input': {
      const fields = data.fields || {};
      const names = Array.isArray(fields) ? fields : Object.keys(fields);
      const text = (f) => (!Array.isArray(fields) && typeof fields[f] === 'string' ? fields[f] : err.message);
      let shown = false;
      ['name', 'phone', 'consent'].forEach((f) => { if (names.includes(f)) { fieldError(f, text(f)); shown = true; } });
      if (!shown) showError(err.message);
      return;
    }
    default:
      showError(err.message, err.code === 'rate_limited' ? 'info' : 'error');
  }
}

/* ---------------------------------------------------------------- events */

$('book-services').addEventListener('click', (e) => {
  const b = e.target.closest('[data-service]');
  if (b) pickService(b.dataset.service);
});
$('book-days').addEventListener('click', (e) => {
  const b = e.target.closest('[data-date]');
  if (!b || b.disabled || b.dataset.date === S.date) return;
  S.date = b.dataset.date;
  S.autoDay = false;
  choose($('book-days'), '[data-date]', 'data-date', S.date);
  $('slot-note').hidden = true;
  setSlot(null);
  loadSlots();
});
$('book-slots').addEventListener('click', (e) => {
  const b = e.target.closest('[data-slot]');
  if (!b || b.disabled) return;
  const slot = S.slots.find((s) => s.start === b.dataset.slot);
  if (!slot) return;
  $('slot-note').hidden = true;
  showError('');
  const first = $('step-details').hidden;
  setSlot(slot);
  $('step-details').hidden = false;
  if (first) $('step-details').scrollIntoView({ behavior: 'smooth', block: 'start' });
});
$('name').addEventListener('blur', () => { if ($('name').value) checkName(); });
$('name').addEventListener('input', () => { if (!$('name-error').hidden) checkName(); });
$('phone').addEventListener('blur', () => checkPhone(false));
$('phone').addEventListener('input', () => { if (!$('phone-error').hidden) checkPhone(false); });
$('consent').addEventListener('change', () => { if ($('consent').checked) fieldError('consent', ''); });
$('book-form').addEventListener('submit', submit);
$('reload').addEventListener('click', load);
// Back from the confirmation page: never leave the button stuck on "Booking…".
window.addEventListener('pageshow', (e) => { if (e.persisted) setSending(false); });

load();
