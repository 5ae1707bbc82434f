/* Kiosk home page: service buttons with live waiting info; one tap = one ticket. Goes back to the
   start (and to Chinese) after idle time. */
import { api, storePath } from '../lib/api.js';
import { pageConfig } from '../lib/config.js';
import { byId, h } from '../lib/dom.js';
import { t } from '../lib/i18n.js';
import { throttle } from '../lib/time.js';
import { renderServices } from '../ui/services.js';

const config = pageConfig();
const kiosk = config.kiosk || null;
const idleSeconds = (kiosk && kiosk.idle_seconds) || config.idle_seconds || null;

const list = byId('services');
const msg = byId('message');
const busy = byId('busy');
const offline = byId('offline');
const base = storePath(config.store);
let registered = !byId('not-registered');
let inFlight = false;
let msgTimer = null;
let socketDown = false;
let fetchFailed = false;

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
  list.querySelectorAll('button[data-service]').forEach((b) => { b.disabled = inFlight || !registered; });
  if (checkinLink) checkinLink.setAttribute('aria-disabled', String(inFlight));
}
// The appointment check-in screen: not while a ticket is being printed.
if (checkinLink) checkinLink.addEventListener('click', (e) => { if (inFlight) e.preventDefault(); });

function markUnregistered() {
  registered = false;
  if (!byId('not-registered')) {
    const notice = h('div', { id: 'not-registered', class: 'kiosk-notice', role: 'status' },
      h('p', { class: 'kiosk-notice-title', text: t('not_registered') }),
      h('p', { text: t('not_registered_staff') }));
    msg.before(notice);
  }
  setButtons();
}

async function refresh() {
  try {
    const data = await api(base + '/services');
    renderServices(list, data.services || [], { disabled: inFlight || !registered });
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
}

list.addEventListener('click', async (e) => {
  const btn = e.target.closest('button[data-service]');
  if (!btn || inFlight || !registered) return;
  setBusy(true);
  showMessage('');
  try {
    const ticket = await api(base + '/tickets', { service: btn.dataset.service, channel: 'kiosk' });
    if (!ticket || !ticket.print_url) throw new Error(t('server_error'));
    location.href = ticket.print_url;
    setTimeout(() => setBusy(false), 15000); // navigation failed: let the customer retry
  } catch (err) {
    setBusy(false);
    if (err.code === 'kiosk_not_registered') markUnregistered();
    else showMessage(err.message, err.code === 'rate_limited' ? 'info' : 'error');
    if (err.status === 0) { fetchFailed = true; showOffline(); }
    refreshSoon();
  }
});

/* Live: any store event means waiting counts may have changed. */
if (registered && typeof window.io === 'function') {
  const socket = window.io({ auth: { store: config.store, role: 'kiosk' } });
  socket.on('connect', () => { socketDown = false; showOffline(); refreshSoon(); });
  socket.on('disconnect', () => { socketDown = true; showOffline(); });
  socket.on('connect_error', () => { socketDown = true; showOffline(); });
  socket.onAny(() => refreshSoon());
}
setInterval(refresh, 60000); // fallback when events are missed

/* Idle: clear what the last customer left behind and go back to Chinese. */
let idleTimer = null;
function idleReset() {
  if (inFlight) return;
  showMessage('');
  window.scrollTo(0, 0);
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
