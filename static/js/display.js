/* Waiting-area TV: now calling, counters, recent calls, lanes, clock; chime + spoken announcements. */
(function () {
  'use strict';
  const { config, t, h, fill, setText, localName, laneName, etaText, clock, api, live, STORE_EVENTS } = window.HQ;
  const $ = (id) => document.getElementById(id);
  const ZH_DIGITS = '零一二三四五六七八九';
  const RECENT_MAX = 10;
  window.announcements = []; // every string handed to speechSynthesis, in order (read by tests)

  let recent = [];
  let counters = [];
  let pulse = { counter: null, until: 0 };

  /* ---- clock ---- */
  const dateFmt = new Intl.DateTimeFormat(config.lang === 'en' ? 'en-US' : 'zh-CN',
    { month: 'long', day: 'numeric', weekday: 'long' });
  function tickClock() {
    const now = new Date();
    setText('clock-time', clock(now));
    setText('clock-date', dateFmt.format(now));
  }
  tickClock();
  setInterval(tickClock, 1000);

  /* ---- rendering ---- */
  function renderCounters(list) {
    counters = list || counters;
    const hot = Date.now() < pulse.until ? pulse.counter : null;
    $('counters').replaceChildren(...counters.map((c) => {
      const cur = c.current && (c.current.status === 'called' || c.current.status === 'serving') ? c.current.label : '';
      const cls = 'counter-panel' + (c.status === 'paused' ? ' is-paused' : '') + (c.number === hot ? ' pulse' : '');
      return h('div', { class: cls, 'data-counter': c.number },
        h('p', { class: 'c-name', text: localName(c) || t('counter_to', { n: c.number }) }),
        h('p', { class: 'current', text: cur }),
        c.status === 'paused' ? h('p', { class: 'c-state', text: t('paused') }) : null);
    }));
  }

  function renderLanes(list) {
    $('lanes').replaceChildren(...(list || []).map((l) => h('div', { class: 'lane-card lane-' + l.lane },
      h('p', { class: 'lane-title', text: laneName(l.lane) }),
      fill(h('p', { class: 'lane-waiting' }), 'waiting_n', { n: h('b', { text: l.waiting }) }),
      h('p', { class: 'lane-eta', text: etaText(l.eta_minutes) || '\u00a0' }))));
  }

  function renderRecent() {
    $('recent').replaceChildren(...recent.map((r) => h('li', { 'data-label': r.label },
      h('span', { class: 'r-label', text: r.label }),
      h('span', { class: 'r-counter', text: t('counter_to', { n: r.counter }) }))));
    $('recent-empty').hidden = recent.length > 0;
  }

  function setNow(label, counter) {
    setText('now-label', label || '—');
    fill($('now-line'), 'go_counter', { n: h('span', { id: 'now-counter', text: counter == null ? '' : counter }) });
    $('now-line').style.visibility = label ? 'visible' : 'hidden';
  }

  let flashTimer = null;
  function flash(counter) {
    const now = $('now');
    now.classList.remove('flash');
    void now.offsetWidth; // restart the animation
    now.classList.add('flash');
    clearTimeout(flashTimer);
    flashTimer = setTimeout(() => { now.classList.remove('flash'); renderCounters(); }, 6000);
    pulse = { counter, until: Date.now() + 6000 };
    renderCounters();
  }

  /* ---- sound: chime (Web Audio) then speech, one announcement at a time ---- */
  const AudioCtx = window.AudioContext || window.webkitAudioContext;
  const synth = window.speechSynthesis;
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

  function voiceFor(lang) {
    const voices = synth ? synth.getVoices() : [];
    const norm = (v) => v.lang.replace('_', '-').toLowerCase();
    return voices.find((v) => norm(v) === lang.toLowerCase()) ||
      voices.find((v) => norm(v).startsWith(lang.slice(0, 2).toLowerCase())) || null;
  }

  function speak(text, lang) {
    window.announcements.push(text);
    if (!synth || !window.SpeechSynthesisUtterance) return Promise.resolve();
    const voice = voiceFor(lang);
    if (!voice && synth.getVoices().length) return Promise.resolve(); // no voice for this language
    return new Promise((resolve) => {
      const u = new SpeechSynthesisUtterance(text);
      u.lang = lang;
      u.rate = 0.9;
      if (voice) u.voice = voice;
      const timer = setTimeout(resolve, 3000 + text.length * 300); // never stall the queue
      u.onend = u.onerror = () => { clearTimeout(timer); resolve(); };
      synth.speak(u);
    });
  }

  const queue = [];
  let playing = false;
  async function playQueue() {
    if (playing) return;
    playing = true;
    while (queue.length) {
      const { label, counter } = queue.shift();
      const zhLabel = String(label).replace(/\d/g, (d) => ZH_DIGITS[d]);
      await chime();
      await speak(t('say_zh', { label: zhLabel, counter }), 'zh-CN');
      await speak(t('say_en', { label, counter }), 'en-US');
      await wait(800);
    }
    playing = false;
  }
  function announce(label, counter) {
    queue.push({ label, counter });
    playQueue();
  }

  const overlay = $('sound-overlay');
  function enableSound() {
    try {
      if (!audio && AudioCtx) audio = new AudioCtx();
      if (audio && audio.state !== 'running') audio.resume();
    } catch (e) { audio = null; }
    if (synth && window.SpeechSynthesisUtterance) synth.speak(new SpeechSynthesisUtterance(' ')); // unlock speech
    overlay.hidden = true;
  }
  overlay.addEventListener('click', enableSound);
  if (AudioCtx) { // autoplay already allowed (kiosk browser flag): no overlay needed
    try {
      audio = new AudioCtx();
      if (audio.state === 'running') overlay.hidden = true;
    } catch (e) { audio = null; }
  }

  /* ---- live data ---- */
  function loadSnapshot(s) {
    renderCounters(s.counters || []);
    renderLanes(s.lanes);
    recent = (s.recent_calls || []).slice(0, RECENT_MAX);
    renderRecent();
    setNow(recent[0] && recent[0].label, recent[0] && recent[0].counter);
  }

  function onEvent(name, p) {
    if (p.counters) renderCounters(p.counters);
    if (p.lanes) renderLanes(p.lanes);
    if ((name === 'called' || name === 'recalled') && p.ticket) {
      const tk = p.ticket;
      const counter = p.counter != null ? p.counter : tk.counter;
      recent = [{ ticket_id: tk.id, label: tk.label, counter, lane: tk.lane, called_at: tk.called_at }]
        .concat(recent.filter((r) => r.ticket_id !== tk.id)).slice(0, RECENT_MAX);
      renderRecent();
      setNow(tk.label, counter);
      flash(counter);
      announce(tk.label, counter);
    }
  }

  setNow('', null);
  const sub = live({
    auth: { store: config.store, role: 'display' },
    events: STORE_EVENTS,
    load: async () => {
      const s = await api('/stores/' + encodeURIComponent(config.store) + '/snapshot');
      loadSnapshot(s);
      return s.version;
    },
    apply: onEvent,
  });
  setInterval(() => sub.resync(), 60000); // refresh estimates that drift without events
})();
