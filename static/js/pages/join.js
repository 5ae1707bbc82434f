/* Remote join (phone): choose a service, get a number, go to its status page. */
import { api, storePath } from '../lib/api.js';
import { pageConfig } from '../lib/config.js';
import { byId, h } from '../lib/dom.js';
import { t } from '../lib/i18n.js';
import { renderServices } from '../ui/services.js';

const config = pageConfig();
const list = byId('services');
const msg = byId('message');
const busy = byId('busy');
const base = storePath(config.store);
let inFlight = false;

/* text, plus an optional big link (e.g. to the number this phone already has) */
function showMessage(text, link, kind) {
  msg.classList.toggle('info', kind === 'info');
  msg.replaceChildren(h('p', { text: text || '' }),
    link ? h('a', { class: 'btn btn-primary btn-big btn-block', href: link, text: t('open_ticket') }) : null);
  msg.hidden = !text;
  if (text) msg.scrollIntoView({ block: 'nearest', behavior: 'smooth' });
}

function setBusy(on) {
  inFlight = on;
  busy.hidden = !on;
  list.querySelectorAll('button[data-service]').forEach((b) => { b.disabled = on; });
}

async function refresh() {
  if (inFlight || document.hidden) return;
  try {
    const data = await api(base + '/services');
    renderServices(list, data.services || []);
  } catch { /* keep the last list */ }
}

async function join(e) {
  const btn = e.target.closest('button[data-service]');
  if (!btn || inFlight) return;
  setBusy(true);
  showMessage('');
  try {
    const ticket = await api(base + '/tickets', { service: btn.dataset.service, channel: 'remote' });
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
    } else {
      showMessage(err.message);
    }
  }
}

if (list) { // remote joining closed today: the page only shows the notice
  list.addEventListener('click', join);
  document.addEventListener('visibilitychange', refresh);
  window.addEventListener('pageshow', (e) => { if (e.persisted) { setBusy(false); refresh(); } });
  setInterval(refresh, 30000);
}
