/* Kiosk check-in for an appointment: the 6-character code from the on-screen keyboard, a real
   keyboard or a barcode scanner (#code-input), or the booking's QR code read by the camera (jsQR,
   decoded here, nothing leaves the kiosk). Success goes to the ticket's print page like any ticket. */
import { api, storePath } from '../lib/api.js';
import { codeFromQR as readQR, cleanCode, codeRules } from '../lib/code.js';
import { pageConfig } from '../lib/config.js';
import { byId as $, h } from '../lib/dom.js';
import { t } from '../lib/i18n.js';
import { resetAccess } from '../ui/kiosk-access.js';

const config = pageConfig();
const RULES = codeRules(config); // the server's alphabet and length (page_config), when it sends them
const LEN = RULES.length;
const base = storePath(config.store);
const home = document.querySelector('.checkin-page').dataset.home;
const kiosk = config.kiosk || null;
const idleSeconds = (kiosk && kiosk.idle_seconds) || config.idle_seconds || 90;

const input = $('code-input');
input.maxLength = LEN;
const cells = [...document.querySelectorAll('.code-box-cell')];
const submitBtn = $('checkin-submit');
let registered = !document.getElementById('not-registered');
let inFlight = false;
let walkInService = null;

/* ---------------------------------------------------------------- the code */

const clean = (v) => cleanCode(v, RULES);

function code() { return input.value; }
function setCode(v) {
  const c = clean(v);
  if (input.value !== c) input.value = c;
  cells.forEach((cell, i) => {
    cell.textContent = c[i] || '';
    cell.classList.toggle('is-filled', i < c.length);
    cell.classList.toggle('is-next', i === c.length);
  });
  setButtons();
}

function setButtons() {
  submitBtn.disabled = inFlight || !registered || code().length !== LEN;
  document.querySelectorAll('#keypad .key, #key-clear, #scan, #phone-keypad .pkey, #phone-list button, #early-options button').forEach((b) => { b.disabled = inFlight || !registered; });
  const phoneSubmit = document.getElementById('phone-submit');
  if (phoneSubmit) phoneSubmit.disabled = inFlight || !registered || String(phone || '').length !== 11;
  $('walk-in').disabled = inFlight || !registered;
}

function typed(ch) {
  if (code().length >= LEN) return;
  setCode(code() + ch);
  clearMessage();
}

/* ---------------------------------------------------------------- messages */

function show(text, kind, withWalkIn) {
  const box = $('checkin-message');
  $('checkin-message-text').textContent = text || '';
  box.className = 'checkin-message ' + (kind || 'error');
  box.hidden = !text;
  $('walk-in').hidden = !withWalkIn;
  document.querySelector('.checkin-body').classList.toggle('has-offer', !!withWalkIn);
}
function clearMessage() {
  if (!$('checkin-message').hidden && $('walk-in').hidden) show('');
}

/* Not (or no longer: revoked in the console) a registered kiosk. */
function markUnregistered(revoked) {
  registered = false;
  document.getElementById('not-registered')?.remove();
  document.querySelector('.checkin-body').before(h('div', { id: 'not-registered', class: 'kiosk-notice', role: 'status' },
    h('p', { class: 'kiosk-notice-title', text: t(revoked ? 'revoked' : 'not_registered') }),
    h('p', { text: t(revoked ? 'revoked_staff' : 'not_registered_staff') })));
  setButtons();
}

function setBusy(on) {
  inFlight = on;
  $('busy').hidden = !on;
  setButtons();
}

function failed(err) {
  const data = err.data || {};
  switch (err.code) {
    case 'kiosk_not_registered': markUnregistered(false); return;
    case 'kiosk_revoked': markUnregistered(true); return;
    case 'too_early':
      if (Array.isArray(data.options) && data.options.length && lastBody) { showEarly(data); return; }
      show(data.time ? t('too_early', { time: data.time }) : err.message, 'info');
      return;
    case 'too_late':
      walkInService = data.service || null;
      show(err.message || t('too_late'), 'info', !!walkInService);
      if (walkInService) $('walk-in').focus();
      return;
    case 'already_checked_in': show(err.message || t('already'), 'info'); return;
    case 'cancelled': show(err.message || t('cancelled'), 'error'); return;
    case 'unknown_code':
      show(err.message || t('unknown'), 'error');
      shake();
      return;
    case 'rate_limited': show(err.message, 'info'); return;
    default:
      show(err.message, 'error');
      if (err.status === 0) $('offline').hidden = false;
  }
}

