/*
 * Waiting-area TV: now calling (queued, never overwritten), counters, recent calls, missed numbers,
 * lanes, clock, notices ticker; chime + spoken announcements, one at a time.
 * URL options: ?counters=1,2  ?lanes=fast,vip  ?theme=light|dark  (also page_config.display_filter / .theme).
 * ?voice=off|clips|system: the device's voice, the recorded clips or silence (default: see lib/voice.js).
 */
import { api, storePath } from '../lib/api.js';
import { announceKey, callKey, callOf, patchCounters } from '../lib/calls.js';
import { pageConfig } from '../lib/config.js';
import { byId as $, fill, h, setText } from '../lib/dom.js';
import { EVENTS } from '../lib/events.js';
import { laneName, localName, t } from '../lib/i18n.js';
import { STORE_ROOM, live } from '../lib/live.js';
import { clock, etaText, parseTime, plannedReturn, waitText } from '../lib/time.js';
import { createVoice } from '../lib/voice.js';
import { setOnline } from '../ui/offline.js';

const config = pageConfig();
const params = new URLSearchParams(location.search);

const RECENT_MAX = 10;
const MIN_SHOW_MS = 3000;     // every call stays in the now-calling panel at least this long
const FLASH_MS = 5000;        // how long a new call flashes
const REPLAY_MS = 120000;     // calls missed while offline this briefly are still shown and announced
const REPLAY_MAX = 3;
const NOTICE_ROTATE_MS = 8000; // reduced motion: one notice at a time
const ZH_DIGITS = '零一二三四五六七八九';
const VOICE_LANGS = { zh: 'zh-CN', en: 'en-US' };
const SAY_KEYS = { zh: 'say_zh', en: 'say_en' };

window.announcements = []; // strings handed to speechSynthesis (or due while speech is unavailable), in order
window.displayQueue = [];  // labels still waiting to be shown in the now-calling panel

/* ---- options: theme and filters (the URL wins over page_config) ---- */
const theme = params.get('theme') || config.theme;
document.body.classList.toggle('theme-light', theme === 'light');
document.body.classList.toggle('theme-dark', theme !== 'light');

function listOption(name, fromConfig, cast) {
  let list = null;
  if (params.has(name)) list = params.get(name).split(',');
  else if (Array.isArray(fromConfig)) list = fromConfig;
  if (!list) return null;
  list = list.map((v) => cast(String(v).trim())).filter((v) => v !== '' && v === v); // drop blanks and NaN
  return list.length ? list : null;
}
const cfgFilter = config.display_filter || {};
const onlyCounters = listOption('counters', cfgFilter.counters, (v) => (v === '' ? '' : Number(v)));
const onlyLanes = listOption('lanes', cfgFilter.lanes, (v) => v.toLowerCase());
const showsCounter = (n) => !onlyCounters || onlyCounters.includes(Number(n));
const showsLane = (lane) => !onlyLanes || onlyLanes.includes(lane);
const showsCall = (c) => showsCounter(c.counter) && showsLane(c.lane);

/* ---- state ---- */
let counters = [];
let recent = [];             // visible calls, newest first: {ticket_id, label, counter, lane, called_at, status, recall_count}
let calling = null;          // now_calling (the tickets in status `called` now, newest first, this display's filter); null: not known yet
let hoursOpen = null;        // the store's hours: open now (a lane without an estimate says why)
let missed = [];             // visible missed numbers: {label, lane, counter, until}
let announceLangs = ['zh', 'en'];
let nowShown = null;         // the call in the now-calling panel
let pulse = { counter: null, until: 0 };
let seen = new Set();        // calls already known (to spot calls made while we were offline)
let loadedOnce = false;
let offlineSince = null;
const isAppt = (x) => !!x && (x.lane === 'appointment' || x.channel === 'appointment');

