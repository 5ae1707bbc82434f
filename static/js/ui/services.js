/* Service buttons grouped by category (kiosk and remote join pages). */
import { h } from '../lib/dom.js';
import { laneName, localName, t } from '../lib/i18n.js';
import { waitText } from '../lib/time.js';

/* "3 waiting · about 5–8 min"; without an estimate, why ("no counter is serving this now"). */
export function serviceInfo(s) {
  const wait = waitText(s.eta_minutes, s.eta_reason);
  return t('waiting_n', { n: s.waiting }) + (wait ? ' · ' + wait : '');
}

/* Spoken name of a service button: name, description, lane, wait - in the order they are shown. */
export function serviceLabel(s) {
  return [localName(s), s.description, laneName(s.lane), serviceInfo(s)].filter(Boolean).join(', ');
}

export function serviceButton(s, disabled) {
  return h('button', {
    type: 'button', class: 'service-btn lane-' + s.lane, 'data-service': s.code,
    'aria-label': serviceLabel(s), disabled: !!disabled,
  },
  s.icon ? h('img', { class: 'service-icon', src: '/static/icons/' + s.icon + '.svg', alt: '', width: 48, height: 48 }) : null,
  h('span', { class: 'service-text' }, // the spaces keep words apart for screen readers
    h('span', { class: 'service-name', text: localName(s) }), ' ',
    s.description ? h('span', { class: 'service-desc', text: s.description }) : null, ' ',
    h('span', { class: 'service-meta' },
      h('span', { class: 'lane-badge lane-' + s.lane, text: laneName(s.lane) }), ' ',
      h('span', { class: 'service-info', text: serviceInfo(s) }))));
}

/* Services grouped by category, in the order they come: [{category, name, services}]. */
export function serviceGroups(services) {
  const groups = [];
  services.forEach((s) => {
    const key = s.category || '';
    let g = groups.find((x) => x.category === key);
    if (!g) groups.push(g = { category: key, name: s.category_name || '', services: [] });
    g.services.push(s);
  });
  return groups;
}

/* Fills container with category sections of service buttons. Returns true when rebuilt. Buttons
   already shown for the same services are updated in place (a finger on a button is not disturbed). */
export function renderServices(container, services, opts) {
  opts = opts || {};
  const shown = [...container.querySelectorAll('[data-service]')];
  const same = shown.length === services.length && services.length > 0 &&
    shown.every((b, i) => b.dataset.service === services[i].code);
  if (same) {
    services.forEach((s, i) => {
      shown[i].querySelector('.service-info').textContent = serviceInfo(s);
      shown[i].setAttribute('aria-label', serviceLabel(s));
    });
    return false;
  }
  if (!services.length) {
    container.replaceChildren(h('p', { class: 'services-empty', text: t('no_services') }));
    return true;
  }
  container.replaceChildren(...serviceGroups(services).map((g) => h('section',
    { class: 'service-group', 'data-category': g.category || null },
    g.name ? h('h2', { class: 'service-group-title', text: g.name }) : null,
    h('div', { class: 'service-grid' }, ...g.services.map((s) => serviceButton(s, opts.disabled))))));
  return true;
}
