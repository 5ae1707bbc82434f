/* Kiosk, printed ticket page: print on load (when the kiosk prints), countdown back to the home page. */
import { pageConfig } from '../lib/config.js';
import { byId } from '../lib/dom.js';
import { t } from '../lib/i18n.js';

const config = pageConfig();
const kiosk = config.kiosk || null;
const countdown = byId('countdown');

if (countdown) {
  const home = byId('done').href;
  const total = (kiosk && kiosk.idle_seconds) || config.idle_seconds || 30;
  let left = total;
  const tick = () => {
    countdown.textContent = t('countdown', { n: Math.max(left, 0) });
    if (left-- <= 0) location.href = home;
  };
  tick();
  setInterval(tick, 1000);
  // A touch means someone is still reading: start the countdown again.
  document.addEventListener('pointerdown', () => { left = total; tick(); }, { passive: true });
  const autoPrint = config.auto_print != null ? config.auto_print : kiosk && kiosk.auto_print;
  if (autoPrint) {
    const print = () => setTimeout(() => window.print(), 200);
    if (document.readyState === 'complete') print(); else window.addEventListener('load', print);
  }
}
