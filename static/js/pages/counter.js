/*
 * Counter terminal: sign-in to one counter, this counter's current ticket and parked customers, the
 * actions with F-key shortcuts (F1-F8), dialogs (takeover, complete, transfer, pause, parked), the
 * live waiting list (the tickets this counter may call, in the order F1 calls them, with the reason
 * of the next call), the clerk's figures for today, and issuing a ticket for a customer (VIP).
 *
 * Never a double action: one request at a time (`busy`), held keys are ignored, and the call requests
 * carry a request_id that is reused when the same click is retried after a network failure.
 */
import { api, ApiError, storePath } from '../lib/api.js';
import { pageConfig } from '../lib/config.js';
import { byId as $, h, setText } from '../lib/dom.js';
import { EVENTS } from '../lib/events.js';
import { hasText, laneName, localName, statusName, t } from '../lib/i18n.js';
import { randomKey } from '../lib/ids.js';
import { STORE_ROOM, live } from '../lib/live.js';
import { clock, minutesSince, plannedReturn } from '../lib/time.js';
import { setOnline } from '../ui/offline.js';
import { renderPlan } from '../ui/plan.js';

const config = pageConfig();
const main = document.querySelector('.c-main');
if (main && $('call-next') && config.counter != null) terminal(); // else the counter picker: nothing to run

