/* Every page (loaded by the shared layout): server-rendered times in the store's zone, back links
   and print buttons. */
import { clock, pad, parseTime } from '../lib/time.js';

/* <time data-time="ISO">: the store-local clock (data-time-full: with the date first). */
export function localizeTimes(root = document) {
  root.querySelectorAll('[data-time]').forEach((el) => {
    const d = parseTime(el.getAttribute('data-time'));
    if (!d) return;
    const day = d.getFullYear() + '-' + pad(d.getMonth() + 1) + '-' + pad(d.getDate()) + ' ';
    el.textContent = (el.hasAttribute('data-time-full') ? day : '') + clock(d);
  });
}

localizeTimes();
document.querySelectorAll('[data-back]').forEach((el) => el.addEventListener('click', (e) => {
  if (history.length > 1) { e.preventDefault(); history.back(); }
}));
document.querySelectorAll('[data-print]').forEach((el) => el.addEventListener('click', () => window.print()));
