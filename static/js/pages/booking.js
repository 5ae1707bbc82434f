/* A booking's own page: dates and the check-in window in store time, move (day + slot picker) and
   cancel (with a confirm step). One request at a time; the page re-renders from the returned Booking. */
import { api, storePath } from '../lib/api.js';
import { pageConfig, readJSON } from '../lib/config.js';
import { byId as $, setText } from '../lib/dom.js';
import { t } from '../lib/i18n.js';
import { addMinutes, dayText, parseTime, storeClock } from '../lib/time.js';
import { mountPush } from '../ui/push.js';
import { choose, renderDays, renderSlots } from '../ui/slots.js';

let B = readJSON('booking-data'); // the Booking as the server rendered it ({} when missing)
const found = Object.keys(B).length > 0;
const token = String(B.manage_url || location.pathname).replace(/[?#].*$/, '').split('/').filter(Boolean).pop();
const bookingPath = '/bookings/' + encodeURIComponent(token);
const storeCode = (B.store && B.store.code) || pageConfig().store;
mountPush(bookingPath + '/push-subscription');

const M = { info: null, date: null, slot: null, slots: [], req: 0 };
let busy = false;

/* ---------------------------------------------------------------- render */

function minutesLong(b) {
  const s = parseTime(b.start);
  const e = parseTime(b.end);
  return s && e ? Math.round((e - s) / 60000) : 0;
}

function render(b) {
  B = b;
  const status = $('booking-status');
  status.dataset.status = b.status;
  setText(status, t('bstatus_' + b.status) !== 'bstatus_' + b.status ? t('bstatus_' + b.status) : b.status);
  const dateEl = $('b-date');
  dateEl.dataset.day = b.date;
  setText(dateEl, dayText(b.date));
  const len = minutesLong(b);
  setText('b-time', b.time + (len > 0 ? '–' + addMinutes(b.time, len) : ''));
  setText('b-service', b.service_name || b.service);

  const active = b.status === 'booked';
  const win = $('checkin-window');
  const from = b.checkin_from_time || storeClock(b.checkin_from, b.start, b.time);
  const until = b.checkin_until_time || storeClock(b.checkin_until, b.start, b.time);
  win.hidden = !(active && from && until);
  if (!win.hidden) setText(win, t('checkin_window', { start: from, end: until }));

  $('code-box').hidden = ['cancelled', 'done', 'no_show'].includes(b.status);
  $('ics').hidden = !active;
  $('final').hidden = b.status !== 'cancelled';

  renderNotice(b);

  const tk = b.ticket;
  $('ticket-box').hidden = !tk;
  if (tk) {
    setText('ticket-label', tk.label);
    $('ticket-link').href = tk.status_url || '#';
  }

  $('move').hidden = !b.can_move;
  $('cancel-booking').hidden = !b.can_cancel;
  if (!b.can_move) closeMove();
  if (!b.can_cancel) $('cancel-ask').hidden = true;
}

/* What the store did to the booking (a closed day, new hours), with its message. */
function renderNotice(b) {
  const box = $('store-notice');
  box.dataset.by = b.by_store || '';
  box.hidden = !b.by_store;
  if (b.by_store === 'cancelled') setText('store-notice-title', t('by_store_cancelled'));
  else if (b.by_store === 'moved') {
    setText('store-notice-title', t('by_store_moved', { day: dayText(b.moved_from_date), time: b.moved_from_time || '' }));
  }
  setText('store-message', b.store_message || '');
  $('store-message').hidden = !b.store_message;
}

function say(text) {
  setText('b-message', text);
  $('b-message').hidden = !text;
}

function setBusy(on) {
  busy = on;
  ['move', 'move-confirm', 'cancel-booking', 'cancel-booking-confirm', 'cancel-keep'].forEach((id) => {
    const b = $(id);
    if (id === 'move-confirm') b.disabled = on || !M.slot;
    else b.disabled = on;
  });
}

/* ---------------------------------------------------------------- move */

async function openMove() {
  $('cancel-ask').hidden = true;
  $('cancel-booking').setAttribute('aria-expanded', 'false');
  $('move-panel').hidden = false;
  $('move').hidden = true;
  $('move').setAttribute('aria-expanded', 'true');
  say('');
  if (!M.info) {
    $('move-loading').hidden = false;
    try {
      M.info = await api(storePath(storeCode) + '/booking');
    } catch (err) {
      $('move-loading').hidden = true;
      showEmpty(err.message);
      return;
    }
  }
  const days = M.info.days || [];
  if (!M.date) M.date = (days.find((d) => d.date === B.date && d.open) || days.find((d) => d.open) || {}).date || null;
  renderDays($('move-days'), days, M.date);
  setSlot(null);
  loadSlots();
  $('move-panel').scrollIntoView({ behavior: 'smooth', block: 'start' });
}

function closeMove() {
  $('move-panel').hidden = true;
  $('move').setAttribute('aria-expanded', 'false');
  $('move').hidden = !B.can_move;
  $('move-note').hidden = true;
}

function showEmpty(text) {
  setText('move-empty', text);
  $('move-empty').hidden = !text;
}

async function loadSlots(fresh) {
  const req = ++M.req;
  showEmpty('');
  if (!M.date) { $('move-slots').replaceChildren(); showEmpty(t('day_is_closed')); return; }
  if (fresh) { showSlots(fresh, false); return; }
  $('move-slots').replaceChildren();
  $('move-loading').hidden = false;
  try {
    const data = await api(storePath(storeCode) + '/slots?service=' +
      encodeURIComponent(B.service) + '&date=' + encodeURIComponent(M.date));
    if (req !== M.req) return;
    showSlots(data.slots || [], !!data.closed);
  } catch (err) {
    if (req === M.req) showEmpty(err.message);
  } finally {
    if (req === M.req) $('move-loading').hidden = true;
  }
}

function showSlots(slots, closed) {
  // the customer's own time is shown but cannot be chosen again
  M.slots = slots;
  const n = renderSlots($('move-slots'), slots, null);
  const mine = [...$('move-slots').querySelectorAll('[data-slot]')].find((el) => el.dataset.slot === B.start);
  if (mine) {
    mine.disabled = true;
    mine.classList.add('is-current');
    setText(mine.querySelector('.slot-left'), t('slot_current'));
    mine.setAttribute('aria-label', mine.querySelector('.slot-time').textContent + ', ' + t('slot_current'));
  }
  if (closed) showEmpty(t('day_is_closed'));
  else if (!n || (n === 1 && mine && slots.some((s) => s.start === B.start && s.free > 0))) showEmpty(t('no_slots'));
}

function setSlot(slot) {
  M.slot = slot;
  choose($('move-slots'), '[data-slot]', 'data-slot', slot ? slot.start : '');
  const btn = $('move-confirm');
  btn.disabled = busy || !slot;
  setText(btn, slot ? t('move_to', { day: dayText(M.date), time: slot.time }) : t('move_choose'));
}

async function confirmMove() {
  if (busy || !M.slot) return;
  setBusy(true);
  const label = $('move-confirm').textContent;
  setText('move-confirm', t('working'));
  try {
    const b = await api(bookingPath + '/move', { start: M.slot.start });
    M.slot = null;
    M.date = null;
    closeMove();
    render(b);
    say(t('moved', { day: dayText(b.date), time: b.time }));
    $('booking-status').scrollIntoView({ behavior: 'smooth', block: 'start' });
  } catch (err) {
    setText('move-confirm', label);
    const note = $('move-note');
    if (err.code === 'slot_taken') {
      setSlot(null);
      loadSlots(Array.isArray(err.data.slots) ? err.data.slots : undefined);
      setText(note, t('slot_taken'));
    } else {
      setText(note, err.message);
      if (err.status === 409 || err.status === 404) refresh();
    }
    note.hidden = false;
  } finally {
    setBusy(false);
  }
}

/* ---------------------------------------------------------------- cancel */

function askCancel() {
  closeMove();
  $('cancel-ask').hidden = false;
  $('cancel-booking').setAttribute('aria-expanded', 'true');
  $('cancel-booking-confirm').focus();
}
function keep() {
  $('cancel-ask').hidden = true;
  $('cancel-booking').setAttribute('aria-expanded', 'false');
  $('cancel-booking').focus();
}
async function confirmCancel() {
  if (busy) return;
  setBusy(true);
  try {
    const b = await api(bookingPath + '/cancel', {});
    $('cancel-ask').hidden = true;
    render(b);
    say('');
    $('final').scrollIntoView({ behavior: 'smooth', block: 'center' });
  } catch (err) {
    say(err.message);
    refresh();
  } finally {
    setBusy(false);
  }
}

async function refresh() {
  try { render(await api(bookingPath)); } catch { /* keep what is shown */ }
}

/* ---------------------------------------------------------------- events */

if (found) {
  $('move').addEventListener('click', openMove);
  $('move-close').addEventListener('click', () => { closeMove(); $('move').focus(); });
  $('move-confirm').addEventListener('click', confirmMove);
  $('move-days').addEventListener('click', (e) => {
    const b = e.target.closest('[data-date]');
    if (!b || b.disabled || b.dataset.date === M.date) return;
    M.date = b.dataset.date;
    choose($('move-days'), '[data-date]', 'data-date', M.date);
    $('move-note').hidden = true;
    setSlot(null);
    loadSlots();
  });
  $('move-slots').addEventListener('click', (e) => {
    const b = e.target.closest('[data-slot]');
    if (!b || b.disabled) return;
    $('move-note').hidden = true;
    setSlot(M.slots.find((s) => s.start === b.dataset.slot) || null);
  });
  $('cancel-booking').addEventListener('click', askCancel);
  $('cancel-keep').addEventListener('click', keep);
  $('cancel-booking-confirm').addEventListener('click', confirmCancel);
  // The page may have been opened from the home screen long after booking: show the current state.
  document.addEventListener('visibilitychange', () => { if (!document.hidden) refresh(); });

  render(B);
}
