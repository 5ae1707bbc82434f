/* The #offline mark: hidden while connected; otherwise "offline", with the last update's time. */
import { byId } from '../lib/dom.js';
import { t } from '../lib/i18n.js';
import { clock } from '../lib/time.js';

export function setOnline(online, lastUpdate) {
  const el = byId('offline');
  if (!el) return;
  el.hidden = online;
  if (!online) el.textContent = lastUpdate ? t('offline_since', { time: clock(lastUpdate, true) }) : t('offline');
}
