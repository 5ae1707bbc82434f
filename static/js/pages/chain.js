/* The chain's overview (administrators): each store's line changes as its store does. The server
   sends a store's line after each of its projections (`chain_store`, the administrators' room);
   on (re)connection the page loads every line again, so a missed update is never shown as now.
   The longest wait grows by itself between updates (from the oldest waiting ticket's issue time). */
import { byId as $ } from '../lib/dom.js';
import { EVENTS } from '../lib/events.js';
import { clockOffset } from '../lib/floor.js';
import { t } from '../lib/i18n.js';
import { STATE, live } from '../lib/live.js';
import { clock } from '../lib/time.js';
import { setOnline } from '../ui/offline.js';
import { sortRows } from './manager.js';

const table = $('chain-table');
const MINUTE = 60000;
// The server's clock minus this device's (the waits are counted on the server's clock).
let offset = 0;
const serverNow = () => Date.now() + offset;

function longest(oldest, now) {
  return oldest ? Math.max(Math.floor((now - Date.parse(oldest)) / MINUTE), 0) : null;
}

function setCell(row, name, sort, text, extra) {
  const cell = row.querySelector('[data-cell="' + name + '"]');
  if (!cell) return;
  cell.dataset.sort = String(sort);
  cell.replaceChildren(document.createTextNode(text));
  if (extra) cell.append(' ', extra);
}

function paint(row, line) {
  if (row.dataset.moment && row.dataset.moment > line.moment) return; // an older line
  row.dataset.moment = line.moment;
  offset = clockOffset(line.moment);
  setCell(row, 'waiting', line.waiting, String(line.waiting));
  const cell = row.querySelector('[data-cell="longest"]');
  if (line.oldest_issued_at) cell.dataset.oldest = line.oldest_issued_at;
  else delete cell.dataset.oldest;
  paintLongest(row, serverNow());
  let paused = null;
  if (line.paused) {
    paused = document.createElement('span');
    paused.className = 'm-sub';
    paused.textContent = '· ' + t('paused_n', { n: line.paused });
  }
  setCell(row, 'staffed', line.staffed, line.staffed + ' / ' + line.counters, paused);
  const hall = document.createElement('span');
  hall.className = line.open ? 'm-open' : 'm-closed';
  hall.textContent = line.open
    ? (line.closes_at ? t('open_until', { time: line.closes_at_local }) : t('open'))
    : t('closed_now');
  const open = row.querySelector('[data-cell="open"]');
  open.dataset.sort = line.open ? '1' : '0';
  open.replaceChildren(hall);
}

function paintLongest(row, now) {
  const cell = row.querySelector('[data-cell="longest"]');
  const minutes = longest(cell.dataset.oldest, now);
  cell.dataset.sort = String(minutes == null ? -1 : minutes);
  cell.textContent = minutes == null ? '—' : t('wait_min', { n: minutes });
}

/* Keep the order the administrator chose (a sorted column) as the figures change. */
function resort() {
  const th = table.querySelector('th[aria-sort="ascending"], th[aria-sort="descending"]');
  if (!th) return;
  const button = th.querySelector('[data-sort-key]');
  const body = table.tBodies[0];
  body.append(...sortRows(body.rows, th.cellIndex, button.dataset.sortKind, th.getAttribute('aria-sort') === 'descending'));
}

function apply(line) {
  const row = table.querySelector('tr[data-code="' + CSS.escape(line.code) + '"]');
  if (!row) return; // a store created since the page was opened: shown on the next visit
  paint(row, line);
  resort();
}

function showAsOf(moment) {
  const stamp = document.querySelector('.m-hint time[data-time]');
  if (stamp) stamp.textContent = clock(moment);
}

async function load() {
  const res = await fetch(table.dataset.url, { headers: { Accept: 'application/json' }, credentials: 'same-origin' });
  if (!res.ok) throw new Error(String(res.status));
  const data = await res.json();
  data.stores.forEach((line) => { const row = table.querySelector('tr[data-code="' + CSS.escape(line.code) + '"]'); if (row) paint(row, line); });
  resort();
  showAsOf(data.moment);
  return null; // the lines carry their own moments, not one version
}

live({
  auth: { role: 'chain' },
  events: { [EVENTS.CHAIN_STORE]: STATE },
  load,
  apply: (name, line) => { apply(line); showAsOf(line.moment); },
  onStatus: (online) => {
    setOnline(online);
    $('chain-live').hidden = !online;
  },
});

setInterval(() => {
  const now = serverNow();
  table.querySelectorAll('tbody tr[data-code]').forEach((row) => paintLongest(row, now));
  resort();
}, 30000);
