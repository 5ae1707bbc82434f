/* Times as the store sees them: API instants are UTC ISO strings, shown in the store's time zone
   (page_config.timezone) whatever the device's own setting. */
import { pageConfig } from './config.js';
import { hasText, t } from './i18n.js';

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

/* A calendar for one time zone: (date or ISO) -> "YYYY-MM-DD" of that instant there (the
   device's own zone when the zone is unknown or missing), '' for no time. */
export function makeCalendar(zone) {
  let format = null;
  try {
    if (zone) format = new Intl.DateTimeFormat('en-CA', { timeZone: zone, year: 'numeric', month: '2-digit', day: '2-digit' });
  } catch {
    format = null;
  }
  return function zoneDay(d) {
    d = d instanceof Date ? d : parseTime(d);
    if (!d) return '';
    if (format) {
      const parts = Object.fromEntries(format.formatToParts(d).map((p) => [p.type, p.value]));
      return parts.year + '-' + parts.month + '-' + parts.day;
    }
    return d.getFullYear() + '-' + pad(d.getMonth() + 1) + '-' + pad(d.getDate());
  };
}

const calendars = new Map();
/* storeDay(date or ISO): "YYYY-MM-DD" in the store's zone. */
export function storeDay(d) {
  const zone = pageConfig().timezone || '';
  if (!calendars.has(zone)) calendars.set(zone, makeCalendar(zone));
  return calendars.get(zone)(d);
}

/* storeDateTime(date or ISO): "YYYY-MM-DD HH:MM", date and time both in the store's zone (a
   ticket printed at 03:55 on 2 December in Shanghai says so on a device set to any zone). */
export function storeDateTime(d) {
  const day = storeDay(d);
  return day ? day + ' ' + clock(d) : '';
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

/* The wait as the customer is told it: the estimate, or why there is none (eta_reason:
   no_staffed_counter, store_closed, confirm_arrival -> the page's eta_<reason> text); never a
   made-up "0-1 min". '' when neither is known. */
export function waitText(eta, reason) {
  const text = etaText(eta);
  if (text) return text;
  return reason && hasText('eta_' + reason) ? t('eta_' + reason) : '';
}

/* A coming moment as "today at 09:00" / "tomorrow at 09:00" / "on Fri, Nov 27 at 09:00" (the
   page's when_today, when_tomorrow, when_day texts), its day and time in the store's zone. */
export function whenText(iso, now = new Date()) {
  const time = clock(iso);
  if (!time) return '';
  const day = storeDay(iso);
  if (day === storeDay(now)) return t('when_today', { time });
  if (day === storeDay(new Date(now.getTime() + 86400000))) return t('when_tomorrow', { time });
  return t('when_day', { day: dayText(day), time });
}

/* "around 10:20" (the page's call_at text) for the expected call time, in the store's zone. */
export function callAtText(iso) {
  const at = clock(iso);
  return at ? t('call_at', { time: at }) : '';
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

/* A paused counter's planned return (API `back_at`) as a Date while it is still to come at
   `nowMs`, else null: a screen never shows a return time that has passed. */
export function plannedReturn(iso, nowMs = Date.now()) {
  const d = parseTime(iso);
  return d && d.getTime() > nowMs ? d : null;
}