function shake() {
  const boxes = $('code-boxes');
  boxes.classList.remove('shake');
  void boxes.offsetWidth;
  boxes.classList.add('shake');
}

/* ---------------------------------------------------------------- requests */

async function submit() {
  if (inFlight || !registered) return;
  if (code().length !== LEN) { show(t('need_six'), 'info'); return; }
  show('');
  walkInService = null;
  setBusy(true);
  try {
    await checkIn({ code: code() });
  } catch (err) {
    setBusy(false);
    failed(err);
  }
}

/* One check-in request (by code, or by number and booking); remembered for the early choice. */
let lastBody = null;
async function checkIn(body) {
  lastBody = body;
  const ticket = await api(base + '/check-in', body);
  $('offline').hidden = true;
  if (!ticket || !ticket.print_url) throw new Error(t('server_error'));
  location.href = ticket.print_url;
  setTimeout(() => setBusy(false), 15000); // navigation failed: let the customer retry
}

/* ---------------------------------------------------------------- early: two ways on */

function showEarly(data) {
  const box = $('early-box');
  $('early-title').textContent = t('early_title', { time: data.slot_time || data.time || '' });
  const list = $('early-options');
  list.replaceChildren(...data.options.map((o) => h('button', { type: 'button', class: 'btn early-option', 'data-early': o.early },
    h('span', { class: 'early-option-title', text: o.title }),
    h('span', { class: 'early-option-detail', text: o.detail }))));
  box.hidden = false;
  list.querySelector('button')?.focus();
  box.scrollIntoView({ block: 'nearest' });
}
function hideEarly() { $('early-box').hidden = true; }

$('early-options').addEventListener('click', async (e) => {
  const b = e.target.closest('button[data-early]');
  if (!b || inFlight || !lastBody) return;
  setBusy(true);
  try {
    await checkIn(Object.assign({}, lastBody, { early: b.dataset.early }));
  } catch (err) {
    setBusy(false);
    hideEarly();
    if (phoneMode) phoneFailed(err); else failed(err);
  }
});

/* ---------------------------------------------------------------- by mobile number */

const PHONE_LEN = 11;
let phoneMode = false;
let phone = '';

function setWay(byPhone) {
  phoneMode = byPhone;
  $('way-code').setAttribute('aria-pressed', String(!byPhone));
  $('way-phone').setAttribute('aria-pressed', String(byPhone));
  $('code-panel').hidden = byPhone;
  $('phone-panel').hidden = !byPhone;
  $('checkin-sub').textContent = t(byPhone ? 'sub_phone' : 'sub_code');
  hideEarly();
  show('');
  phoneShow('');
  if (byPhone) $('phone-keypad').querySelector('button')?.focus({ preventScroll: true });
  else input.focus({ preventScroll: true });
}

function phoneShow(text, kind) {
  const box = $('phone-message');
  box.textContent = text || '';
  box.className = 'checkin-message ' + (kind || 'error');
  box.hidden = !text;
}

function setPhone(v) {
  phone = String(v).replace(/\D/g, '').slice(0, PHONE_LEN);
  // Grouped as people read a mobile number: 139 1234 5678.
  $('phone-display').textContent = [phone.slice(0, 3), phone.slice(3, 7), phone.slice(7)].filter(Boolean).join(' ');
  $('phone-display').classList.toggle('is-empty', !phone);
  $('phone-submit').disabled = inFlight || !registered || phone.length !== PHONE_LEN;
}