/* ---- clock (and expiry of missed numbers) ---- */
const dateOptions = { month: 'long', day: 'numeric', weekday: 'long' };
let dateFmt;
try { // the store's date, whatever the screen's own time zone
  dateFmt = new Intl.DateTimeFormat(config.lang === 'en' ? 'en-US' : 'zh-CN',
    Object.assign({ timeZone: config.timezone || undefined }, dateOptions));
} catch {
  dateFmt = new Intl.DateTimeFormat(config.lang === 'en' ? 'en-US' : 'zh-CN', dateOptions);
}
function tick() {
  const now = new Date();
  setText('clock-time', clock(now));
  setText('clock-date', dateFmt.format(now));
  const alive = missed.filter((m) => !isExpired(m, now));
  if (alive.length !== missed.length) { missed = alive; renderMissed(); }
  if (returnShownUntil != null && now.getTime() >= returnShownUntil) renderCounters();
}

// The earliest planned return shown on a counter (ms): once reached, the counters are drawn
// again without it (a paused counter past its return says only that it is paused).
let returnShownUntil = null;

/* ---- rendering ---- */
// At most 4 across: in landscape the counters share the width with the missed numbers, and a
// counter's name and state stay readable (>= 32 px) at a quarter of that.
const maxColumns = () => 4;
function columns(n) { // even rows: 4 -> 4, 6 -> 3+3, 8 -> 4+4
  const max = maxColumns();
  return Math.max(1, n <= max ? n : Math.ceil(n / Math.ceil(n / max)));
}

// pause_reason is a code (break, training, other): shown translated when we know it, never raw.
function pauseReasonText(code) {
  if (typeof code !== 'string' || !code.trim()) return '';
  const key = 'reason_' + code.trim();
  if (t(key) !== key) return t(key);
  return /^[a-z0-9_-]+$/.test(code.trim()) ? '' : code.trim(); // free text (not a code) is shown as is
}

function renderCounters(list) {
  if (Array.isArray(list)) counters = list;
  const hot = Date.now() < pulse.until ? pulse.counter : null;
  const shown = counters.filter((c) => showsCounter(c.number));
  const box = $('counters');
  box.style.setProperty('--cols', columns(shown.length));
  const nowMs = Date.now();
  returnShownUntil = null;
  box.replaceChildren(...shown.map((c) => {
    const paused = c.status === 'paused';
    const unstaffed = c.status === 'closed'; // nobody signed in: not open, never an idle open counter
    const cur = c.current && (c.current.status === 'called' || c.current.status === 'serving') ? c.current.label : '';
    const appt = !!cur && isAppt(c.current);
    const reason = paused ? pauseReasonText(c.pause_reason) : '';
    const back = paused ? plannedReturn(c.back_at, nowMs) : null;
    if (back) returnShownUntil = Math.min(returnShownUntil ?? Infinity, back.getTime());
    return h('div', {
      class: 'counter-panel' + (paused ? ' is-paused' : '') + (unstaffed ? ' is-closed' : '') +
        (c.number === hot ? ' pulse' : '') + (appt ? ' is-appt' : ''),
      'data-counter': c.number,
      'data-status': c.status || 'open',
    },
    h('p', { class: 'c-name', text: localName(c) || t('counter_to', { n: c.number }), 'data-appt': appt ? laneName('appointment') : null }),
    h('p', { class: 'current', text: cur }),
    paused ? h('p', { class: 'c-state', text: t('closed') }) : null,
    unstaffed ? h('p', { class: 'c-state', text: t('not_open') }) : null,
    reason ? h('p', { class: 'c-reason', text: reason }) : null,
    back ? h('p', { class: 'c-back', text: t('back_around', { time: clock(back) }) }) : null);
  }));
}

function renderLanes(list) {
  const shown = (list || []).filter((l) => showsLane(l.lane));
  const box = $('lanes');
  box.hidden = !shown.length;
  box.style.setProperty('--cols', Math.max(1, shown.length));
  box.replaceChildren(...shown.map((l) => h('div', { class: 'lane-card lane-' + l.lane, 'data-lane': l.lane },
    h('p', { class: 'lane-title', text: laneName(l.lane) }),
    fill(h('p', { class: 'lane-waiting' }), 'waiting_n', { n: h('b', { class: 'waiting', text: l.waiting }) }),
    h('p', { class: 'lane-eta' + (l.eta_minutes ? '' : ' is-none'), text: laneWait(l) || '\u00a0' }))));
}

