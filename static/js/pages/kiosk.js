/* Kiosk home page: service buttons with live waiting info; one tap = one ticket (an Idempotency-Key
   per tap, so an automatic retry never prints a second one). Outside opening hours a closed screen
   with the next opening time replaces the buttons. Goes back to the start (and to Chinese) after
   idle time. */
import { api, storePath } from '../lib/api.js';
import { pageConfig } from '../lib/config.js';
import { byId, h } from '../lib/dom.js';
import { t } from '../lib/i18n.js';
import { randomKey } from '../lib/ids.js';
import { throttle, whenText } from '../lib/time.js';
import { resetAccess } from '../ui/kiosk-access.js';
import { renderServices } from '../ui/services.js';

const config = pageConfig();
const kiosk = config.kiosk || null;
const idleSeconds = (kiosk && kiosk.idle_seconds) || config.idle_seconds || null;

const RETRY_WAITS_MS = [0, 800, 2500]; // the same tap, again, after a dropped connection
const REFUSAL_SECONDS = 12;            // a refusal notice goes back to the start by itself
const CLOSED_POLL_MS = 20000;          // while closed: look again often, to open on time
const OPEN_POLL_MS = 60000;            // fallback when events are missed
// The server's answers that mean "no number now" (said kindly, full screen), not a fault.
const REFUSALS = ['store_closed', 'closing_soon', 'after_closing', 'remote_full', 'staff_issues_this_service'];

const list = byId('services');
const msg = byId('message');
const busy = byId('busy');
const offline = byId('offline');
const closedBox = byId('closed');
const refusal = byId('refusal');
const base = storePath(config.store);
let registered = !byId('not-registered');
let inFlight = false;
let msgTimer = null;
let socketDown = false;
let fetchFailed = false;
let closed = !closedBox.hidden;
let shownVersion = null; // the store version of the state shown
let refusedAt = null;    // the version shown when a tap was refused because the hall is closed

function showOffline() { offline.hidden = !(socketDown || fetchFailed); }

function showMessage(text, kind) {
  clearTimeout(msgTimer);
  msg.textContent = text || '';
  msg.classList.toggle('info', kind === 'info');
  msg.hidden = !text;
  if (text) msgTimer = setTimeout(() => showMessage(''), 12000);
}

const checkinLink = byId('checkin-link');
function setButtons() {
  list.querySelectorAll('button[data-service]').forEach((b) => { b.disabled = inFlight || !registered || closed; });
  if (checkinLink) checkinLink.setAttribute('aria-disabled', String(inFlight));
}
// The appointment check-in screen: not while a ticket is being printed.
if (checkinLink) checkinLink.addEventListener('click', (e) => { if (inFlight) e.preventDefault(); });

/* Not (or no longer: revoked in the console) a registered kiosk: no button prints. */
function markUnregistered(revoked) {
  registered = false;
  byId('not-registered')?.remove();
  const notice = h('div', { id: 'not-registered', class: 'kiosk-notice', role: 'status' },
    h('p', { class: 'kiosk-notice-title', text: t(revoked ? 'revoked' : 'not_registered') }),
    h('p', { text: t(revoked ? 'revoked_staff' : 'not_registered_staff') }));
  msg.before(notice);
  setButtons();
  showMultiBox();
}

/* The several-services choice: only where a ticket can be printed now. */
function showMultiBox() {
  const box = byId('multi');
  if (!box) return;
  box.hidden = closed || !registered;
  if (box.hidden && multi) setMulti(false);
}

/* ---- opening hours: {open, closes_at, next_open} from the store ---- */

let wakeTimer = null;
function showHours(hours) {
  if (!hours || typeof hours.open !== 'boolean') return;
  closed = !hours.open;
  closedBox.hidden = !closed;
  closedBox.closest('.kiosk-page').classList.toggle('is-closed', closed);
  list.hidden = closed;
  if (checkinLink) checkinLink.hidden = closed;
  showMultiBox();
  const when = closed && hours.next_open ? whenText(hours.next_open) : '';
  byId('closed-next').textContent = when ? t('opens_at', { when }) : '';
  byId('closed-next').hidden = !when;
  setButtons();
  // Look again right after the opening time (this device's clock may be off: the poll still runs).
  clearTimeout(wakeTimer);
  const at = closed && hours.next_open ? Date.parse(hours.next_open) : NaN;
  if (at === at) {
    const delay = at - Date.now() + 1500;
    if (delay > 0 && delay < CLOSED_POLL_MS * 3) wakeTimer = setTimeout(refresh, delay);
  }
}

