/* Appointments: day chips and slot buttons (booking and manage pages). Dates are store-local
   "YYYY-MM-DD"; slot times come as store-local "HH:MM" from the server. */
import { h } from '../lib/dom.js';
import { t } from '../lib/i18n.js';
import { dayDate, dayFormat, dayText } from '../lib/time.js';

/* Day chips: buttons[data-date]; index 0 is today. Needs i18n keys today, tomorrow, day_closed. */
export function renderDays(container, days, selected) {
  container.replaceChildren(...days.map((day, i) => {
    const top = i === 0 ? t('today') : i === 1 ? t('tomorrow') : dayFormat({ weekday: 'short' }).format(dayDate(day.date));
    const bottom = dayText(day.date, false);
    return h('button', {
      type: 'button', class: 'day-chip' + (day.open ? '' : ' is-closed'), 'data-date': day.date,
      'aria-pressed': String(day.date === selected), disabled: !day.open,
      'aria-label': top + ' ' + dayText(day.date) + (day.open ? '' : ', ' + t('day_closed')),
    },
    h('span', { class: 'day-top', text: top }),
    h('span', { class: 'day-date', text: bottom }),
    day.open ? null : h('span', { class: 'day-closed', text: t('day_closed') }));
  }));
}

/* Slot buttons [data-slot=start ISO] grouped into morning / afternoon. Needs i18n keys
   slots_left, slot_full, morning, afternoon. Returns the number of bookable slots. */
export function renderSlots(container, slots, selected) {
  const groups = [['morning', []], ['afternoon', []]];
  slots.forEach((s) => groups[parseInt(s.time, 10) < 12 ? 0 : 1][1].push(s));
  container.replaceChildren(...groups.filter((g) => g[1].length).map(([name, list]) => h('div', { class: 'slot-group' },
    h('p', { class: 'slot-group-title', text: t(name) }),
    h('div', { class: 'slot-grid' }, ...list.map((s) => {
      const free = s.free > 0;
      const left = free ? t('slots_left', { n: s.free }) : t('slot_full');
      return h('button', {
        type: 'button', class: 'slot-btn' + (free ? '' : ' is-full'), 'data-slot': s.start, value: s.start,
        'aria-pressed': String(s.start === selected), disabled: !free, 'aria-label': s.time + ', ' + left,
      }, h('span', { class: 'slot-time', text: s.time }), h('span', { class: 'slot-left', text: left }));
    })))));
  return slots.filter((s) => s.free > 0).length;
}

/* Marks one button of a group as chosen (aria-pressed). */
export function choose(container, selector, attr, value) {
  container.querySelectorAll(selector).forEach((b) => b.setAttribute('aria-pressed', String(b.getAttribute(attr) === value)));
}