/* A lane's estimate, or why there is none (no staffed counter serves it, or the hall is closed):
   never a made-up "about 0-1 min". Appointments have no walk-in estimate. */
function laneWait(l) {
  const eta = etaText(l.eta_minutes);
  if (eta || l.lane === 'appointment') return eta;
  if (l.eta_reason) return waitText(null, l.eta_reason);
  return t(hoursOpen === false ? 'eta_store_closed' : 'eta_no_staffed_counter');
}

/* "2nd call" / "第 2 次呼叫": the count of calls, recalls included. */
function nthCall(n) {
  if (config.lang !== 'en') return t('recall_nth', { nth: n });
  const v = n % 100;
  const suffix = ['th', 'st', 'nd', 'rd'][(v - 20) % 10] || ['th', 'st', 'nd', 'rd'][v] || 'th';
  return t('recall_nth', { nth: n + suffix });
}

/* A recent call's mark: missed (过号) for a no-show, the call's count while recalled; a served
   number has none. */
function recentMark(r) {
  if (r.status === 'no_show') return h('span', { class: 'r-mark r-missed', text: t('missed_mark') });
  if (r.recall_count > 0 && (r.status === 'called' || r.status == null)) {
    return h('span', { class: 'r-mark r-recall', text: nthCall(r.recall_count + 1) });
  }
  return null;
}

function renderRecent() {
  const nowId = nowShown && nowShown.ticket_id;
  $('recent').replaceChildren(...recent.map((r) => h('li', {
    'data-label': r.label, 'data-status': r.status || null,
    class: [r.ticket_id === nowId ? 'is-now' : '', isAppt(r) ? 'is-appt' : '',
      r.status === 'no_show' ? 'is-missed' : '', r.status === 'cancelled' ? 'is-gone' : ''].join(' ').trim() || null,
  },
  h('span', { class: 'r-label', text: r.label }),
  isAppt(r) ? h('span', { class: 'r-appt', text: laneName('appointment') }) : null,
  recentMark(r),
  h('span', { class: 'r-counter', text: t('counter_to', { n: r.counter }) }))));
  $('recent-empty').hidden = recent.length > 0;
  clipRecent();
}
function clipRecent() { // hide the rows that would be cut off at the bottom of the panel
  const list = $('recent');
  const bottom = list.getBoundingClientRect().bottom + 1;
  [...list.children].forEach((li) => li.classList.toggle('is-clipped', li.getBoundingClientRect().bottom > bottom));
}

function isExpired(m, now) {
  const until = parseTime(m.until);
  return !!until && until.getTime() < (now || new Date()).getTime();
}
function setMissed(list) {
  missed = (Array.isArray(list) ? list : []).filter((m) => m && m.label && showsCall(m) && !isExpired(m));
  renderMissed();
}
function renderMissed() {
  $('missed').replaceChildren(...missed.map((m) => h('li', { 'data-label': m.label, text: m.label })));
  $('missed-empty').hidden = missed.length > 0;
  $('missed-note').hidden = missed.length === 0;
}

/* ---- notices ticker: a slow marquee; with reduced motion, one notice at a time ---- */
let noticesKey = '';
let noticeIndex = 0;
function renderNotices(list) {
  const notices = (Array.isArray(list) ? list : []).map((n) => String(n == null ? '' : n).trim()).filter(Boolean);
  const key = JSON.stringify(notices);
  if (key === noticesKey) return; // unchanged: do not restart the scroll
  noticesKey = key;
  noticeIndex = 0;
  $('ticker').hidden = !notices.length;
  $('ticker-track').replaceChildren(...notices.map((n, i) => h('span', { class: 'notice' + (i ? '' : ' is-current'), text: n })));
  layoutTicker();
}
function layoutTicker() {
  const track = $('ticker-track');
  if ($('ticker').hidden) return;
  const speed = Math.max(50, Math.min(innerWidth, innerHeight) * 0.09); // px per second
  const duration = Math.max(10, track.scrollWidth / speed);
  track.style.animationDuration = duration.toFixed(1) + 's';
  // Start with the text already entering at the left edge of the strip, not off-screen on the right.
  track.style.animationDelay = -Math.min(duration, $('ticker').clientWidth / speed).toFixed(1) + 's';
}
function rotateNotice() {
  const items = $('ticker-track').children;
  if (items.length < 2) return;
  items[noticeIndex % items.length].classList.remove('is-current');
  noticeIndex = (noticeIndex + 1) % items.length;
  items[noticeIndex].classList.add('is-current');
}

