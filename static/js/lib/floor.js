/*
 * The live floor's arithmetic, apart from the page (node tests import it): times since a server
 * timestamp on the server's clock, and the alerts a floor state raises at a given moment.
 *
 * Times: the floor state carries the server's clock (`now`); the page keeps the difference to the
 * device's clock, so every duration it shows is counted from the server's timestamps on the
 * server's time, whatever the device's clock says.
 */
import { parseTime } from './time.js';

/* A visit is unusually long at twice its service's expected minutes, and at least this many more. */
export const LONG_FACTOR = 2;
export const LONG_MIN_EXTRA = 5;

/* Milliseconds to add to the device's clock to get the server's. */
export function clockOffset(serverIso, deviceNow = Date.now()) {
  const server = parseTime(serverIso);
  return server ? server.getTime() - deviceNow : 0;
}

/* Milliseconds from iso to now (never negative), or null. */
export function elapsedMs(iso, now) {
  const d = parseTime(iso);
  return d ? Math.max(0, now - d.getTime()) : null;
}

export const wholeMinutes = (ms) => (ms == null ? null : Math.floor(ms / 60000));

/* 754000 -> "12:34"; an hour or more: "1:02:03". */
export function duration(ms) {
  if (ms == null) return '';
  const total = Math.floor(ms / 1000);
  const pad = (n) => String(n).padStart(2, '0');
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  return h ? h + ':' + pad(m) + ':' + pad(s) : m + ':' + pad(s);
}

/* When the visit at a counter began: being served since its start, else since its call. */
export const visitSince = (ticket) => (ticket ? ticket.started_at || ticket.called_at : null);

export function isLong(ticket, now) {
  const expected = ticket && ticket.expected_minutes;
  const ms = elapsedMs(visitSince(ticket), now);
  if (!expected || ms == null) return false;
  const minutes = ms / 60000;
  return minutes >= expected * LONG_FACTOR && minutes >= expected + LONG_MIN_EXTRA;
}

/*
 * The alerts of a floor state at `now` (server time, ms), most urgent first, each
 * {kind, key (the page's text), params}:
 *   unserved  a lane with people waiting that no open counter serves by its profile
 *   wait      waits past the store's target (wait_target_minutes; 0: none)
 *   long      a counter at one visit unusually long for its service
 *   orphan    a ticket still open at a counter where nobody is signed in
 */
export function floorAlerts(state, now) {
  if (!state) return [];
  const out = [];
  const lanes = state.lanes || [];
  const laneName = (code) => ((lanes.find((l) => l.lane === code) || {}).name || code);
  lanes.forEach((l) => {
    if (l.unserved > 0) {
      const key = l.helped >= l.unserved ? 'alert_unserved_helped' : 'alert_unserved';
      out.push({ kind: 'unserved', lane: l.lane, key, params: { lane: l.name, n: l.unserved } });
    }
  });
  const target = state.store ? state.store.wait_target_minutes : 0;
  if (target > 0) {
    const over = new Map();
    (state.waiting || []).forEach((tk) => {
      const m = wholeMinutes(elapsedMs(tk.issued_at, now));
      if (m == null || m < target) return;
      const seen = over.get(tk.lane) || { n: 0, longest: null };
      seen.n += 1;
      if (!seen.longest || m > seen.longest.m) seen.longest = { m, label: tk.label };
      over.set(tk.lane, seen);
    });
    over.forEach((v, lane) => out.push({
      kind: 'wait', lane, key: 'alert_wait',
      params: { lane: laneName(lane), n: v.n, target, label: v.longest.label, m: v.longest.m },
    }));
  }
  (state.counters || []).forEach((c) => {
    const tk = c.current;
    if (!tk) return;
    if (c.status === 'closed') {
      out.push({ kind: 'orphan', counter: c.number, key: 'alert_orphan', params: { counter: c.name, label: tk.label } });
    } else if (isLong(tk, now)) {
      const m = wholeMinutes(elapsedMs(visitSince(tk), now));
      out.push({
        kind: 'long', counter: c.number, key: 'alert_long',
        params: { counter: c.name, label: tk.label, m, e: tk.expected_minutes },
      });
    }
  });
  return out;
}

/* Whether a counter can take a call from the floor now: a clerk there, open, nobody at it. */
export const canTakeCall = (c) => !!c && c.status === 'open' && !c.current;
