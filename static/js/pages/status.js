/* Ticket status page (phone): live position and status; full-screen banner (with vibration and a
   beep) when called; the customer can cancel, rejoin after a no-show and rate the service. */
import { api } from '../lib/api.js';
import { pageConfig } from '../lib/config.js';
import { byId as $, fill, h, setText } from '../lib/dom.js';
import { laneName, statusName, t } from '../lib/i18n.js';
import { TICKET_ROOM, live } from '../lib/live.js';
import { callAtText, clock, etaText, waitText } from '../lib/time.js';
import { renderCase } from '../ui/case-card.js';
import { setOnline } from '../ui/offline.js';
import { renderPlan } from '../ui/plan.js';
import { mountPush } from '../ui/push.js';

const config = pageConfig();
mountPush('/tickets/' + encodeURIComponent(config.token) + '/push-subscription');
const banner = $('call-banner');
const FINAL = {
  done: 'final_done', no_show: 'final_no_show', cancelled: 'final_cancelled',
  transferred: 'final_transferred', serving: 'serving_note',
};
const pageTitle = document.title;
let current = null;   // the last ticket shown
let announced = null; // call key (ticket:recall count) we already alerted for
let dismissed = null; // call key the customer closed the banner for
let busy = false;     // a customer action is in flight
let stars = 0;        // chosen in the rating card
let saved = null;     // feedback sent from this page (kept even if a late event has none yet)

/* ---- sound: browsers allow audio only after a touch, so the context is unlocked on the first one ---- */
let audio = null;
function unlockAudio() {
  const AC = window.AudioContext || window.webkitAudioContext;
  if (!AC) return;
  try {
    if (!audio) audio = new AC();
    if (audio.state === 'suspended') audio.resume();
  } catch { audio = null; }
}
['pointerdown', 'touchend', 'keydown'].forEach((n) => document.addEventListener(n, unlockAudio, { passive: true }));

function beep() {
  if (!audio || audio.state !== 'running') return;
  try {
    const now = audio.currentTime;
    [0, 0.35].forEach((at) => {
      const osc = audio.createOscillator();
      const gain = audio.createGain();
      osc.type = 'sine';
      osc.frequency.value = 880;
      gain.gain.setValueAtTime(0.0001, now + at);
      gain.gain.exponentialRampToValueAtTime(0.4, now + at + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, now + at + 0.25);
      osc.connect(gain).connect(audio.destination);
      osc.start(now + at);
      osc.stop(now + at + 0.3);
    });
  } catch { /* sound is a bonus */ }
}

function alertCall(tk, key) {
  if (announced === key) return;
  announced = key;
  try { if (navigator.vibrate) navigator.vibrate([300, 100, 300]); } catch { /* not allowed */ }
  beep();
  document.title = t('go_counter', { n: tk.counter }) + ' · ' + pageTitle;
}

/* ---- rendering ---- */
function starsText(n) { return '★★★★★'.slice(0, n) + '☆☆☆☆☆'.slice(0, 5 - n); }

function showStars(n) {
  stars = n;
  document.querySelectorAll('#rating button[data-stars]').forEach((b) => {
    const v = Number(b.dataset.stars);
    b.classList.toggle('on', v <= n);
    b.setAttribute('aria-pressed', String(v === n));
  });
  setText('rating-word', n ? t('rate_' + n) : '');
}

function renderRating(tk) {
  const fb = tk.feedback || saved;
  const show = tk.status === 'done' && (!!tk.can_rate || !!fb);
  $('rating').hidden = !show;
  // The visit is over: its facts (all "—" now) give way, so the card is in the first screen.
  document.querySelector('.status-page').classList.toggle('is-rating', show);
  if (!show) return;
  $('rating-form').hidden = !!fb;
  $('rating-thanks').hidden = !fb;
  if (fb) setText('rating-thanks-stars', starsText(fb.stars || 0));
}

function renderActions(tk) {
  const canCancel = tk.can_cancel != null ? !!tk.can_cancel : tk.status === 'waiting';
  $('cancel-box').hidden = !canCancel;
  if (!canCancel) $('cancel-ask').hidden = true;
  $('cancel').hidden = !$('cancel-ask').hidden;

  const canRejoin = tk.status === 'no_show' && !!tk.can_rejoin;
  $('rejoin-box').hidden = !canRejoin;
  if (canRejoin) {
    const until = clock(tk.rejoin_until);
    setText('rejoin-until', until ? t('rejoin_before', { time: until }) : '');
    setText('rejoin-note', tk.rejoin_places > 0 ? t('rejoin_places', { n: tk.rejoin_places }) : '');
  }
}