/* ---- now calling: a queue, every call shown >= MIN_SHOW_MS and announced, in order ----
 * The panel shows only a number being called right now (now_calling, kept current by the thin
 * events): a number missed, parked, served or at a paused counter leaves it at once. */
const isCalling = (call) => !!call && calling.some((c) => c.ticket_id === call.ticket_id);

function showNow(call, isNew) {
  if (call && calling && !isCalling(call)) { // announced late, or no longer called: not on the panel
    call = calling[0] || null;
    isNew = false;
  }
  nowShown = call;
  setText('now-label', call ? call.label : '—');
  showNowAppointment(isAppt(call));
  fill($('now-line'), 'go_counter', { n: h('span', { id: 'now-counter', text: call ? call.counter : '' }) });
  $('now-line').style.visibility = call ? 'visible' : 'hidden';
  if (isNew && call) flash(call.counter);
  renderRecent();
}

/* An appointment call: a "预约 Appointment" badge above the number and the lane colour on the panel. */
function showNowAppointment(on) {
  let badge = $('now-appt');
  if (!badge) {
    badge = h('p', { id: 'now-appt', class: 'now-appt', hidden: true, text: laneName('appointment') });
    $('now-label').before(badge);
  }
  badge.hidden = !on;
  $('now').classList.toggle('is-appt', on);
}

let flashTimer = null;
function flash(counter) {
  const panel = $('now');
  panel.classList.remove('flash');
  void panel.offsetWidth; // restart the animation
  panel.classList.add('flash');
  clearTimeout(flashTimer);
  flashTimer = setTimeout(() => { panel.classList.remove('flash'); renderCounters(); }, FLASH_MS);
  pulse = { counter, until: Date.now() + FLASH_MS };
  renderCounters();
}

const pending = [];
let running = false;
const busy = () => running || pending.length > 0;
const publishQueue = () => { window.displayQueue = pending.map((c) => c.label); };

function enqueueCall(call) {
  // A recall of a number whose recall is still waiting its turn: once is enough (a clerk pressing twice).
  if (call.recall && pending.some((c) => c.recall && c.label === call.label && c.counter === call.counter)) return;
  pending.push(call);
  publishQueue();
  runQueue();
}

async function runQueue() {
  if (running) return;
  running = true;
  try {
    while (pending.length) {
      const call = pending.shift();
      publishQueue();
      showNow(call, true);
      await Promise.all([wait(MIN_SHOW_MS), announce(call).catch(() => {})]);
    }
  } finally {
    running = false;
  }
}

/* ---- sound: chime (Web Audio) then speech; awaited one by one so nothing overlaps ---- */
const AudioCtx = window.AudioContext || window.webkitAudioContext;
const synth = window.speechSynthesis;
const canSpeak = !!(synth && window.SpeechSynthesisUtterance);
let audio = null;
const wait = (ms) => new Promise((r) => setTimeout(r, ms));

function chime() {
  if (!audio || audio.state !== 'running') return Promise.resolve();
  const t0 = audio.currentTime + 0.05;
  [[659.25, 0], [523.25, 0.6]].forEach(([freq, at]) => { // E5 then C5: "ding-dong"
    [[1, 0.45], [2, 0.12]].forEach(([mult, peak]) => {    // tone + soft overtone for a bell colour
      const osc = audio.createOscillator();
      const gain = audio.createGain();
      osc.frequency.value = freq * mult;
      gain.gain.setValueAtTime(0.0001, t0 + at);
      gain.gain.exponentialRampToValueAtTime(peak, t0 + at + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, t0 + at + 1.4);
      osc.connect(gain).connect(audio.destination);
      osc.start(t0 + at);
      osc.stop(t0 + at + 1.5);
    });
  });
  return wait(2000);
}

