/*
 * Versioned live updates over Socket.IO (the vendored client's global `io`).
 *
 * Every client loads a full state with its version (load), then applies events that carry the
 * store's version. Two kinds of events:
 *   STEP  (thin store events): each adds exactly 1 to the version. known+1 is applied; an older
 *         one is ignored for state (handed to `stale`, e.g. to announce a call never announced);
 *         a gap (> known+1) reloads the full state once.
 *   STATE (queue_updated, a ticket's event): the full state of what it covers at its version.
 *         Applied when its version is >= known (an equal version may bring a fuller view); older
 *         ones are ignored. It never reloads.
 * A command that made several thin events sends them as one `steps` frame ({version, events}):
 * each is handled in order as if it had come alone.
 * Events arriving while a load is in flight are buffered and replayed after it.
 */
import { EVENTS, STORE_EVENTS } from './events.js';

export const STEP = 'step';
export const STATE = 'state';
export const APPLY = 'apply';
export const IGNORE = 'ignore';
export const RESYNC = 'resync';

/* The decision for an event of `mode` carrying `version` when `known` is the version shown. */
export function decide(mode, version, known) {
  if (typeof version !== 'number') return APPLY; // an unversioned payload: nothing to compare
  if (mode === STATE) return version >= known ? APPLY : IGNORE;
  if (version === known + 1) return APPLY;
  return version <= known ? IGNORE : RESYNC;
}

/* The thin events of a `steps` frame, in order (nothing for a malformed one). */
export function unpack(frame) {
  const list = frame && Array.isArray(frame.events) ? frame.events : [];
  return list.filter((e) => e && typeof e.event === 'string');
}

/* What a store's displays and counters follow. */
export const STORE_ROOM = Object.freeze(Object.assign(
  Object.fromEntries(STORE_EVENTS.map((name) => [name, STEP])),
  { [EVENTS.QUEUE_UPDATED]: STATE },
));
/* What one ticket's status page follows. */
export const TICKET_ROOM = Object.freeze({ [EVENTS.TICKET]: STATE });

const defaultConnect = (auth) => (typeof globalThis.io === 'function' ? globalThis.io({ auth }) : null);

/*
 * live({auth, events, load, apply, stale, onStatus, connect, retryMs})
 *   events:   {name: STEP | STATE} (STORE_ROOM, TICKET_ROOM)
 *   load():   fetches and renders the full state; resolves to its version
 *   apply(name, payload): one accepted event
 *   stale(name, payload): an event too old for state (optional)
 *   onStatus(online, lastUpdate): connection state (optional)
 *   connect(auth): the socket (default: io({auth})); null when there is no socket client
 * Returns {socket, resync, version(), current(v), close}: current(v) says whether a payload of
 * version v (a command's answer) is no older than what is shown.
 */
export function live({ auth, events, load, apply, stale, onStatus, connect = defaultConnect, retryMs = 5000 }) {
  let version = -1;
  let syncing = false;
  let replaying = false;
  let buffer = [];
  let retry = null;
  let lastUpdate = null;
  let closed = false;

  const status = (online) => { if (onStatus) onStatus(online, lastUpdate); };
  const current = (v) => typeof v !== 'number' || v >= version;

  function later() {
    if (!retry && !closed) retry = setTimeout(() => { retry = null; sync(); }, retryMs);
  }

  async function sync() {
    if (syncing || closed) return;
    syncing = true;
    clearTimeout(retry);
    retry = null;
    try {
      const v = await load();
      if (typeof v === 'number') version = v;
      lastUpdate = new Date();
    } catch {
      later();
    }
    syncing = false;
    const pending = buffer;
    buffer = [];
    replaying = true;
    try {
      pending.forEach(([name, p]) => handle(name, p));
    } finally {
      replaying = false;
    }
  }

  function run(fn, name, p) {
    try {
      fn(name, p);
      return true;
    } catch (e) {
      if (globalThis.console) console.error(e);
      sync(); // never stay half-updated
      return false;
    }
  }

  function handle(name, p) {
    if (!p || closed) return;
    if (syncing) { buffer.push([name, p]); return; }
    const verdict = decide(events[name], p.version, version);
    if (verdict === RESYNC) {
      if (replaying) { later(); return; } // just reloaded and still a gap: not again at once
      buffer.push([name, p]); // replayed after the reload: stale then, but `stale` may need it
      sync();
      return;
    }
    if (verdict === IGNORE) {
      if (stale) run(stale, name, p);
      return;
    }
    if (typeof p.version === 'number') version = p.version;
    if (run(apply, name, p)) lastUpdate = new Date();
  }

  function close() {
    closed = true;
    clearTimeout(retry);
    retry = null;
  }

  const socket = connect(auth);
  if (!socket) { // no socket client: show the state once, marked offline
    sync().then(() => status(false));
    return { socket: null, resync: sync, version: () => version, current, close };
  }
  socket.on('connect', () => { status(true); sync(); });
  socket.on('disconnect', () => status(false));
  socket.on('connect_error', () => status(false));
  Object.keys(events).forEach((name) => socket.on(name, (p) => handle(name, p)));
  if (Object.values(events).includes(STEP)) socket.on(EVENTS.STEPS, (p) => unpack(p).forEach((e) => handle(e.event, e)));
  return { socket, resync: sync, version: () => version, current, close };
}
