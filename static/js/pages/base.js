/* Every page (loaded by the shared layout): server-rendered times in the store's zone, back links
   and print buttons. */
import { clock, parseTime, storeDateTime } from '../lib/time.js';

/* <time data-time="ISO">: the store-local clock (data-time-full: with the store-local date first). */
export function localizeTimes(root = document) {
  root.querySelectorAll('[data-time]').forEach((el) => {
    const d = parseTime(el.getAttribute('data-time'));
    if (!d) return;
    el.textContent = el.hasAttribute('data-time-full') ? storeDateTime(d) : clock(d);
  });
}

localizeTimes();
document.querySelectorAll('[data-back]').forEach((el) => el.addEventListener('click', (e) => {
  if (history.length > 1) { e.preventDefault(); history.back(); }
}));
document.querySelectorAll('[data-print]').forEach((el) => el.addEventListener('click', () => window.print()));