// Voices load asynchronously: wait for them once (briefly) before deciding a language has none.
let voicesWait = null;
function loadVoices() {
  const ready = synth.getVoices();
  if (ready.length) return Promise.resolve(ready);
  if (!voicesWait) {
    voicesWait = new Promise((resolve) => {
      const done = () => resolve(synth.getVoices());
      if (synth.addEventListener) synth.addEventListener('voiceschanged', done, { once: true });
      setTimeout(done, 1500);
    });
  }
  return voicesWait.then(() => synth.getVoices());
}
function pickVoice(voices, lang) {
  const norm = (v) => String(v.lang || '').replace('_', '-').toLowerCase();
  const want = lang.toLowerCase();
  const base = want.slice(0, 2);
  return voices.find((v) => norm(v) === want) ||
    voices.find((v) => base === 'zh' && /^(cmn|zh-hans)/.test(norm(v))) ||
    voices.find((v) => norm(v).startsWith(base + '-') || norm(v) === base) || null;
}

// The device's voice when it has one for the language, else the recorded clips (lib/voice.js).
const voicePack = createVoice({
  option: params.get('voice') || config.voice,
  findVoice: async (lang) => (canSpeak ? pickVoice(await loadVoices(), lang) : null),
  canSpeak,
  audio: () => audio,
  langs: () => announceLangs.map((l) => VOICE_LANGS[l]),
});

let utterance = null; // keep a reference: Chrome may drop the end event of a collected utterance
async function speak(text, lang, call) {
  const voice = canSpeak ? pickVoice(await loadVoices(), lang) : null;
  window.announcements.push(text);
  const how = await voicePack.choose(lang, voice); // system, clips, off, or none to speak with
  if (how === 'clips') return voicePack.say(call, lang);
  if (how !== 'system') return; // the chime and the screen still work
  await new Promise((resolve) => {
    const u = new SpeechSynthesisUtterance(text);
    let finished = false;
    const finish = () => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      if (utterance === u) utterance = null;
      resolve();
    };
    // Never stall the queue; cancelling on timeout guarantees the next one cannot overlap this one.
    const timer = setTimeout(() => { synth.cancel(); finish(); }, 4000 + text.length * 300);
    if (voice) u.voice = voice; // none when ?voice=system forces the browser's own choice
    u.lang = (voice && voice.lang) || lang;
    u.rate = 0.9;
    u.onend = finish;
    u.onerror = finish;
    utterance = u;
    if (synth.paused) synth.resume();
    synth.speak(u);
  });
}

async function announce(call) {
  const sayLabel = { zh: String(call.label).replace(/\d/g, (d) => ZH_DIGITS[d]), en: call.label };
  await chime();
  for (const lang of announceLangs) {
    await speak(t(SAY_KEYS[lang], { label: sayLabel[lang], counter: call.counter }), VOICE_LANGS[lang], call);
  }
  await wait(600); // a breath between two announcements
}

function setAnnounceLangs(list) {
  if (!Array.isArray(list)) return; // not sent: keep the default (Chinese then English)
  announceLangs = list.map((l) => String(l).toLowerCase().slice(0, 2)).filter((l, i, all) => VOICE_LANGS[l] && all.indexOf(l) === i);
  voicePack.refresh();
}

const overlay = $('sound-overlay');
function enableSound() {
  try {
    if (!audio && AudioCtx) audio = new AudioCtx();
    if (audio && audio.state !== 'running') audio.resume();
  } catch { audio = null; }
  if (canSpeak) { // unlock speech with a silent utterance
    const u = new SpeechSynthesisUtterance(' ');
    u.volume = 0;
    synth.speak(u);
  }
  overlay.hidden = true;
}
overlay.addEventListener('click', enableSound);
if (AudioCtx) { // autoplay already allowed (kiosk browser flag): no overlay needed
  try {
    audio = new AudioCtx();
    if (audio.state === 'running') overlay.hidden = true;
    audio.addEventListener('statechange', () => { if (audio.state === 'running') overlay.hidden = true; });
  } catch { audio = null; }
}