/* "Let a few go ahead" (让号): one button per number of places, up to the store's limit. */
function renderLetAhead(tk) {
  const show = tk.status === 'waiting' && !!tk.can_let_ahead && tk.let_ahead_places > 0;
  $('let-ahead-box').hidden = !show;
  if (!show) return;
  const box = $('let-ahead-choices');
  if (Number(box.dataset.places) === tk.let_ahead_places) return;
  box.dataset.places = tk.let_ahead_places;
  const choices = [];
  for (let n = 1; n <= tk.let_ahead_places; n += 1) {
    choices.push(h('button', {
      type: 'button', class: 'btn btn-big let-ahead-choice', 'data-places': n,
      text: n === 1 ? t('let_ahead_1') : t('let_ahead_n', { n }),
    }));
  }
  box.replaceChildren(...choices);
}

function render(tk) {
  if (!tk) return;
  const before = current && current.status;
  current = Object.assign({}, current, tk);
  tk = current;
  if (before && before !== tk.status) showActionMessage('');
  setText('label', tk.label);
  setText('banner-label', tk.label);
  setText('service', tk.service_name);
  const lane = $('lane');
  lane.textContent = laneName(tk.lane);
  lane.className = 'lane-badge lane-' + tk.lane;
  const status = $('status');
  status.textContent = statusName(tk.status);
  status.dataset.status = tk.status;
  renderPlan($('plan-box'), tk.plan);
  // Nothing more to notify once the visit is over: the rating card takes the first screen.
  const pushBox = $('push-box');
  if (pushBox && ['done', 'cancelled'].includes(tk.status)) {
    pushBox.dataset.finished = '1';
    pushBox.hidden = true;
  }
  setText('position', tk.position == null ? '—' : tk.position);
  renderWait(tk);
  setText('counter', tk.counter == null ? '—' : tk.counter);

  // "You are next" only when a staffed counter's next call is this ticket (the server's is_next),
  // not merely because nobody is ahead of it in the lane.
  const waiting = tk.status === 'waiting';
  const isNext = waiting && tk.is_next === true;
  const oneAhead = waiting && !isNext && tk.position === 1;
  const next = $('next-notice');
  next.hidden = !(isNext || oneAhead);
  next.textContent = isNext ? t('next_notice') : oneAhead ? t('one_ahead') : '';
  next.classList.toggle('is-next', isNext);

  const sent = waiting && tk.transferred_to != null;
  $('transfer-notice').hidden = !sent;
  setText('transfer-notice', sent ? t('transferred_to', { n: tk.transferred_to }) : '');
  $('arrive-box').hidden = !(waiting && tk.arrival_required === true);
  renderCounters(tk);

  const final = $('final');
  let finalKey = FINAL[tk.status];
  if (tk.status === 'no_show' && tk.can_rejoin) finalKey = 'final_no_show_rejoin';
  final.hidden = !finalKey;
  final.textContent = finalKey ? t(finalKey) : '';
  final.classList.toggle('bad', tk.status === 'no_show' || tk.status === 'cancelled');

  $('hint').hidden = ['done', 'cancelled', 'no_show'].includes(tk.status);
  renderActions(tk);
  renderLetAhead(tk);
  renderRating(tk);
  renderCase(tk, config.token || tk.token);

  if (tk.status === 'called') {
    const key = tk.id + ':' + (tk.recall_count || 0);
    fill($('banner-text'), 'go_counter', { n: h('span', { class: 'counter-no', text: tk.counter }) });
    banner.hidden = key === dismissed;
    const fresh = announced !== key;
    alertCall(tk, key);
    if (fresh && !banner.hidden) $('banner-ok').focus();
  } else {
    banner.hidden = true;
    document.title = pageTitle;
  }
}

/* The estimate, or why there is none; with the expected call time ("around 10:20"). */
function renderWait(tk) {
  const waiting = tk.status === 'waiting';
  const eta = waiting ? etaText(tk.eta_minutes) : '';
  const text = waiting ? waitText(tk.eta_minutes, tk.eta_reason) : '';
  const el = $('eta');
  el.textContent = text || '—';
  el.classList.toggle('is-none', !!text && !eta);
  const at = eta && tk.eta_call_at ? callAtText(tk.eta_call_at) : '';
  $('eta-at').hidden = !at;
  setText('eta-at', at);
}

/* The counters of the ticket's lane, each with its state (open, paused, not open). */
function renderCounters(tk) {
  const list = Array.isArray(tk.counters) ? tk.counters : [];
  const show = list.length > 0 && ['waiting', 'called'].includes(tk.status);
  $('counters-box').hidden = !show;
  if (!show) return;
  $('counters-list').replaceChildren(...list.map((c) => h('li', {
    class: 'counter-state', 'data-counter': c.number, 'data-status': c.status,
  },
  h('span', { class: 'cs-name', text: t('counter_n', { n: c.number }) }), ' ',
  h('span', { class: 'cs-state', text: t('counter_' + c.status) }))));
}