function phoneFailed(err) {
  const data = err.data || {};
  if (err.code === 'kiosk_not_registered' || err.code === 'kiosk_revoked') { markUnregistered(err.code === 'kiosk_revoked'); return; }
  if (err.code === 'too_early' && Array.isArray(data.options) && data.options.length) { showEarly(data); return; }
  const info = ['other_day', 'too_early', 'too_late', 'already_checked_in', 'rate_limited'].includes(err.code);
  phoneShow(err.message || t('no_booking_today'), info ? 'info' : 'error');
  if (err.status === 0) $('offline').hidden = false;
}

async function findBookings() {
  if (inFlight || !registered) return;
  if (phone.length !== PHONE_LEN) { phoneShow(t('need_phone'), 'info'); return; }
  phoneShow('');
  hideEarly();
  setBusy(true);
  try {
    const answer = await api(base + '/check-in', { phone });
    setBusy(false);
    showBookings(answer.bookings || []);
  } catch (err) {
    setBusy(false);
    phoneFailed(err);
  }
}

function showBookings(rows) {
  const list = $('phone-list');
  list.replaceChildren(...rows.map((r) => h('button', { type: 'button', class: 'btn phone-booking', 'data-choice': r.choice },
    h('span', { class: 'phone-booking-time', text: r.time }),
    h('span', { class: 'phone-booking-text' },
      h('span', { class: 'phone-booking-service', text: r.service_name }),
      h('span', { class: 'phone-booking-name', text: r.name_masked + (r.checked_in ? ' · ' + t('booking_checked_in') : '') })))));
  $('phone-keypad').hidden = true;
  $('phone-submit').hidden = true;
  $('phone-list-box').hidden = false;
  list.querySelector('button')?.focus();
}

function phoneAgain() {
  setPhone('');
  phoneShow('');
  hideEarly();
  $('phone-list').replaceChildren();
  $('phone-list-box').hidden = true;
  $('phone-keypad').hidden = false;
  $('phone-submit').hidden = false;
}

$('phone-list').addEventListener('click', async (e) => {
  const b = e.target.closest('button[data-choice]');
  if (!b || inFlight) return;
  phoneShow('');
  setBusy(true);
  try {
    await checkIn({ phone, booking: b.dataset.choice });
  } catch (err) {
    setBusy(false);
    phoneFailed(err);
  }
});
$('phone-keypad').addEventListener('click', (e) => {
  const b = e.target.closest('button');
  if (!b || b.disabled) return;
  if (b.id === 'phone-back') setPhone(phone.slice(0, -1));
  else if (b.id === 'phone-clear') setPhone('');
  else if (b.dataset.digit && phone.length < PHONE_LEN) setPhone(phone + b.dataset.digit);
  phoneShow('');
});
document.addEventListener('keydown', (e) => { // a real keyboard on the phone screen
  if (!phoneMode || inFlight) return;
  if (/^[0-9]$/.test(e.key)) setPhone(phone + e.key);
  else if (e.key === 'Backspace') setPhone(phone.slice(0, -1));
  else if (e.key === 'Enter' && !$('phone-submit').hidden) { e.preventDefault(); findBookings(); }
});
$('phone-submit').addEventListener('click', findBookings);
$('phone-again').addEventListener('click', phoneAgain);
$('way-code').addEventListener('click', () => setWay(false));
$('way-phone').addEventListener('click', () => setWay(true));

async function walkIn() {
  if (inFlight || !registered || !walkInService) return;
  setBusy(true);
  try {
    const ticket = await api(base + '/tickets', { service: walkInService, channel: 'kiosk' });
    if (!ticket || !ticket.print_url) throw new Error(t('server_error'));
    location.href = ticket.print_url;
    setTimeout(() => setBusy(false), 15000);
  } catch (err) {
    setBusy(false);
    if (err.code === 'kiosk_not_registered' || err.code === 'kiosk_revoked') markUnregistered(err.code === 'kiosk_revoked');
    else show(err.message, 'error', true);
  }
}

/* ---------------------------------------------------------------- camera (jsQR) */

const cam = { stream: null, timer: null, stopAt: 0, canvas: null };

const codeFromQR = (text) => readQR(text, RULES);

function camStatus(text) { $('camera-status').textContent = text || ''; }