async function refresh() {
  try {
    // The snapshot: the services (as /services gives them) and the opening hours.
    const data = await api(base + '/snapshot');
    const hours = (data.store && data.store.hours) || data.hours;
    // A tap refused as closed outweighs a state from before it (the same version): the hall
    // closed since that state was computed. A newer state is the truth again.
    const stale = refusedAt != null && data.version === refusedAt && hours && hours.open;
    if (!stale) refusedAt = null;
    renderServices(list, data.services || [], { disabled: inFlight || !registered || closed });
    if (multi) showChosen();
    if (!stale) showHours(hours);
    shownVersion = data.version;
    fetchFailed = false;
  } catch (e) {
    // Keep showing the last known list; only a dead connection or server counts as offline.
    fetchFailed = e.status === 0 || e.status >= 500;
  }
  showOffline();
}
const refreshSoon = throttle(refresh, 2000);

function setBusy(on) {
  inFlight = on;
  busy.hidden = !on;
  setButtons();
  if (multi) showChosen();
}

/* ---- a refused ticket: a full-screen notice, then back to the start ---- */
let refusalTimer = null;
function hideRefusal() {
  clearInterval(refusalTimer);
  refusalTimer = null;
  refusal.hidden = true;
}
function showRefusal(text) {
  byId('refusal-text').textContent = text || t('refused');
  let left = REFUSAL_SECONDS;
  const tick = () => {
    byId('refusal-countdown').textContent = t('countdown', { n: Math.max(left, 0) });
    if (left-- <= 0) home();
  };
  clearInterval(refusalTimer);
  tick();
  refusalTimer = setInterval(tick, 1000);
  refusal.hidden = false;
  byId('refusal-ok').focus();
}
function home() {
  hideRefusal();
  showMessage('');
  if (multi) setMulti(false);
  window.scrollTo(0, 0);
}
byId('refusal-ok').addEventListener('click', home);

/* One tap: one key, reused while the same tap is retried after a network failure or a server
   error, so the server answers the retry with the ticket it already made. */
async function issue(service, then) {
  const key = randomKey();
  const body = { service, channel: 'kiosk' };
  if (then && then.length) body.then = then;
  let lastErr = null;
  for (const wait of RETRY_WAITS_MS) {
    if (wait) await new Promise((r) => setTimeout(r, wait));
    try {
      return await api(base + '/tickets', body, { headers: { 'Idempotency-Key': key } });
    } catch (err) {
      lastErr = err;
      if (err.status !== 0 && err.status < 500) throw err;
    }
  }
  throw lastErr;
}

/* ---- several services in one visit: taps choose (in order, up to 3), one button takes the number ---- */
const MULTI_MAX = 3;
const multiToggle = byId('multi-toggle');
const multiBar = byId('multi-bar');
let multi = false;
let chosen = []; // service codes, in the order touched

