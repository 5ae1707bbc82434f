/* The greeter's tablet: a tap on a business issues a ticket for the customer in front of the
   greeter, with the level chosen (priority care, VIP) and a note for the clerk. One tap is one
   ticket: the request carries an Idempotency-Key, a retry after a dropped answer reuses it, and
   the buttons are disabled until the answer comes. */
import { api, storePath } from '../lib/api.js';
import { pageConfig } from '../lib/config.js';
import { byId as $, h, setText } from '../lib/dom.js';
import { t } from '../lib/i18n.js';
import { randomKey } from '../lib/ids.js';
import { renderPlan } from '../ui/plan.js';

const config = pageConfig();
const form = $('greeter-form');
const buttons = () => form.querySelectorAll('button[name="service"]');
let busy = false;

function level() {
  const chosen = form.querySelector('input[name="level"]:checked');
  return chosen ? chosen.value : 'normal';
}

function show(ticket, chosen) {
  $('greeter-error').hidden = true;
  $('greeter-result').hidden = false;
  setText('result-label', ticket.label);
  const levelText = chosen === 'normal' ? '' : t('level_' + chosen);
  $('result-level').hidden = !levelText;
  setText('result-level', levelText);
  const wait = ticket.eta_minutes
    ? t('eta', { lo: ticket.eta_minutes[0], hi: ticket.eta_minutes[1] })
    : t('no_eta');
  const ahead = ticket.position === 0 ? t('position_zero')
    : ticket.position != null ? t('position', { n: ticket.position }) : '';
  setText('result-wait', [ahead, wait].filter(Boolean).join(' · '));
  renderPlan($('result-plan'), ticket.plan);
  $('result-print').href = ticket.print_url || '#';
  $('result-print').hidden = !ticket.print_url;
  $('greeter-result').scrollIntoView({ block: 'nearest' });
}

async function issue(service) {
  const body = { service, channel: 'staff', level: level() };
  const note = $('greeter-note').value.trim();
  if (note) body.note = note;
  // The services after it, in order (blanks and repeats of the tapped one left to the server).
  const then = [...form.querySelectorAll('select[name="then"]')].map((s) => s.value).filter(Boolean);
  if (then.length) body.then = then;
  const headers = { 'Idempotency-Key': randomKey() };
  for (const wait of [0, 700]) {
    if (wait) await new Promise((resolve) => setTimeout(resolve, wait));
    try {
      return await api(storePath(config.store) + '/tickets', body, { headers });
    } catch (err) {
      if (err.status !== 0 || wait) throw err; // only a lost answer is retried, with the same key
    }
  }
  return null;
}

form.addEventListener('submit', async (event) => {
  event.preventDefault();
  const button = event.submitter;
  if (busy || !button || !button.value) return;
  busy = true;
  buttons().forEach((b) => { b.disabled = true; });
  const chosen = level();
  try {
    show(await issue(button.value), chosen);
    $('greeter-note').value = '';
    form.querySelectorAll('select[name="then"]').forEach((s) => { s.value = ''; });
    const normal = form.querySelector('input[name="level"][value="normal"]');
    if (normal) normal.checked = true; // the next customer starts as everyone else
  } catch (err) {
    $('greeter-result').hidden = true;
    $('greeter-error').hidden = false;
    setText('greeter-error', err.message);
  } finally {
    busy = false;
    buttons().forEach((b) => { b.disabled = false; });
  }
});

/* A booked customer checked in by mobile number: the kiosk's API with the staff session. */
const checkinBase = storePath(config.store) + '/check-in';
let checkinPhone = '';
function checkinSay(text) { setText('g-checkin-result', text || ''); }
async function checkInChoice(choice, early) {
  const body = { phone: checkinPhone, booking: choice };
  if (early) body.early = early;
  try {
    const ticket = await api(checkinBase, body);
    checkinSay(t('checked_in_as', { label: ticket.label }));
    $('g-bookings').replaceChildren();
  } catch (err) {
    checkinSay(err.message);
    const options = (err.data && err.data.options) || [];
    if (err.code === 'too_early') {
      $('g-bookings').replaceChildren(...options.map((o) => h('button', { type: 'button', class: 'btn g-service', text: o.title,
        'data-choice': choice, 'data-early': o.early })));
    }
  }
}
$('g-checkin-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  checkinPhone = $('g-phone').value.trim();
  checkinSay('');
  try {
    const answer = await api(checkinBase, { phone: checkinPhone });
    $('g-bookings').replaceChildren(...(answer.bookings || []).map((b) => h('button', { type: 'button', class: 'btn g-service',
      'data-choice': b.choice, text: `${b.time} · ${b.service_name} · ${b.name_masked}` })));
  } catch (err) {
    $('g-bookings').replaceChildren();
    checkinSay(err.message);
  }
});
$('g-bookings').addEventListener('click', (event) => {
  const b = event.target.closest('button[data-choice]');
  if (b) checkInChoice(b.dataset.choice, b.dataset.early);
});