/* ---- live data ----
 * Announcements are keyed by the call (ticket, called_at, recall count), not by the version: a
 * called/recalled event that is too old for the state is still announced if its call never was. */
let announced = new Set(); // announceKey of the calls handled (queued, or known from a snapshot)
function announceOnce(call, recall) {
  const key = announceKey(call);
  if (announced.has(key)) return;
  if (announced.size > 1000) announced = new Set();
  announced.add(key);
  call.recall = recall;
  enqueueCall(call);
}

/* now_calling from the server (snapshot, queue_updated): what the big panel may show. */
function setCalling(list) {
  if (!Array.isArray(list)) return;
  calling = list.filter(showsCall);
  refreshNow();
}
/* The panel after `calling` changed: the shown number stays while it is called; else the newest
   call, or "—". The call queue goes on showing (and announcing) new calls in order. */
function refreshNow() {
  if (nowShown ? isCalling(nowShown) : !calling.length) return;
  showNow(calling[0] || null, false);
}
/* A thin event about `tk`: a called/recalled ticket is called now; any other leaves the panel. */
function patchCalling(tk, call) {
  if (!calling || !tk) return;
  const others = calling.filter((c) => c.ticket_id !== tk.id);
  calling = call ? [call].concat(others) : others;
  if (!call) refreshNow();
}
/* What became of a recent call (missed, served, recalled...) as a thin event tells it. */
function patchRecent(tk) {
  let changed = false;
  recent = recent.map((r) => {
    if (r.ticket_id !== tk.id || (r.status === tk.status && r.recall_count === (tk.recall_count || 0))) return r;
    changed = true;
    return Object.assign({}, r, { status: tk.status, recall_count: tk.recall_count || 0 });
  });
  if (changed) renderRecent();
}
function setHours(hours) {
  if (hours && typeof hours.open === 'boolean') hoursOpen = hours.open;
}

function loadSnapshot(s) {
  const store = s.store || {};
  if (store.name) setText('store-name', store.name);
  renderNotices(store.notices);
  setAnnounceLangs(store.announce_langs);
  setHours(store.hours || s.hours);
  renderCounters(s.counters || []);
  renderLanes(s.lanes || []);
  setMissed(s.missed);

  const calls = (s.recent_calls || []).filter(showsCall);
  const fresh = loadedOnce ? calls.filter((c) => !seen.has(callKey(c))) : [];
  if (seen.size > 1000) seen = new Set();
  calls.forEach((c) => seen.add(callKey(c)));
  recent = calls.slice(0, RECENT_MAX);
  renderRecent();
  if (Array.isArray(s.now_calling)) calling = s.now_calling.filter(showsCall);

  const replay = fresh.length && (offlineSince == null || Date.now() - offlineSince < REPLAY_MS);
  if (replay) {
    fresh.slice(0, REPLAY_MAX).reverse().forEach((c) => announceOnce(c, false)); // calls we missed, oldest first
  } else if (!busy() && calling) {
    const kept = nowShown && calling.find((c) => c.ticket_id === nowShown.ticket_id);
    showNow(kept || calling[0] || null, false); // only a number called now (e.g. not a missed one after a reload)
  } else if (!busy() && (fresh.length || !nowShown || !recent.some((r) => r.ticket_id === nowShown.ticket_id))) {
    showNow(recent[0] || null, false);
  } else if (calling) {
    refreshNow(); // calls still being announced: the panel drops a number no longer called all the same
  }
  calls.forEach((c) => announced.add(announceKey(c))); // the others are not announced late
  loadedOnce = true;
  offlineSince = null;
}

/* Lists a payload carries whole (queue_updated; thin events of an older server too). */
function applyLists(p) {
  setHours(p.hours);
  if (Array.isArray(p.counters)) renderCounters(p.counters);
  if (Array.isArray(p.lanes)) renderLanes(p.lanes);
  if (Array.isArray(p.missed)) setMissed(p.missed);
}