function serviceName(code) {
  const btn = list.querySelector(`button[data-service="${code}"] .service-name`);
  return btn ? btn.textContent : code;
}
function showChosen() {
  list.querySelectorAll('button[data-service]').forEach((b) => {
    const at = chosen.indexOf(b.dataset.service);
    if (multi) b.setAttribute('aria-pressed', String(at >= 0));
    else b.removeAttribute('aria-pressed');
    let badge = b.querySelector('.service-order');
    if (b.dataset.label == null) b.dataset.label = b.getAttribute('aria-label') || '';
    if (at >= 0 && multi) {
      // The badge's number starts the button's name too ("2, 业务办理, …"): said as it is shown.
      if (!badge) { badge = h('span', { class: 'service-order' }); b.prepend(badge); }
      badge.textContent = String(at + 1);
      b.setAttribute('aria-label', `${at + 1}, ${b.dataset.label}`);
    } else {
      if (badge) badge.remove();
      b.setAttribute('aria-label', b.dataset.label);
    }
  });
  byId('multi-chosen').textContent = chosen.length
    ? t('multi_chosen', { list: chosen.map(serviceName).join(' → ') })
    : t('multi_none');
  byId('multi-take').disabled = chosen.length === 0 || inFlight;
}
function setMulti(on) {
  multi = on;
  chosen = [];
  multiToggle.setAttribute('aria-pressed', String(on));
  multiToggle.hidden = on;
  multiBar.hidden = !on;
  list.classList.toggle('is-choosing', on);
  showChosen();
}
if (multiToggle) {
  multiToggle.addEventListener('click', () => setMulti(true));
  byId('multi-cancel').addEventListener('click', () => setMulti(false));
  byId('multi-take').addEventListener('click', () => { if (chosen.length) take(chosen[0], chosen.slice(1)); });
}
function choose(code) {
  const at = chosen.indexOf(code);
  if (at >= 0) chosen.splice(at, 1);
  else if (chosen.length >= MULTI_MAX) showMessage(t('multi_full'), 'info');
  else chosen.push(code);
  showChosen();
}

list.addEventListener('click', (e) => {
  const btn = e.target.closest('button[data-service]');
  if (!btn || inFlight || !registered || closed) return;
  if (multi) choose(btn.dataset.service);
  else take(btn.dataset.service, []);
});

async function take(service, then) {
  if (inFlight || !registered || closed) return;
  setBusy(true);
  showMessage('');
  try {
    const ticket = await issue(service, then);
    if (!ticket || !ticket.print_url) throw new Error(t('server_error'));
    location.href = ticket.print_url;
    setTimeout(() => setBusy(false), 15000); // navigation failed: let the customer retry
  } catch (err) {
    setBusy(false);
    if (err.code === 'kiosk_not_registered' || err.code === 'kiosk_revoked') markUnregistered(err.code === 'kiosk_revoked');
    else if (REFUSALS.includes(err.code)) showRefusal(err.message);
    else showMessage(err.message, err.code === 'rate_limited' ? 'info' : 'error');
    if (err.code === 'store_closed') {
      refusedAt = shownVersion;
      showHours({ open: false, next_open: err.data.next_open || null });
    }
    if (err.status === 0) { fetchFailed = true; showOffline(); }
    refreshSoon();
  }
}

/* Live: any store event means waiting counts (or the hours) may have changed. */
if (registered && typeof window.io === 'function') {
  const socket = window.io({ auth: { store: config.store, role: 'kiosk' } });
  socket.on('connect', () => { socketDown = false; showOffline(); refreshSoon(); });
  socket.on('disconnect', () => { socketDown = true; showOffline(); });
  socket.on('connect_error', () => { socketDown = true; showOffline(); });
  socket.onAny(() => refreshSoon());
}
let lastPoll = Date.now();
setInterval(() => { // fallback when events are missed; often while closed, to open on time
  if (Date.now() - lastPoll < (closed ? CLOSED_POLL_MS : OPEN_POLL_MS) - 500) return;
  lastPoll = Date.now();
  refresh();
}, CLOSED_POLL_MS / 2);
refreshSoon(); // the hours and the latest counts (the buttons came with the page)

/* Idle: clear what the last customer left behind and go back to Chinese. */
let idleTimer = null;
function idleReset() {
  if (inFlight) return;
  home();
  resetAccess();
  if (config.lang && config.lang !== 'zh') {
    const url = new URL(location.href);
    url.searchParams.set('lang', 'zh');
    location.replace(url.toString());
  }
}
function touched() {
  clearTimeout(idleTimer);
  idleTimer = setTimeout(idleReset, (idleSeconds || 90) * 1000);
}
['pointerdown', 'keydown'].forEach((n) => document.addEventListener(n, touched, { passive: true }));
touched();

document.addEventListener('contextmenu', (e) => e.preventDefault()); // no long-press menu on the kiosk
window.addEventListener('pageshow', (e) => { if (e.persisted) { setBusy(false); refresh(); } });