async function openCamera() {
  if (inFlight || !registered) return;
  show('');
  $('camera').hidden = false;
  camStatus(t('camera_on'));
  try {
    cam.stream = await navigator.mediaDevices.getUserMedia({ video: { width: { ideal: 1280 }, height: { ideal: 720 } }, audio: false });
  } catch {
    closeCamera();
    show(t('camera_failed'), 'info');
    return;
  }
  if ($('camera').hidden) { closeCamera(); return; } // closed while asking
  const video = $('camera-video');
  video.srcObject = cam.stream;
  try { await video.play(); } catch { /* autoplay of a muted video is allowed */ }
  cam.canvas = cam.canvas || document.createElement('canvas');
  cam.stopAt = Date.now() + 60000;
  scanLoop();
}

function scanLoop() {
  clearTimeout(cam.timer);
  if (!cam.stream) return;
  if (Date.now() > cam.stopAt) { closeCamera(); return; }
  const video = $('camera-video');
  if (video.readyState >= 2 && video.videoWidth) {
    const scale = Math.min(1, 640 / video.videoWidth);
    const w = Math.round(video.videoWidth * scale);
    const hgt = Math.round(video.videoHeight * scale);
    const c = cam.canvas;
    c.width = w;
    c.height = hgt;
    const ctx = c.getContext('2d', { willReadFrequently: true });
    ctx.drawImage(video, 0, 0, w, hgt);
    const found = window.jsQR(ctx.getImageData(0, 0, w, hgt).data, w, hgt, { inversionAttempts: 'attemptBoth' });
    if (found && found.data) {
      const c6 = codeFromQR(found.data);
      if (c6) {
        closeCamera();
        setCode(c6);
        submit();
        return;
      }
      camStatus(t('camera_not_code'));
    }
  }
  cam.timer = setTimeout(scanLoop, 200);
}

function closeCamera() {
  clearTimeout(cam.timer);
  if (cam.stream) cam.stream.getTracks().forEach((tr) => tr.stop());
  cam.stream = null;
  const video = $('camera-video');
  video.srcObject = null;
  $('camera').hidden = true;
}

/* ---------------------------------------------------------------- input */

// Keys keep the focus in the code field (so a scanner or a keyboard still types there).
$('keypad').addEventListener('pointerdown', (e) => { if (e.target.closest('button')) e.preventDefault(); });
$('keypad').addEventListener('click', (e) => {
  const b = e.target.closest('button');
  if (!b || b.disabled) return;
  if (b.id === 'key-back') { setCode(code().slice(0, -1)); clearMessage(); } else if (b.dataset.key) typed(b.dataset.key);
});
$('key-clear').addEventListener('click', () => { setCode(''); show(''); });
input.addEventListener('input', () => { setCode(input.value); clearMessage(); });
input.addEventListener('keydown', (e) => { if (e.key === 'Enter') { e.preventDefault(); submit(); } });
submitBtn.addEventListener('click', submit);
$('walk-in').addEventListener('click', walkIn);
$('code-boxes').addEventListener('click', () => input.focus());

if (navigator.mediaDevices && navigator.mediaDevices.getUserMedia && typeof window.jsQR === 'function') {
  $('scan').hidden = false;
  $('scan').addEventListener('click', openCamera);
  $('camera-close').addEventListener('click', closeCamera);
  window.addEventListener('pagehide', closeCamera);
}

/* ---------------------------------------------------------------- idle: back to the start screen */

let idleTimer = null;
function idle() {
  if (inFlight) { touched(); return; }
  closeCamera();
  setCode('');
  show('');
  resetAccess();
  const url = new URL(home, location.href);
  url.searchParams.set('lang', 'zh');
  location.replace(url.toString());
}
function touched() {
  clearTimeout(idleTimer);
  idleTimer = setTimeout(idle, idleSeconds * 1000);
}
['pointerdown', 'keydown'].forEach((n) => document.addEventListener(n, touched, { passive: true }));
touched();

document.addEventListener('contextmenu', (e) => e.preventDefault());
window.addEventListener('pageshow', (e) => { if (e.persisted) { setBusy(false); setCode(''); show(''); } });

setCode(input.value);
setPhone('');
input.focus({ preventScroll: true });