/* queue_updated: the state at its version; it never announces by itself. */
function applyQueueUpdated(p) {
  applyLists(p);
  if (!Array.isArray(p.recent_calls)) return;
  recent = p.recent_calls.filter(showsCall).slice(0, RECENT_MAX);
  renderRecent();
  if (Array.isArray(p.now_calling)) setCalling(p.now_calling);
  else if (!busy() && (!nowShown || !recent.some((r) => r.ticket_id === nowShown.ticket_id))) showNow(recent[0] || null, false);
}

/* A thin store event, in order: {version, event, ticket (brief) or null, counter or null}. */
function applyStoreEvent(name, p) {
  applyLists(p);
  const tk = p.ticket;
  if (!tk) return;
  const counter = p.counter != null ? p.counter : tk.counter;
  if (!Array.isArray(p.counters)) renderCounters(patchCounters(counters, tk, counter));

  if (Array.isArray(p.missed)) {
    // the server's list is already shown
  } else if (name === EVENTS.NO_SHOW || tk.status === 'no_show') {
    // Thin events carry no deadline: the number shows until the next full state brings it.
    const m = { ticket_id: tk.id, label: tk.label, lane: tk.lane, counter, until: tk.rejoin_until || null };
    if (showsCall(m) && !missed.some((x) => x.label === m.label)) { missed.unshift(m); renderMissed(); }
  } else if (missed.some((x) => x.label === tk.label)) { // rejoined, called again, cancelled...
    missed = missed.filter((x) => x.label !== tk.label);
    renderMissed();
  }

  if ((name === EVENTS.CALLED || name === EVENTS.RECALLED) && tk.label) {
    const call = callOf(tk, counter);
    if (!showsCall(call)) return;
    seen.add(callKey(call));
    patchCalling(tk, call);
    recent = [Object.assign({}, call, { status: 'called' })].concat(recent.filter((r) => r.ticket_id !== call.ticket_id)).slice(0, RECENT_MAX);
    renderRecent();
    announceOnce(call, name === EVENTS.RECALLED); // a recall is announced again
  } else if (tk.status !== 'called') {
    patchCalling(tk, null); // missed, parked, started, served, cancelled...: off the big panel
    patchRecent(tk);
  }
}

/* An event older than the state shown: nothing to apply, but a call never announced still is. */
function onStale(name, p) {
  const tk = p.ticket;
  if ((name !== EVENTS.CALLED && name !== EVENTS.RECALLED) || !tk || !tk.label) return;
  const call = callOf(tk, p.counter);
  if (!showsCall(call)) return;
  seen.add(callKey(call));
  announceOnce(call, name === EVENTS.RECALLED);
}

tick();
setInterval(tick, 1000);
setInterval(rotateNotice, NOTICE_ROTATE_MS);
window.addEventListener('resize', () => { layoutTicker(); renderCounters(); });
if (window.ResizeObserver) new ResizeObserver(() => clipRecent()).observe($('recent'));
if (document.fonts && document.fonts.ready) document.fonts.ready.then(() => { clipRecent(); layoutTicker(); });
showNow(null, false);

const sub = live({
  auth: { store: config.store, role: 'display' },
  events: STORE_ROOM,
  onStatus: setOnline,
  load: async () => {
    const s = await api(storePath(config.store) + '/snapshot');
    loadSnapshot(s);
    return s.version;
  },
  apply: (name, p) => {
    // The manager changed the store's settings (notices, languages, counters): reload them all.
    if (name === EVENTS.SETTINGS_CHANGED) sub.resync();
    else if (name === EVENTS.QUEUE_UPDATED) applyQueueUpdated(p);
    else applyStoreEvent(name, p);
  },
  stale: onStale,
});
setInterval(() => sub.resync(), 60000); // estimates drift without events; also a safety net
const socket = sub.socket;
if (socket) {
  const lost = () => { if (offlineSince == null) offlineSince = Date.now(); };
  socket.on('disconnect', lost);
  socket.on('connect_error', lost);
  // A refused connection (e.g. while the server restarts) is not retried by socket.io: retry it.
  setInterval(() => { if (!socket.connected && !socket.active) socket.connect(); }, 10000);
}
