/* Remote join (phone): choose a service, get a number, go to its status page. Outside opening
   hours the page says joining is closed (and when the hall opens again). */
import { api, storePath } from '../lib/api.js';
import { pageConfig } from '../lib/config.js';
import { byId, h } from '../lib/dom.js';
import { t } from '../lib/i18n.js';
import { whenText } from '../lib/time.js';
import { renderServices } from '../ui/services.js';

const config = pageConfig();
const list = byId('services');
const msg = byId('message');
const busy = byId('busy');
const hallClosed = byId('hall-closed');
const base = storePath(config.store);
let inFlight = false;

/* text, plus an optional big link (e.g. to the number this phone already has) */
function showMessage(text, link, kind) {
  msg.classList.toggle('info', kind === 'info');
  // replaceChildren() writes a null argument as the text "null": only the nodes there are.
  const open = link ? [h('a', { class: 'btn btn-primary btn-big btn-block', href: link, text: t('open_ticket') })] : [];
  msg.replaceChildren(h('p', { text: text || '' }), ...open);
  msg.hidden = !text;
  if (text) msg.scrollIntoView({ block: 'nearest', behavior: 'smooth' });
}

function setBusy(on) {
  inFlight = on;
  busy.hidden = !on;
  list.querySelectorAll('button[data-service]').forEach((b) => { b.disabled = on; });
}

/* The store's hours {open, next_open}: closed, the notice replaces the services. */
function showHours(hours) {
  if (!hallClosed || !hours || typeof hours.open !== 'boolean') return;
  hallClosed.hidden = hours.open;
  list.hidden = !hours.open;
  const when = !hours.open && hours.next_open ? whenText(hours.next_open) : '';
  byId('hall-next').textContent = when ? t('opens_at', { when }) : '';
}

async function refresh() {
  if (inFlight || document.hidden) return;
  try {
    const data = await api(base + '/snapshot'); // the services as /services gives them, and the hours
    renderServices(list, data.services || []);
    showHours((data.store && data.store.hours) || data.hours);
  } catch { /* keep the last list */ }
}

// Answers that mean "not now" rather than a fault: shown as information, next to the services.
const NOT_NOW = ['closing_soon', 'after_closing', 'remote_full', 'staff_issues_this_service'];

async function join(e) {
  const btn = e.target.closest('button[data-service]');
  if (!btn || inFlight) return;
  setBusy(true);
  showMessage('');
  try {
    const body = { service: btn.dataset.service, channel: 'remote' };
    const phone = document.getElementById('sms-phone'); // the optional "almost your turn" SMS
    if (phone && phone.value.trim()) {
      body.phone = phone.value.trim();
      body.sms_consent = document.getElementById('sms-consent').checked;
    }
    const ticket = await api(base + '/tickets', body);
    if (!ticket || !ticket.status_url) throw new Error(t('server_error'));
    location.href = ticket.status_url;
    setTimeout(() => setBusy(false), 15000);
  } catch (err) {
    setBusy(false);
    if (err.code === 'already_in_queue') {
      const url = err.data.status_url;
      const safe = url && new URL(url, location.href).origin === location.origin ? url : null;
      showMessage(err.message, safe, 'info');
    } else if (err.code === 'remote_join_closed') {
      list.hidden = true;
      showMessage(err.message || t('join_closed'), null, 'info');
    } else if (err.code === 'store_closed') {
      showHours({ open: false, next_open: err.data.next_open || null });
      showMessage(err.message, null, 'info');
    } else {
      showMessage(err.message, null, NOT_NOW.includes(err.code) ? 'info' : undefined);
    }
  }
}

if (list) { // remote joining closed today: the page only shows the notice
  list.addEventListener('click', join);
  document.addEventListener('visibilitychange', refresh);
  window.addEventListener('pageshow', (e) => { if (e.persisted) { setBusy(false); refresh(); } });
  setInterval(refresh, 30000);
  refresh();
}
