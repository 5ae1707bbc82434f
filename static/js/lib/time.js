/* Times as the store sees them: API instants are UTC ISO strings, shown in the store's time zone
   (page_config.timezone) whatever the device's own setting. */
import { pageConfig } from './config.js';
import { t } from './i18n.js';

export const pad = (n) => String(n).padStart(2, '0');

/* An API time (UTC when it carries no offset) as a Date, or null. */
export function parseTime(iso) {
  if (!iso) return null;
  const s = /([zZ]|[+-]\d\d:?\d\d)$/.test(iso) ? iso : iso + 'Z';
  const d = new Date(s);
  return isNaN(d) ? null : d;
}

/* A clock for one time zone: (date or ISO, seconds?) -> "HH:MM" or "HH:MM:SS". An unknown or
   missing zone falls back to the device's own. */
export function makeClock(zone) {
  let format = null;
  try {
    if (zone) {
      format = new Intl.DateTimeFormat('en-GB', {
        timeZone: zone, hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23',
      });
    }
  } catch {
    format = null;
  }
  return function zoneClock(d, seconds) {
    d = d instanceof Date ? d : parseTime(d);
    if (!d) return '';
    if (format) {
      const parts = Object.fromEntries(format.formatToParts(d).map((p) => [p.type, p.value]));
      return parts.hour + ':' + parts.minute + (seconds ? ':' + parts.second : '');
    }
    return pad(d.getHours()) + ':' + pad(d.getMinutes()) + (seconds ? ':' + pad(d.getSeconds()) : '');
  };
}

const clocks = new Map();
/* clock(date or ISO, seconds?): in the store's zone. */
export function clock(d, seconds) {
  const zone = pageConfig().timezone || '';
  if (!clocks.has(zone)) clocks.set(zone, makeClock(zone));
  return clocks.get(zone)(d, seconds);
}

/* Whole minutes from iso to now (never negative), or null. */
export function minutesSince(iso, now = Date.now()) {
  const d = parseTime(iso);
  return d ? Math.max(0, Math.floor((now - d.getTime()) / 60000)) : null;
}

/* [lo, hi] minutes -> "about 3–5 min" / "about 4 min"; '' when unknown. */
export function etaText(eta) {
  if (!eta || eta.length < 2) return '';
  return eta[0] === eta[1] ? t('eta_one', { n: eta[0] }) : t('eta', { lo: eta[0], hi: eta[1] });
}

/* ---- store-local days ("YYYY-MM-DD") and slot times ("HH:MM") as the server sends them ---- */

const locale = () => (pageConfig().lang === 'en' ? 'en-US' : 'zh-CN');
export const dayFormat = (opts) => new Intl.DateTimeFormat(locale(), Object.assign({ timeZone: 'UTC' }, opts));

export function dayDate(ymd) {
  const m = /^(\d{4})-(\d\d)-(\d\d)/.exec(ymd || '');
  return m ? new Date(Date.UTC(+m[1], +m[2] - 1, +m[3])) : null;
}

/* "11月27日 周五" / "Fri, Nov 27" (withWeekday false: without the weekday). */
export function dayText(ymd, withWeekday) {
  const d = dayDate(ymd);
  if (!d) return ymd || '';
  if (pageConfig().lang === 'en') {
    return dayFormat(withWeekday !== false ? { weekday: 'short', month: 'short', day: 'numeric' } : { month: 'short', day: 'numeric' }).format(d);
  }
  const md = dayFormat({ month: 'long', day: 'numeric' }).format(d);
  return withWeekday !== false ? md + ' ' + dayFormat({ weekday: 'short' }).format(d) : md;
}

/* "10:00" + 15 -> "10:15" (wraps at midnight). */
export function addMinutes(hhmm, minutes) {
  const m = /^(\d\d?):(\d\d)/.exec(hhmm || '');
  if (!m) return '';
  const total = ((+m[1] * 60 + +m[2] + Math.round(minutes)) % 1440 + 1440) % 1440;
  return pad(Math.floor(total / 60)) + ':' + pad(total % 60);
}

/* Store-local "HH:MM" of an ISO instant, using a known pair (startIso shown as startHHMM) for the
   store's offset, so the answer does not depend on the phone's own time zone. */
export function storeClock(iso, startIso, startHHMM) {
  const d = parseTime(iso);
  const s = parseTime(startIso);
  if (!d) return '';
  if (!s || !startHHMM) return clock(d);
  return addMinutes(startHHMM, (d.getTime() - s.getTime()) / 60000);
}

/* throttle(fn, 2000): runs fn at once, then at most once per interval (a trailing call is kept). */
export function throttle(fn, ms) {
  let last = 0;
  let timer = null;
  return function run() {
    const wait = last + ms - Date.now();
    if (wait <= 0) {
      clearTimeout(timer);
      timer = null;
      last = Date.now();
      fn();
    } else if (!timer) {
      timer = setTimeout(() => { timer = null; run(); }, wait);
    }
  };
}
