/* Kiosk surface. Home page: service buttons with live waiting info; one tap = one ticket.
   Ticket page: print on load, countdown back to the home page. */
(function () {
  'use strict';
  const { config, t, h, api, localName, laneName, etaText } = window.HQ;

  function ticketPage(countdown) {
    const home = document.getElementById('done').href;
    let left = 30;
    const tick = () => {
      countdown.textContent = t('countdown', { n: left });
      if (left-- <= 0) location.href = home;
    };
    tick();
    setInterval(tick, 1000);
    if (config.auto_print) window.addEventListener('load', () => setTimeout(() => window.print(), 200));
  }

  const countdown = document.getElementById('countdown');
  if (countdown) { ticketPage(countdown); return; }

  const grid = document.getElementById('services');
  const msg = document.getElementById('message');
  const busy = document.getElementById('busy');
  const base = '/stores/' + encodeURIComponent(config.store);
  let inFlight = false;
  let msgTimer = null;

  function showMessage(text) {
    clearTimeout(msgTimer);
    msg.textContent = text || '';
    msg.hidden = !text;
    if (text) msgTimer = setTimeout(() => showMessage(''), 12000);
  }

  function infoText(s) {
    const eta = etaText(s.eta_minutes);
    return t('waiting_n', { n: s.waiting }) + (eta ? ' · ' + eta : '');
  }

  function button(s) {
    return h('button', { type: 'button', class: 'service-btn lane-' + s.lane, 'data-service': s.code, disabled: inFlight },
      h('span', { class: 'service-name', text: localName(s) }),
      h('span', { class: 'lane-badge lane-' + s.lane, text: laneName(s.lane) }),
      h('span', { class: 'service-info', text: infoText(s) }));
  }

  function render(services) {
    const shown = [...grid.querySelectorAll('[data-service]')];
    const same = shown.length === services.length && shown.every((b, i) => b.dataset.service === services[i].code);
    if (same) { // update in place so a finger already on a button is not disturbed
      services.forEach((s, i) => { shown[i].querySelector('.service-info').textContent = infoText(s); });
      return;
    }
    grid.replaceChildren(...(services.length ? services.map(button) : [h('p', { class: 'kiosk-empty', text: t('no_services') })]));
  }

  async function refresh() {
    try {
      const data = await api(base + '/services');
      render(data.services || []);
    } catch (e) { /* keep showing the last known list */ }
  }

  function setBusy(on) {
    inFlight = on;
    busy.hidden = !on;
    grid.querySelectorAll('button').forEach((b) => { b.disabled = on; });
  }

  grid.addEventListener('click', async (e) => {
    const btn = e.target.closest('button[data-service]');
    if (!btn || inFlight) return;
    setBusy(true);
    showMessage('');
    try {
      const ticket = await api(base + '/tickets', { service: btn.dataset.service });
      if (!ticket || !ticket.print_url) throw new Error(t('server_error'));
      location.href = ticket.print_url;
      setTimeout(() => setBusy(false), 15000); // navigation failed: let the customer retry
    } catch (err) {
      setBusy(false);
      showMessage(err.message);
      refresh();
    }
  });

  document.addEventListener('contextmenu', (e) => e.preventDefault()); // no long-press menu on the kiosk
  window.addEventListener('pageshow', (e) => { if (e.persisted) { setBusy(false); refresh(); } });
  setInterval(refresh, 15000);
})();