function terminal() {
  const NUM = Number(config.counter);
  const storeBase = storePath(config.store);
  const counterPath = storeBase + '/counters/' + NUM;
  const DESK = $('desk-name').textContent;
  const MY_LANES = (main.dataset.lanes || '').split(' ').filter(Boolean);
  const COMPLAINT = config.complaint_outcome; // the standard outcome that opens a case (the server's code)
  const KEYS = { F1: 'call-next', F2: 'recall', F3: 'start', F4: 'complete', F5: 'no-show', F6: 'transfer', F7: 'pause', F8: 'park' };
  const TIMEOUT_MS = 10000;

  const S = {
    signedIn: false,
    me: null,          // this clerk's name as the server writes it (from our own sign-in)
    clerk: null,       // who holds the counter now
    paused: false,
    pauseReason: null,
    backAt: null,      // the pause's planned return (ISO), shown while still to come
    pauseLengths: [],
    current: null,     // StaffTicket (or TicketBrief) called/serving at this counter
    parked: [],
    stats: null,
    outcomes: [],
    pauseReasons: [],
    recallLimit: null,
    waiting: [],       // whole store, in the order the store will call them
    queue: null,       // this counter's counter_queues entry: {counter, next: {ticket_id, reason}, queue: [ids]}
    queued: new Set(), // the waiting ids the last counter_queues knew of
    fresh: new Set(),  // tickets issued since then: placed by lane until the next counter_queues
    counters: [],      // the store's counters as the snapshot has them (status open / paused / closed)
    lanes: null,
    services: {},      // code -> Service
    busy: false,
    modal: null,       // the open dialog, if any
  };

  // Every service's name (VIP too, which the public snapshot leaves out), from the page's own list.
  document.querySelectorAll('#issue-service option').forEach((o) => {
    S.services[o.value] = { code: o.value, name: o.dataset.name || o.textContent, lane: o.dataset.lane };
  });

  /* ---------------------------------------------------------------- helpers */

  const is = (tk, ...states) => !!tk && states.includes(tk.status);
  const active = (tk) => (is(tk, 'called', 'serving') ? tk : null);
  const serviceName = (tk) => tk.service_name || (S.services[tk.service] ? localName(S.services[tk.service]) : tk.service);
  /* Appointment tickets: the "预约 Appointment" mark and the booked slot time (due_at, when known). */
  const isAppointment = (tk) => !!tk && (tk.lane === 'appointment' || tk.channel === 'appointment');
  const apptText = (tk) => {
    const at = tk && tk.due_at ? clock(tk.due_at) : '';
    return laneName('appointment') + (at ? ' ' + at : '');
  };
  const reasonName = (code) => ((S.pauseReasons.find((r) => r.code === code) || {}).name || code || '');

  const uuid = () => randomKey();

  /* api() with a time limit: a hung request must never leave the terminal locked. */
  function call(path, body, options) {
    let timer;
    const limit = new Promise((resolve, reject) => {
      timer = setTimeout(() => reject(new ApiError(t('network_error'), 0, 'timeout')), TIMEOUT_MS);
    });
    return Promise.race([api(path, body, options), limit]).finally(() => clearTimeout(timer));
  }
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
  const retriable = (err) => !err.status || err.status >= 500;

  /*
   * request_id per click. A click is identified by what it asks (`key`) and the state it was made
   * in (the current ticket). Pressing again after a failed attempt is the same click: same id, so
   * the server answers it again instead of calling a second customer. Any answer ends the click.
   */
  let pendingClick = null;
  function requestId(key) {
    const k = key + '|' + (S.current ? S.current.id : '');
    if (!pendingClick || pendingClick.k !== k) pendingClick = { k, id: uuid() };
    return pendingClick.id;
  }

  function say(text, kind) {
    const m = $('message');
    m.textContent = text || '';
    m.className = kind || '';
  }

  /* ---------------------------------------------------------------- rendering */

  /* Whether the server allows action `code` on tk (its allowed_actions); `otherwise` when it did not say. */
  function allows(tk, code, otherwise) {
    return tk && Array.isArray(tk.allowed_actions) ? tk.allowed_actions.includes(code) : otherwise;
  }
  const resumable = () => S.parked.filter((tk) => allows(tk, 'resume', true));

  function legal(action) {
    const cur = S.current;
    if (!S.signedIn) return false;
    switch (action) {
      case 'call-next': return !S.paused; // with a ticket still open the server completes it and says so
      case 'recall': return allows(cur, 'recall', is(cur, 'called'));
      case 'start': return allows(cur, 'start', is(cur, 'called'));
      case 'no-show': return allows(cur, 'no_show', is(cur, 'called'));
      case 'complete': return allows(cur, 'complete', is(cur, 'called', 'serving'));
      case 'transfer': return allows(cur, 'transfer', is(cur, 'called', 'serving'));
      case 'park': return cur ? allows(cur, 'park', is(cur, 'serving')) : resumable().length > 0;
      case 'pause': return true;
      default: return false;
    }
  }

  /* Why a key does nothing now (shown instead of silence). */
  function whyNot(action) {
    if (!S.signedIn) return t('hint_sign_in');
    if (action === 'call-next' && S.paused) return t('hint_paused');
    if (!S.current) return t('hint_no_ticket');
    return t('hint_not_now', { label: S.current.label, status: statusName(S.current.status) });
  }

  const recallText = (n) => (n === 1 ? t('recall_once') : t('recall_count', { n }));

  const suggestNoShow = () => is(S.current, 'called') && S.recallLimit != null &&
    S.current.recall_count >= S.recallLimit;

  function renderButtons() {
    document.querySelectorAll('[data-action]').forEach((b) => {
      b.disabled = S.busy || !legal(b.dataset.action);
    });
    $('sign-out').disabled = S.busy || !S.signedIn;
    $('sign-in').disabled = S.busy;
    main.classList.toggle('is-busy', S.busy);
    // F8 says what it will do
    const park = $('park').querySelector('.b-label');
    const parked = resumable();
    if (S.current || !parked.length) park.textContent = t('park');
    else park.textContent = parked.length === 1 ? t('resume_one', { label: parked[0].label }) : t('resume_many');
    $('pause').querySelector('.b-label').textContent = S.paused ? t('unpause') : t('pause');
    $('pause').classList.toggle('is-paused', S.paused);
    // at the recall limit the terminal suggests a no-show
    const suggest = suggestNoShow();
    $('no-show').classList.toggle('suggest', suggest);
    $('recall-hint').hidden = !suggest;
    if (suggest) setText('recall-hint', t('recall_hint', { n: S.current.recall_count }));
    renderParked();
    renderWaiting();
  }

  function renderState() {
    const banner = $('signin-banner');
    banner.hidden = S.signedIn;
    if (!S.signedIn) {
      setText('signin-text', S.clerk && S.clerk !== S.me
        ? t('taken_over', { clerk: S.clerk }) : t('not_signed_in'));
    }
    const pill = $('desk-state');
    pill.hidden = !S.paused;
    $('paused-banner').hidden = !S.paused;
    if (S.paused) {
      const reason = reasonName(S.pauseReason) || t('paused');
      const back = plannedReturn(S.backAt);
      const pillText = t('paused_pill', { reason });
      setText(pill, back ? pillText + ' · ' + t('back_around', { time: clock(back) }) : pillText);
      setText('paused-banner', t('paused_banner', { reason }));
      if (back) scheduleReturnRender(back);
    }
    main.classList.toggle('is-paused', S.paused);
    main.classList.toggle('is-signed-out', !S.signedIn);
  }

  function renderCurrent() {
    const tk = S.current;
    const label = $('current-label');
    label.textContent = tk ? tk.label : '—';
    label.classList.toggle('empty', !tk);
    main.querySelector('.c-ticket').classList.toggle('is-appointment', isAppointment(tk));
    if (!tk) renderAppointment(null, $('current-lane'));
    $('current-idle').hidden = !!tk;
    $('current-info').hidden = !tk;
    $('current-extra').hidden = !tk;
    const customer = tk && tk.customer;
    $('current-customer').hidden = !customer;
    $('current-note').hidden = !(tk && tk.note);
    $('recall-count').hidden = !(tk && tk.recall_count > 0);
    $('current-care').hidden = !(tk && tk.priority_care);
    renderPlan($('current-plan'), tk ? tk.plan : []);
    if (tk) {
      setText('current-service', serviceName(tk));
      const lane = $('current-lane');
      lane.textContent = laneName(tk.lane);
      lane.className = 'lane-badge lane-' + tk.lane;
      renderAppointment(tk, lane);
      const status = $('current-status');
      status.textContent = statusName(tk.status);
      status.dataset.status = tk.status;
      const m = tk.waited_minutes != null ? tk.waited_minutes : minutesSince(tk.issued_at);
      setText('current-waited', m == null ? '' : t('waited', { n: m }));
      if (tk.recall_count > 0) setText('recall-count', recallText(tk.recall_count));
      if (tk.note) setText('current-note', t('note', { note: tk.note }));
      if (customer) {
        setText('current-customer', t('customer', { name: customer.name_masked || '', phone: customer.phone_masked || '' }).trim());
      }
    }
  }

  /* The lane badge of an appointment reads "预约 10:00"; a transferred appointment keeps its lane
     badge and gets a separate appointment badge. */
  function renderAppointment(tk, lane) {
    let extra = $('current-appt');
    if (!extra) {
      extra = h('span', { id: 'current-appt', class: 'lane-badge lane-appointment c-appt', hidden: true });
      lane.after(' ', extra);
    }
    const appt = isAppointment(tk);
    if (appt && tk.lane === 'appointment') lane.textContent = apptText(tk);
    extra.hidden = !appt || tk.lane === 'appointment';
    if (!extra.hidden) extra.textContent = apptText(tk);
  }

  function renderStats() {
    const st = S.stats;
    setText('stats-served', st ? st.served : '—');
    setText('stats-no-shows', st ? st.no_shows : '—');
    const avg = st && st.avg_service_minutes;
    setText('stats-avg', avg == null ? '—' : t('minutes_avg', { n: Math.round(avg * 10) / 10 }));
    // The customers' ratings of this clerk's own visits: anonymous (the day only, no ticket).
    const mean = st && st.mean_stars;
    setText('stats-ratings', !st ? '—' : mean == null ? t('ratings_none')
      : t('ratings_today', { mean: Math.round(mean * 10) / 10, n: st.ratings }));
    const comments = (st && st.comments) || [];
    $('stats-comments').replaceChildren(...comments.map((c) => h('li', { class: 'c-comment' },
      h('span', { class: 'c-comment-head', text: t('comment_line', { day: c.day, stars: c.stars }) }),
      h('span', { class: 'c-comment-text', text: c.comment }))));
    $('stats-comments-empty').hidden = comments.length > 0;
  }

  /* Re-rendering a list must not steal the keyboard focus from a row button. */
  function keepFocus(container, build) {
    const f = document.activeElement;
    const key = f && container.contains(f) ? f.getAttribute('data-focus') : null;
    build();
    if (key) {
      const again = container.querySelector('[data-focus="' + key + '"]');
      if (again && !again.disabled) again.focus();
      else $('current-panel').focus();
    }
  }

  function renderParked() {
    const list = $('parked-list');
    const canResume = S.signedIn && !S.busy && !S.current;
    keepFocus(list, () => list.replaceChildren(...S.parked.map((tk) => h('li', { 'data-label': tk.label, 'data-id': tk.id },
      h('span', { class: 'w-label', text: tk.label }),
      h('span', { class: 'w-info' },
        h('span', { class: 'w-service', text: serviceName(tk) }),
        tk.note ? h('span', { class: 'w-note', text: tk.note }) : null),
      h('button', {
        type: 'button', class: 'btn btn-small', 'data-resume': tk.id, 'data-focus': 'r' + tk.id,
        'aria-label': t('resume_label', { label: tk.label }), disabled: !canResume, text: t('resume'),
      })))));
    setText('parked-count', S.parked.length || '');
    $('parked-empty').hidden = S.parked.length > 0;
  }

  /* The reason code of a next call (best_ratio, fast_lane_head, helping_standard_lane...) as a short text. */
  function reasonText(code) {
    if (!code) return '';
    let m = /^(\w+?)_lane_head$/.exec(code);
    if (m) return t('reason_lane_head', { lane: laneName(m[1]) });
    m = /^helping_(\w+?)_lane$/.exec(code);
    if (m) return t('reason_helping', { lane: laneName(m[1]) });
    return hasText('reason_' + code) ? t('reason_' + code) : '';
  }

  /* One waiting customer; the next call (isNext) says why it is next. */
  function waitingRow(tk, canCall, isNext, why) {
    const m = minutesSince(tk.issued_at);
    const appt = isAppointment(tk);
    const reason = isNext ? why : '';
    const cls = [appt ? 'is-appointment' : '', isNext ? 'is-next' : ''].join(' ').trim() || null;
    return h('li', { 'data-label': tk.label, 'data-id': tk.id, class: cls },
      h('span', { class: 'w-label', text: tk.label }),
      h('span', { class: 'w-main' },
        h('span', { class: 'w-service', text: serviceName(tk) }),
        tk.target_counter != null ? h('span', { class: 'w-target', text: t('to_counter', { n: tk.target_counter }) }) : null,
        reason ? h('span', { class: 'w-reason', text: t('next_call', { reason }) }) : null),
      tk.lane === 'appointment' ? h('span', { class: 'lane-badge lane-appointment', text: apptText(tk) })
        : h('span', { class: 'lane-badge lane-' + tk.lane, text: laneName(tk.lane) }),
      h('span', { class: 'w-time' + (m >= 20 ? ' long' : ''), text: m == null ? '' : t('minutes', { n: m }) }),
      h('button', {
        type: 'button', class: 'btn btn-small', 'data-call': tk.id, 'data-focus': 'c' + tk.id,
        'aria-label': t('call_label', { label: tk.label }), disabled: !canCall, text: t('call'),
      }));
  }

  function renderWaiting() {
    const box = $('waiting-list');
    // calling a particular customer: only with a free counter, so nothing is completed implicitly
    const canCall = S.signedIn && !S.busy && !S.paused && !S.current;
    const { mine, others } = waitingLists();
    const next = S.queue && S.queue.next && S.queue.next.ticket_id != null ? S.queue.next : null;
    const row = (tk) => waitingRow(tk, canCall, !!next && next.ticket_id === tk.id, next ? reasonText(next.reason) : '');
    const group = (cls, title, list, empty) => h('section', { class: 'w-group ' + cls },
      h('h3', { text: title + ' · ' + list.length }),
      list.length ? h('ol', null, ...list.map(row)) : h('p', { class: 'c-empty', text: empty }));
    const groups = [];
    const shown = mine.length + others.length;
    if (shown) groups.push(group('w-mine', t('mine'), mine, t('mine_empty')));
    if (others.length) groups.push(group('w-others', t('others'), others));
    keepFocus(box, () => box.replaceChildren(...groups));
    setText('waiting-count', shown);
    $('waiting-empty').hidden = shown > 0;
  }

  /*
   * Mine: the tickets this counter may call (its counter_queues list), in the order F1 calls them;
   * a ticket issued since that list came is placed by lane at the end until the next one. Others:
   * the rest, except tickets sent to another counter (they are that counter's alone).
   */
  function waitingLists() {
    const byId = new Map(S.waiting.map((tk) => [tk.id, tk]));
    const elsewhere = (tk) => tk.target_counter != null && Number(tk.target_counter) !== NUM;
    if (!S.queue || !Array.isArray(S.queue.queue)) { // a server without counter_queues: by lane
      const byLane = S.waiting.filter((tk) => !elsewhere(tk) && (MY_LANES.includes(tk.lane) || Number(tk.target_counter) === NUM));
      return { mine: byLane, others: S.waiting.filter((tk) => !byLane.includes(tk) && !elsewhere(tk)) };
    }
    const mine = S.queue.queue.map((id) => byId.get(id)).filter(Boolean);
    S.waiting.forEach((tk) => {
      if (S.fresh.has(tk.id) && !mine.includes(tk) && MY_LANES.includes(tk.lane)) mine.push(tk);
    });
    // A ticket that came back to the queue some other way (a transfer...) waits for the next list,
    // so a sending counter never shows it as its own, even for a moment.
    const known = (tk) => S.queued.has(tk.id) || S.fresh.has(tk.id);
    const others = S.waiting.filter((tk) => !mine.includes(tk) && !elsewhere(tk) && known(tk));
    return { mine, others };
  }

  function renderLanes() {
    if (!S.lanes) return;
    $('lanes').replaceChildren(...S.lanes.map((l) => h('span', {
      class: MY_LANES.includes(l.lane) ? 'mine' : null,
      text: t('lane_count', { lane: laneName(l.lane), n: l.waiting }),
    })));
  }

  function render() {
    renderState();
    renderCurrent();
    renderStats();
    renderLanes();
    renderButtons(); // also the parked and waiting lists (their buttons depend on the same state)
  }

  /* ---------------------------------------------------------------- state from the server */

  // Draw again when the shown return time is reached: past it, the pill says only "paused".
  let returnTimer = null;
  function scheduleReturnRender(back) {
    clearTimeout(returnTimer);
    returnTimer = setTimeout(render, Math.max(back.getTime() - Date.now(), 0) + 50);
  }

  function applyDetail(d) {
    if (!d || !d.counter) return;
    const c = d.counter;
    S.clerk = c.clerk || null;
    if (S.me != null) S.signedIn = S.clerk === S.me;
    S.paused = c.status === 'paused';
    S.pauseReason = c.pause_reason || null;
    S.backAt = c.back_at || null;
    S.current = active(d.current) || active(c.current) || null;
    S.parked = d.parked || [];
    S.stats = d.stats || null;
    S.outcomes = d.outcomes || [];
    S.pauseReasons = d.pause_reasons || [];
    S.pauseLengths = Array.isArray(d.pause_lengths) ? d.pause_lengths : [];
    S.recallLimit = typeof d.recall_limit === 'number' ? d.recall_limit : null;
  }

  /* CounterDetail refetch: coalesced, and an answer older than the newest known state is dropped. */
  let detailSeq = 0;
  let detailShown = 0;
  let detailTimer = null;
  function refreshDetail(delay) {
    clearTimeout(detailTimer);
    detailTimer = setTimeout(async () => {
      const seq = ++detailSeq;
      try {
        const d = await call(counterPath);
        if (seq <= detailShown) return;
        detailShown = seq;
        applyDetail(d);
        render();
      } catch { /* the next event or reconnect refetches */ }
    }, delay || 0);
  }
  /* Our own action just changed the state: answers to earlier refetches are stale now. */
  function invalidateDetail() { detailShown = ++detailSeq; }

  function upsertWaiting(tk) {
    if (!tk) return;
    const i = S.waiting.findIndex((w) => w.id === tk.id);
    if (tk.status !== 'waiting') {
      if (i >= 0) S.waiting.splice(i, 1);
    } else if (i >= 0) {
      S.waiting[i] = Object.assign({}, S.waiting[i], tk); // a brief has no target_counter: keep it
    } else {
      S.waiting.push(tk);
    }
  }

  /* ---------------------------------------------------------------- requests */

  /*
   * One request at a time. `fn` performs it; on failure the server's message is shown.
   * Returns fn's result, or undefined when busy or failed.
   */
  async function run(fn) {
    if (S.busy) return undefined;
    S.busy = true;
    renderButtons();
    try {
      return await fn();
    } catch (err) {
      say(err.message + (err.retryHint ? ' ' + t('hint_retry') : ''), 'error');
      if (err.code === 'not_signed_in') S.signedIn = false;
      if (err.status === 409 || err.status === 404) refreshDetail(); // our view was stale
      return undefined;
    } finally {
      S.busy = false;
      render();
    }
  }

  /* POST with a request_id: retried automatically on a network failure with the same id. */
  async function callWithId(key, path, extra) {
    const id = requestId(key);
    let lastErr;
    for (const wait of [0, 700, 2000]) {
      if (wait) await sleep(wait);
      try {
        const res = await call(path, Object.assign({ request_id: id }, extra));
        pendingClick = null;
        return res;
      } catch (err) {
        lastErr = err;
        if (!retriable(err)) { pendingClick = null; throw err; }
      }
    }
    lastErr.retryHint = true; // the id is kept: pressing again is the same click
    throw lastErr;
  }

  function afterTicket(tk) {
    invalidateDetail();
    upsertWaiting(tk);
    if (tk && (tk.counter == null || Number(tk.counter) === NUM) && active(tk)) {
      // keep the richer fields (service_name, note, customer) of the same ticket, not its old allowed actions
      S.current = Object.assign({}, S.current && S.current.id === tk.id ? S.current : {}, tk);
      if (!('allowed_actions' in tk)) delete S.current.allowed_actions;
    } else if (tk && S.current && S.current.id === tk.id) {
      S.current = null;
    }
    if (tk && tk.status === 'parked' && !S.parked.some((p) => p.id === tk.id)) S.parked = S.parked.concat([tk]);
    if (tk && tk.status === 'serving') S.parked = S.parked.filter((p) => p.id !== tk.id);
    refreshDetail(50);
  }

  const ACTIONS = {
    'call-next': async () => {
      let stillCalled = null;
      await run(async () => {
        let res;
        try {
          res = await callWithId('call-next', counterPath + '/call-next');
        } catch (err) {
          // The customer at the counter was only called (perhaps still walking over): never
          // counted as served by calling the next one. The clerk says what happened instead.
          if (err.code !== 'still_called') throw err;
          stillCalled = err;
          return;
        }
        afterTicket(res.ticket);
        if (!res.ticket && res.completed) S.current = null; // nobody waiting, but the open visit was ended
        say(res.message || '', res.ticket ? 'ok' : 'info');
      });
      if (stillCalled) await askStillCalled(stillCalled);
    },

    recall: () => ticketAction('recall'),
    start: () => ticketAction('start'),
    'no-show': () => ticketAction('no-show'),

    complete: async () => {
      const tk = S.current;
      // The ticket's own list (the standard outcomes, then its service's codes).
      const own = tk.outcomes && tk.outcomes.length ? tk.outcomes : S.outcomes;
      const choices = own.length ? own : [{ code: 'done', name: t('status_done') }];
      const outcome = await choose($('complete-dialog'), 'outcome', choices, 'done',
        t('complete_title', { label: tk.label }));
      if (outcome == null) return;
      if (outcome !== COMPLAINT) { await ticketAction('complete', { outcome }, tk); return; }
      // A complaint becomes a case: its details are asked, then sent with the completion; a
      // refused detail (a wrong number) asks again with the server's reason, nothing is done.
      let given = null;
      let refused = null;
      for (;;) {
        given = await caseDialog(tk, given, refused);
        if (!given) return;
        refused = null;
        await ticketAction('complete', { outcome, case: given }, tk, (err) => {
          if (err.status !== 400) return false;
          refused = err.message;
          return true;
        }, (res) => {
          const c = res.case;
          if (!c) return t('done_ok', { label: res.label, status: statusName(res.status) });
          const promised = c.promised_by ? ' ' + t('case_promised', { date: c.promised_by }) : '';
          return t('case_opened', { label: res.label, number: c.number }) + promised;
        });
        if (!refused) return;
      }
    },

    transfer: async () => {
      const tk = S.current;
      let body = null;
      let refused = null;
      for (;;) {
        body = await transferDialog(tk, body, refused);
        if (!body) return;
        refused = null;
        await ticketAction('transfer', body, tk, (err) => {
          if (err.code !== 'counter_cannot_serve') return false;
          refused = err.message; // asked again, with the server's reason
          return true;
        });
        if (!refused) return;
      }
    },

    park: async () => {
      if (S.current) return ticketAction('park');
      const parked = resumable();
      let id = parked.length === 1 ? parked[0].id : null;
      if (id == null) {
        id = await choose($('parked-dialog'), 'ticket',
          parked.map((p) => ({ code: p.id, name: p.label + ' · ' + serviceName(p) })), null);
        if (id == null) return undefined;
      }
      return resumeParked(id);
    },

    pause: async () => {
      if (S.paused) {
        return run(async () => {
          invalidateDetail();
          applyDetail(await call(counterPath + '/resume', {}));
          say(t('resumed_ok'), 'ok');
        });
      }
      const reasons = S.pauseReasons.length ? S.pauseReasons : [{ code: 'other', name: t('paused') }];
      const reason = await choose($('pause-dialog'), 'reason', reasons, reasons[0].code);
      if (reason == null) return undefined;
      // How long: the store's usual lengths (from the server) and "not sure" (no return shown).
      const lengths = S.pauseLengths.map((n) => ({ code: String(n), name: t('minutes_n', { n }) }));
      const length = lengths.length
        ? await choose($('pause-length-dialog'), 'minutes', [...lengths, { code: 'unsure', name: t('not_sure') }], lengths[0].code)
        : 'unsure';
      if (length == null) return undefined;
      const body = length === 'unsure' ? { reason } : { reason, minutes: Number(length) };
      return run(async () => {
        invalidateDetail();
        applyDetail(await call(counterPath + '/pause', body));
        say(t('paused_ok'), 'info');
      });
    },
  };

  /* onError(err): true when the caller handles the error itself (nothing is said here);
     saying(res): the message of a success, when the caller words it. */
  function ticketAction(action, body, ticket, onError, saying) {
    const tk = ticket || S.current;
    if (!tk) return undefined;
    return run(async () => {
      let res;
      try {
        res = await call('/tickets/' + tk.id + '/' + action, body || {});
      } catch (err) {
        if (onError && onError(err)) return;
        throw err;
      }
      afterTicket(res);
      if (saying) say(saying(res), 'ok');
      else if (action === 'recall') say(t('done_ok', { label: res.label, status: recallText(res.recall_count) }), 'ok');
      else if (action === 'park') say(t('parked_ok', { label: res.label }), 'ok');
      else if (action === 'transfer') say(t('transferred_ok', { label: res.label }), 'ok');
      else if (action === 'complete' && res.status === 'waiting') say(t('next_part_ok', { label: res.label, service: res.service_name }), 'ok');
      else say(t('done_ok', { label: res.label, status: statusName(res.status) }), 'ok');
    });
  }

  function resumeParked(id) {
    return run(async () => {
      const res = await call('/tickets/' + id + '/resume', { counter: NUM });
      afterTicket(res);
      say(t('done_ok', { label: res.label, status: statusName(res.status) }), 'ok');
    });
  }

  function callTicket(id) {
    return run(async () => {
      const res = await callWithId('call:' + id, '/tickets/' + id + '/call', { counter: NUM });
      // the server answers like call-next ({ticket, message, completed}); a bare ticket is accepted too
      const tk = res && 'ticket' in res ? res.ticket : res;
      afterTicket(tk);
      say((res && res.message) || t('called_ok', { label: tk.label }), 'ok');
    });
  }

  /* Sign in; a counter held by someone else asks first. */
  async function signIn() {
    let takeover = false;
    for (;;) {
      let holder = null;
      const ok = await run(async () => {
        try {
          const d = await call(counterPath + '/sign-in', { takeover });
          invalidateDetail();
          S.me = d.counter.clerk || main.dataset.me;
          S.signedIn = true;
          applyDetail(d);
          say(t('signed_in', { counter: DESK }), 'ok');
          return true;
        } catch (err) {
          if (err.code !== 'counter_taken' || takeover) throw err;
          holder = err.data.clerk || t('other_clerk');
          S.clerk = holder;
          say(err.message, 'info');
          return false;
        }
      });
      if (ok || holder == null) return;
      if (!(await confirmTakeover(holder))) { $('sign-in').focus(); return; }
      takeover = true;
    }
  }

  function signOut() {
    return run(async () => {
      await call(counterPath + '/sign-out', {});
      location.href = main.dataset.pickerUrl;
    });
  }

  /* ---------------------------------------------------------------- dialogs */

  /* Opens a modal dialog; `setup(done)` wires it; resolves with the value passed to done (null = cancel). */
  function modal(dialog, setup, focusEl) {
    return new Promise((resolve) => {
      let finished = false;
      const cleanups = [];
      const on = (el, ev, fn) => { el.addEventListener(ev, fn); cleanups.push(() => el.removeEventListener(ev, fn)); };
      const done = (value) => {
        if (finished) return;
        finished = true;
        cleanups.forEach((c) => c());
        if (dialog.open) dialog.close();
        S.modal = null;
        $('current-panel').focus({ preventScroll: true });
        resolve(value);
      };
      on(dialog, 'cancel', (e) => { e.preventDefault(); done(null); });
      dialog.querySelectorAll('[data-cancel]').forEach((b) => on(b, 'click', () => done(null)));
      setup(done, on);
      S.modal = dialog;
      dialog.showModal();
      if (focusEl) focusEl.focus();
    });
  }

  /* A list of choices: arrows or number keys move, Enter (or a click) confirms. */
  function choose(dialog, attr, items, preferred, title) {
    if (title) setText(dialog.querySelector('h2'), title);
    const box = dialog.querySelector('.c-choices');
    const buttons = items.map((it, i) => h('button', { type: 'button', class: 'c-choice', ['data-' + attr]: it.code },
      i < 9 ? h('kbd', { text: String(i + 1) }) : null, h('span', { text: it.name })));
    box.replaceChildren(...buttons);
    const start = Math.max(0, items.findIndex((it) => it.code === preferred));
    return modal(dialog, (done, on) => {
      buttons.forEach((b, i) => on(b, 'click', () => done(items[i].code)));
      on(dialog, 'keydown', (e) => {
        const i = buttons.indexOf(document.activeElement);
        let next = null;
        if (e.key === 'ArrowDown' || e.key === 'ArrowRight') next = (i + 1) % buttons.length;
        else if (e.key === 'ArrowUp' || e.key === 'ArrowLeft') next = (i - 1 + buttons.length) % buttons.length;
        else if (e.key === 'Home') next = 0;
        else if (e.key === 'End') next = buttons.length - 1;
        else if (/^[1-9]$/.test(e.key) && Number(e.key) <= buttons.length) next = Number(e.key) - 1;
        if (next != null) { e.preventDefault(); buttons[next].focus(); }
      });
    }, buttons[start]);
  }

  function confirmTakeover(clerk) {
    setText('takeover-text', t('takeover_q', { counter: DESK, clerk }));
    return modal($('takeover-dialog'), (done, on) => {
      on($('takeover-yes'), 'click', () => done(true));
    }, $('takeover-yes')).then((v) => v === true);
  }

  /*
   * F1 answered "still called": the customer at this counter was called but not served. Mark them
   * missed (F5), call again (F2) or start serving (F3); the same keys work in the dialog.
   */
  async function askStillCalled(err) {
    const id = err.data && err.data.ticket;
    if (id != null && (!S.current || S.current.id !== id)) {
      try { applyDetail(await call(counterPath)); } catch { /* shown with what we have */ }
      render();
    }
    const tk = S.current;
    if (!tk || !is(tk, 'called')) { say(err.message, 'info'); return; }
    const dialog = $('called-dialog');
    setText('called-text', err.message);
    const choices = [
      { code: 'no-show', key: 'F5', name: t('called_no_show') },
      { code: 'recall', key: 'F2', name: t('called_recall') },
      { code: 'start', key: 'F3', name: t('called_start') },
    ].filter((c) => legal(c.code));
    const keyed = (e) => {
      const hit = choices.find((c) => c.key === e.key);
      if (hit) dialog.querySelector('[data-choice="' + hit.code + '"]').click();
    };
    dialog.addEventListener('keydown', keyed);
    const action = await choose(dialog, 'choice', choices, 'no-show', t('called_title', { label: tk.label }))
      .finally(() => dialog.removeEventListener('keydown', keyed));
    if (action && legal(action)) await ACTIONS[action]();
  }

  /* The counters a transfer may go to: those whose profile serves the (new) service's lane, each
     marked when nobody is signed in there or it is paused (the snapshot's counters). */
  function laneOf(code) {
    const opt = [...$('transfer-service').options].find((o) => o.value === code);
    return (opt && opt.dataset.lane) || (S.services[code] && S.services[code].lane) || null;
  }
  function fitCounters(tk) {
    const counter = $('transfer-counter');
    const chosen = $('transfer-service').value;
    const lanes = chosen ? [laneOf(chosen)] : [tk.lane, laneOf(tk.service)];
    [...counter.options].forEach((o) => {
      if (!o.value) return;
      const serves = (o.dataset.lanes || '').split(' ').some((l) => l && lanes.includes(l));
      const now = S.counters.find((c) => Number(c.number) === Number(o.value));
      const state = now && now.status === 'closed' ? t('counter_not_open') : now && now.status === 'paused' ? t('counter_paused') : '';
      o.hidden = !serves;
      o.disabled = !serves;
      o.textContent = (o.dataset.name || o.textContent) + (state ? ' · ' + state : '');
      o.dataset.status = now ? now.status : '';
    });
    if (counter.selectedOptions[0] && counter.selectedOptions[0].disabled) counter.value = '';
  }

  function transferDialog(tk, previous, refused) {
    const dialog = $('transfer-dialog');
    const service = $('transfer-service');
    const counter = $('transfer-counter');
    const note = $('transfer-note');
    const error = $('transfer-error');
    setText('transfer-title', t('transfer_title', { label: tk.label }));
    service.value = (previous && previous.service) || '';
    note.value = (previous && previous.note) || '';
    [...service.options].forEach((o) => { o.disabled = !!o.value && o.value === tk.service; });
    fitCounters(tk);
    counter.value = previous && previous.counter != null ? String(previous.counter) : '';
    fitCounters(tk);
    setText(error, refused || '');
    error.hidden = !refused;
    return modal(dialog, (done, on) => {
      on(service, 'change', () => fitCounters(tk));
      const confirm = () => {
        if (!service.value && !counter.value) {
          setText(error, t('transfer_need'));
          error.hidden = false;
          service.focus();
          return;
        }
        const body = {};
        if (service.value) body.service = service.value;
        if (counter.value) body.counter = Number(counter.value);
        if (note.value.trim()) body.note = note.value.trim();
        done(body);
      };
      on($('transfer-form'), 'submit', (e) => { e.preventDefault(); confirm(); });
      on(dialog, 'keydown', (e) => {
        // Enter confirms from the selects too (a closed <select> ignores it); buttons keep their own
        if (e.key === 'Enter' && !e.repeat && e.target.tagName === 'SELECT') { e.preventDefault(); confirm(); }
      });
    }, service);
  }

  /* The complaint's case: category, the issue, and the customer's consent to be contacted (the
     phone asked only then). Resolves with the complete command's `case` body, or null. */
  function caseDialog(tk, previous, refused) {
    const dialog = $('case-dialog');
    const category = $('case-category');
    const text = $('case-description');
    const consent = $('case-consent');
    const phone = $('case-phone');
    const error = $('case-error');
    setText('case-title', t('case_title', { label: tk.label }));
    category.value = (previous && previous.category) || category.options[0].value;
    text.value = (previous && previous.description) || '';
    consent.checked = !!(previous && previous.consent);
    phone.value = (previous && previous.phone) || '';
    const showPhone = () => { $('case-phone-box').hidden = !consent.checked; };
    showPhone();
    const fail = (message, field) => {
      setText(error, message);
      error.hidden = !message;
      if (field) field.focus();
    };
    fail(refused || '');
    return modal(dialog, (done, on) => {
      on(consent, 'change', showPhone);
      on(phone, 'input', () => fail(''));
      on(text, 'input', () => fail(''));
      on($('case-form'), 'submit', (e) => {
        e.preventDefault();
        if (!text.value.trim()) { fail(t('case_need_text'), text); return; }
        if (consent.checked && !phone.value.trim()) { fail(t('case_need_phone'), phone); return; }
        const body = { category: category.value, description: text.value.trim(), consent: consent.checked };
        if (consent.checked) body.phone = phone.value.trim();
        done(body);
      });
    }, refused ? (consent.checked ? phone : text) : category);
  }

  /* ---------------------------------------------------------------- input */

  function trigger(action, fromKey) {
    if (S.busy || S.modal) return;
    if (!legal(action)) {
      if (fromKey) say(whyNot(action), 'info');
      return;
    }
    ACTIONS[action]();
  }

  document.querySelectorAll('[data-action]').forEach((b) => b.addEventListener('click', () => trigger(b.dataset.action)));
  $('sign-in').addEventListener('click', () => signIn());
  $('sign-out').addEventListener('click', () => signOut());
  $('waiting-list').addEventListener('click', (e) => {
    const b = e.target.closest('[data-call]');
    if (b && !b.disabled && !S.modal) callTicket(Number(b.dataset.call));
  });
  /* Issue a ticket for a customer (VIP is issued by staff only): the label is shown, to tell them.
     Independent of the counter's own actions; one issue at a time, retried with the same key. */
  let issuing = false;
  $('issue-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    const service = $('issue-service').value;
    if (!service || issuing) return;
    issuing = true;
    $('issue-ticket').disabled = true;
    const result = $('issue-result');
    result.className = 'c-issue-result';
    setText(result, '');
    const key = randomKey();
    try {
      let tk = null;
      for (const wait of [0, 700, 2000]) {
        if (wait) await sleep(wait);
        try {
          tk = await call(storeBase + '/tickets', { service, channel: 'staff' }, { headers: { 'Idempotency-Key': key } });
          break;
        } catch (err) {
          if (!retriable(err) || wait === 2000) throw err;
        }
      }
      setText(result, t('issued_ok', { label: tk.label }));
      result.classList.add('ok');
      S.fresh.add(tk.id);
      upsertWaiting(tk);
      render();
    } catch (err) {
      setText(result, err.message);
      result.classList.add('error');
    } finally {
      issuing = false;
      $('issue-ticket').disabled = false;
    }
  });

  $('parked-list').addEventListener('click', (e) => {
    const b = e.target.closest('[data-resume]');
    if (b && !b.disabled && !S.modal) resumeParked(Number(b.dataset.resume));
  });

  document.addEventListener('keydown', (e) => {
    // a held Enter/Space must not press the next focused button again
    if (e.repeat && (e.key === 'Enter' || e.key === ' ')) { e.preventDefault(); return; }
    const action = KEYS[e.key];
    if (!action) return;
    e.preventDefault(); // F1 help, F3 find, F5 reload, F6 address bar, F7 caret browsing
    if (e.repeat || e.ctrlKey || e.altKey || e.metaKey || e.shiftKey) return;
    trigger(action, true);
  }, true);

  /* ---------------------------------------------------------------- live */

  /* A thin store event: {version, event, ticket (brief) or null, counter or null} (an older server
     also sends lanes). The detail of this counter is refetched when the event concerns it. */
  function applyStoreEvent(name, p) {
    if (p.ticket && name === EVENTS.ISSUED) S.fresh.add(p.ticket.id);
    if (p.ticket) upsertWaiting(p.ticket);
    if (Array.isArray(p.lanes)) S.lanes = p.lanes;
    const mine = p.counter != null ? Number(p.counter) === NUM : name === EVENTS.COUNTER_CHANGED;
    if (mine || (p.ticket && Number(p.ticket.counter) === NUM) ||
        (p.ticket && [S.current, ...S.parked].some((x) => x && x.id === p.ticket.id))) {
      refreshDetail(30);
    }
    render();
  }

  /* queue_updated: the waiting list, lanes and counters at its version. */
  /* The waiting list (in call order), this counter's queue and the counters, from a full state. */
  function applyQueues(p) {
    if (Array.isArray(p.waiting)) S.waiting = p.waiting.slice();
    if (Array.isArray(p.counters)) S.counters = p.counters;
    if (Array.isArray(p.counter_queues)) {
      S.queue = p.counter_queues.find((q) => Number(q.counter) === NUM) || { counter: NUM, next: null, queue: [] };
      S.queued = new Set(S.waiting.map((tk) => tk.id));
      S.fresh = new Set();
    }
  }

  function applyQueueUpdated(p) {
    applyQueues(p);
    if (Array.isArray(p.lanes)) S.lanes = p.lanes;
    const here = Array.isArray(p.counters) ? p.counters.find((c) => Number(c.number) === NUM) : null;
    if (here) {
      const current = active(here.current);
      const changed = (here.clerk || null) !== S.clerk || (here.status === 'paused') !== S.paused ||
        (here.back_at || null) !== S.backAt ||
        (current ? current.id : null) !== (S.current ? S.current.id : null);
      if (changed) refreshDetail(30);
    }
    render();
  }

  live({
    auth: { store: config.store, role: 'counter', counter: NUM },
    events: STORE_ROOM,
    onStatus: setOnline,
    load: async () => {
      const s = await call(storeBase + '/snapshot');
      (s.services || []).forEach((sv) => { S.services[sv.code] = Object.assign({}, S.services[sv.code], sv); });
      applyQueues(Object.assign({ waiting: [] }, s));
      S.lanes = s.lanes || S.lanes;
      refreshDetail();
      render();
      return s.version;
    },
    apply: (name, p) => (name === EVENTS.QUEUE_UPDATED ? applyQueueUpdated(p) : applyStoreEvent(name, p)),
  });

  setInterval(render, 30000); // waited minutes
  render();
  signIn();
}
