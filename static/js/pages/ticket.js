/* Kiosk, printed ticket page: print on load (when the kiosk prints), countdown back to the home page.
   Its times are the store's (base.js writes the issue date and time in the store's zone). */
import { pageConfig } from '../lib/config.js';
import { byId, setText } from '../lib/dom.js';
import { t } from '../lib/i18n.js';
import { callAtText } from '../lib/time.js';

const config = pageConfig();
const kiosk = config.kiosk || null;
const countdown = byId('countdown');

// "around 10:20" beside the estimate: the expected call, on the store's clock.
const etaAt = byId('eta-at');
if (etaAt) setText(etaAt, callAtText(etaAt.dataset.at));

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
