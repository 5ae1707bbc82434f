/* The ticket page's "your complaint" card: the case's number, the promised date (only when the
   customer agreed to be contacted), its status in plain words, and after resolution the one
   follow-up question, answered once through the case-answer API. Strings come from the card's
   own JSON block (the server's words). */
import { api } from '../lib/api.js';
import { readJSON } from '../lib/config.js';
import { byId as $, setText } from '../lib/dom.js';
import { format } from '../lib/i18n.js';

let words = null;
let stars = 0;
let busy = false;
let answered = false; // sent from this page (a later view may not say so yet)
let ticket = null; // { id, token }
let shown = null; // the case as last shown
const say = (key) => format((words || (words = readJSON('case-card-i18n')))[key] || '');

function showStars(n) {
  stars = n;
  document.querySelectorAll('#case-card [data-case-stars]').forEach((b) => {
    const on = Number(b.dataset.caseStars) <= n;
    b.classList.toggle('on', on);
    b.setAttribute('aria-pressed', String(Number(b.dataset.caseStars) === n));
  });
  setText('case-card-word', n ? say('rate_' + n) : '');
}

function message(text) {
  setText('case-card-msg', text || '');
  $('case-card-msg').hidden = !text;
}

/* tk: the ticket's public view (its `case` is null without a complaint case). */
export function renderCase(tk, token) {
  const card = $('case-card');
  const c = tk && tk.case;
  card.hidden = !c;
  if (!c) return;
  ticket = { id: tk.id, token };
  shown = c;
  const done = answered || c.answered;
  setText('case-card-number', c.number);
  $('case-card-promised-box').hidden = !c.promised_by;
  setText('case-card-promised', c.promised_by || '');
  setText('case-card-state', say(done && c.status === 'resolved' ? 'followed_up' : c.status));
  $('case-card-ask').hidden = !(c.can_answer && !done);
  $('case-card-thanks').hidden = !done;
}

async function send() {
  if (!stars) { setText('case-card-word', say('choose')); return; }
  if (busy || !ticket) return;
  busy = true;
  const button = $('case-card-send');
  button.disabled = true;
  message('');
  try {
    await api('/tickets/' + encodeURIComponent(ticket.id) + '/case-answer', { token: ticket.token, stars });
    answered = true;
  } catch (err) {
    if (err.code === 'already_answered') answered = true;
    else message(err.message);
  } finally {
    busy = false;
    button.disabled = false;
  }
  if (answered) {
    $('case-card-ask').hidden = true;
    $('case-card-thanks').hidden = false;
    setText('case-card-state', say('followed_up'));
  }
}

/* A case moves on in the console, not in the queue: no live event tells this page. When the
   customer comes back to it (the tab shown again), the case is read afresh while it is still
   moving (not followed up or closed). */
const MOVING = ['open', 'in_progress', 'resolved'];
async function refresh() {
  if (document.visibilityState !== 'visible' || !ticket || !ticket.token || !shown) return;
  if (!MOVING.includes(shown.status) || answered) return;
  try {
    const tk = await api('/tickets/' + encodeURIComponent(ticket.token));
    renderCase(tk, ticket.token);
  } catch { /* the page's own live load will show it */ }
}

if ($('case-card')) {
  document.addEventListener('visibilitychange', refresh);
  $('case-card').addEventListener('click', (e) => {
    const b = e.target.closest('button[data-case-stars]');
    if (b) { showStars(Number(b.dataset.caseStars)); message(''); }
  });
  $('case-card-send').addEventListener('click', send);
}