/* ---- customer actions ---- */
function showActionMessage(text, kind) {
  const el = $('action-msg');
  el.textContent = text || '';
  el.classList.toggle('info', kind === 'info');
  el.hidden = !text;
}

async function act(path, body, buttons) {
  if (busy || !current) return null;
  busy = true;
  buttons.forEach((b) => { b.disabled = true; });
  showActionMessage('');
  try {
    const data = await api('/tickets/' + encodeURIComponent(current.id) + '/' + path,
      Object.assign({ token: config.token || current.token }, body || {}));
    return data;
  } catch (err) {
    showActionMessage(err.message);
    if (err.status === 409) resync();
    return null;
  } finally {
    busy = false;
    buttons.forEach((b) => { b.disabled = false; });
  }
}

/* A command's answer: its ticket is as the command left it, but its place and wait come from the
   newest projection already built, which may be older than a live event already shown (the
   event came first): then the fresh view is loaded instead of showing the older figures. */
function answered(tk) {
  if (!sub.current(tk.version)) {
    resync();
    return;
  }
  render(tk);
}

$('cancel').addEventListener('click', () => {
  $('cancel-ask').hidden = false;
  $('cancel').hidden = true;
  $('cancel-keep').focus();
});
$('cancel-keep').addEventListener('click', () => {
  $('cancel-ask').hidden = true;
  $('cancel').hidden = false;
  $('cancel').focus();
});
$('cancel-confirm').addEventListener('click', async () => {
  const tk = await act('cancel', null, [$('cancel-confirm'), $('cancel-keep')]);
  if (tk) { $('cancel-ask').hidden = true; answered(tk); }
});

$('arrived').addEventListener('click', async () => {
  const tk = await act('arrived', null, [$('arrived')]);
  if (tk) { answered(tk); showActionMessage(t('arrived_ok'), 'info'); }
});

$('rejoin').addEventListener('click', async () => {
  const tk = await act('rejoin', null, [$('rejoin')]);
  if (tk) { answered(tk); showActionMessage(t('rejoined'), 'info'); $('label').scrollIntoView({ block: 'center' }); }
});

$('let-ahead-choices').addEventListener('click', async (e) => {
  const b = e.target.closest('button[data-places]');
  if (!b) return;
  const buttons = [...document.querySelectorAll('#let-ahead-choices button')];
  const tk = await act('let-ahead', { places: Number(b.dataset.places) }, buttons);
  if (tk) { answered(tk); showActionMessage(tk.message, 'info'); }
});

$('rating').addEventListener('click', (e) => {
  const b = e.target.closest('button[data-stars]');
  if (b) { showStars(Number(b.dataset.stars)); showActionMessage(''); }
});
$('rating-submit').addEventListener('click', async () => {
  if (!stars) { setText('rating-word', t('choose_stars')); return; }
  const comment = $('rating-comment').value.trim().slice(0, 500);
  const body = { stars };
  if (comment) body.comment = comment;
  const btns = [$('rating-submit'), ...document.querySelectorAll('#rating button[data-stars]')];
  if (busy || !current) return;
  busy = true;
  btns.forEach((x) => { x.disabled = true; });
  showActionMessage('');
  try {
    const fb = await api('/tickets/' + encodeURIComponent(current.id) + '/feedback',
      Object.assign({ token: config.token || current.token }, body));
    saved = fb && fb.stars ? fb : body;
    render({ can_rate: false });
  } catch (err) {
    if (err.code === 'already_rated') { saved = { stars, comment }; render({ can_rate: false }); resync(); }
    else showActionMessage(err.message);
  } finally {
    busy = false;
    btns.forEach((x) => { x.disabled = false; });
  }
});

$('banner-ok').addEventListener('click', () => {
  dismissed = announced;
  banner.hidden = true;
});

/* first paint from the server's copy, then live */
try { render(JSON.parse($('ticket-data').textContent)); } catch { /* the live load will fill in */ }

let resync = () => {};
const sub = live({
  auth: { ticket: config.token, lang: config.lang },
  events: TICKET_ROOM, // each event carries the whole public view of the ticket
  onStatus: setOnline,
  load: async () => {
    const tk = await api('/tickets/' + encodeURIComponent(config.token));
    render(tk);
    return tk.version;
  },
  apply: (name, p) => render(p.ticket),
});
resync = sub.resync;
