/* Ticket status page (phone): live position and status; full-screen banner when called. */
(function () {
  'use strict';
  const { config, t, h, fill, laneName, statusName, etaText, setText, api, live } = window.HQ;
  const $ = (id) => document.getElementById(id);
  const banner = $('call-banner');
  const FINAL = {
    done: 'final_done', no_show: 'final_no_show', cancelled: 'final_cancelled',
    transferred: 'final_transferred', serving: 'serving_note',
  };
  const pageTitle = document.title;
  let announced = null; // call key (ticket:recall count) we already alerted for
  let dismissed = null; // call key the customer closed the banner for

  function alertCall(tk, key) {
    if (announced === key) return;
    announced = key;
    if (navigator.vibrate) navigator.vibrate([400, 150, 400, 150, 800]);
    document.title = t('go_counter', { n: tk.counter }) + ' · ' + pageTitle;
  }

  function render(tk) {
    if (!tk) return;
    setText('label', tk.label);
    setText('banner-label', tk.label);
    setText('service', tk.service_name);
    const lane = $('lane');
    lane.textContent = laneName(tk.lane);
    lane.className = 'lane-badge lane-' + tk.lane;
    const status = $('status');
    status.textContent = statusName(tk.status);
    status.dataset.status = tk.status;
    setText('position', tk.position == null ? '—' : tk.position);
    setText('eta', (tk.status === 'waiting' && etaText(tk.eta_minutes)) || '—');
    setText('counter', tk.counter == null ? '—' : tk.counter);

    const final = $('final');
    final.hidden = !FINAL[tk.status];
    final.textContent = FINAL[tk.status] ? t(FINAL[tk.status]) : '';
    final.classList.toggle('bad', tk.status === 'no_show' || tk.status === 'cancelled');

    if (tk.status === 'called') {
      const key = tk.id + ':' + (tk.recall_count || 0);
      fill($('banner-text'), 'go_counter', { n: h('span', { class: 'counter-no', text: tk.counter }) });
      banner.hidden = key === dismissed;
      alertCall(tk, key);
    } else {
      banner.hidden = true;
      document.title = pageTitle;
    }
  }

  $('banner-ok').addEventListener('click', () => {
    dismissed = announced;
    banner.hidden = true;
  });

  live({
    auth: { ticket: config.token },
    events: ['ticket'],
    full: true, // each event carries the whole ticket
    load: async () => {
      const tk = await api('/tickets/' + encodeURIComponent(config.token));
      render(tk);
      return tk.version;
    },
    apply: (name, p) => render(p.ticket),
  });
})();
