/* Counter terminal: this counter's current ticket, actions with F-key shortcuts, live waiting list. */
(function () {
  'use strict';
  const { config, t, h, api, localName, laneName, statusName, minutesSince, setText, live, STORE_EVENTS } = window.HQ;
  const $ = (id) => document.getElementById(id);
  if (!$('call-next') || config.counter == null) return; // counter picker: nothing to run

  const NUM = Number(config.counter);
  const storePath = '/stores/' + encodeURIComponent(config.store);
  const select = $('transfer-service');
  const buttons = [...document.querySelectorAll('[data-action]')];
  const KEYS = { F1: 'call-next', F2: 'recall', F3: 'start', F4: 'complete', F5: 'no-show', F6: 'transfer' };
  const is = (tk, ...states) => !!tk && states.includes(tk.status);
  const LEGAL = {
    // With a ticket still open the server completes it first and says so ("forgot to complete").
    'call-next': () => true,
    recall: (tk) => is(tk, 'called'),
    start: (tk) => is(tk, 'called'),
    'no-show': (tk) => is(tk, 'called'),
    complete: (tk) => is(tk, 'called', 'serving'),
    transfer: (tk) => is(tk, 'called', 'serving'),
  };

  const services = {}; // code -> Service
  let current = null;  // this counter's active ticket (called or serving)
  let waiting = [];    // whole store, oldest first
  let busy = false;

  const active = (tk) => (is(tk, 'called', 'serving') ? tk : null);
  const serviceName = (code) => {
    return services[code] ? localName(services[code]) : code;
  };

  function say(text, kind) {
    const m = $('message');
    m.textContent = text || '';
    m.className = kind || '';
  }

  function renderButtons() {
    buttons.forEach((b) => { b.disabled = busy || !LEGAL[b.dataset.action](current); });
    select.disabled = busy || !LEGAL.transfer(current);
  }

  function renderCurrent() {
    const tk = current;
    const label = $('current-label');
    label.textContent = tk ? tk.label : '—';
    label.classList.toggle('empty', !tk);
    $('current-idle').hidden = !!tk;
    $('current-info').hidden = !tk;
    $('current-extra').hidden = !tk;
    if (tk) {
      setText('current-service', tk.service_name || serviceName(tk.service));
      const lane = $('current-lane');
      lane.textContent = laneName(tk.lane);
      lane.className = 'lane-badge lane-' + tk.lane;
      const status = $('current-status');
      status.textContent = statusName(tk.status);
      status.dataset.status = tk.status;
      const m = minutesSince(tk.issued_at);
      setText('current-waited', m == null ? '' : t('waited', { n: m }));
      [...select.options].forEach((o) => { o.disabled = !!o.value && o.value === tk.service; });
    }
    renderButtons();
  }

  function renderWaiting() {
    $('waiting-list').replaceChildren(...waiting.map((tk) => {
      const m = minutesSince(tk.issued_at);
      return h('li', { 'data-label': tk.label, 'data-id': tk.id },
        h('span', { class: 'w-label', text: tk.label }),
        h('span', { class: 'w-service', text: serviceName(tk.service) }),
        h('span', { class: 'lane-badge lane-' + tk.lane, text: laneName(tk.lane) }),
        h('span', { class: 'w-time' + (m >= 20 ? ' long' : ''), text: m == null ? '' : t('minutes', { n: m }) }));
    }));
    setText('waiting-count', waiting.length);
    $('waiting-empty').hidden = waiting.length > 0;
  }

  function renderLanes(lanes) {
    if (!lanes) return;
    $('lanes').replaceChildren(...lanes.map((l) => h('span', { text: t('lane_count', { lane: laneName(l.lane), n: l.waiting }) })));
  }

  function applyCounters(list) {
    const me = (list || []).find((c) => Number(c.number) === NUM);
    if (!me) return;
    current = active(me.current);
    const state = $('desk-state');
    if (state) state.hidden = me.status !== 'paused';
  }

  function upsertWaiting(tk) {
    const i = waiting.findIndex((w) => w.id === tk.id);
    if (tk.status !== 'waiting') {
      if (i >= 0) waiting.splice(i, 1);
    } else if (i >= 0) {
      waiting[i] = tk;
    } else {
      waiting.push(tk);
      waiting.sort((a, b) => String(a.issued_at).localeCompare(String(b.issued_at)));
    }
  }

  async function act(action) {
    if (busy || !LEGAL[action](current)) return;
    let path = '/tickets/' + (current && current.id) + '/' + action;
    let body = {};
    if (action === 'call-next') path = storePath + '/counters/' + NUM + '/call-next';
    if (action === 'transfer') {
      if (!select.value) { say(t('choose_service'), 'error'); select.focus(); return; }
      body = { service: select.value };
    }
    busy = true;
    renderButtons();
    try {
      const res = await api(path, body);
      const tk = action === 'call-next' ? res.ticket : res;
      if (tk) upsertWaiting(tk);
      current = tk && (tk.counter == null || Number(tk.counter) === NUM) ? active(tk) : null;
      if (action === 'call-next') say(res.message || '', tk ? 'ok' : '');
      else say(t('done_ok', { label: tk.label, status: statusName(tk.status) }), 'ok');
      if (action === 'transfer') select.value = '';
    } catch (err) {
      say(err.message, 'error');
      if (err.status === 409) sub.resync(); // our view was stale
    } finally {
      busy = false;
      renderCurrent();
      renderWaiting();
    }
  }

  buttons.forEach((b) => b.addEventListener('click', () => act(b.dataset.action)));
  document.addEventListener('keydown', (e) => {
    const action = KEYS[e.key];
    if (!action) return;
    e.preventDefault(); // F1 help, F5 reload, F6 address bar
    if (action === 'transfer' && !select.value && !select.disabled) { select.focus(); return; }
    act(action);
  });

  const sub = live({
    auth: { store: config.store, role: 'counter' },
    events: STORE_EVENTS,
    load: async () => {
      const s = await api(storePath + '/snapshot');
      (s.services || []).forEach((sv) => { services[sv.code] = sv; });
      applyCounters(s.counters);
      waiting = (s.waiting || []).slice();
      renderLanes(s.lanes);
      renderCurrent();
      renderWaiting();
      return s.version;
    },
    apply: (name, p) => {
      applyCounters(p.counters);
      if (p.ticket) upsertWaiting(p.ticket);
      renderLanes(p.lanes);
      renderCurrent();
      renderWaiting();
    },
  });

  setInterval(() => { renderCurrent(); renderWaiting(); }, 30000); // waited minutes
  renderCurrent();
})();
