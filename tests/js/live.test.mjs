// The versioned live subscription: which events are applied, ignored or make it reload.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { EVENTS } from '../../static/js/lib/events.js';
import { APPLY, IGNORE, RESYNC, STATE, STEP, STORE_ROOM, TICKET_ROOM, decide, live } from '../../static/js/lib/live.js';

/* Waits until check() holds (polling), or fails after a generous deadline: never a fixed sleep. */
async function until(check, deadlineMs = 5000) {
  const end = Date.now() + deadlineMs;
  while (!check()) {
    if (Date.now() > end) throw new Error('the expected signal never came');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

const settle = () => new Promise((resolve) => setImmediate(resolve));

function fakeSocket() {
  const handlers = {};
  return {
    on(name, fn) { (handlers[name] = handlers[name] || []).push(fn); },
    emit(name, payload) { (handlers[name] || []).forEach((fn) => fn(payload)); },
    listens: (name) => !!handlers[name],
  };
}

/* A loader whose answers the test hands out one by one (load() waits for them). */
function fakeLoader() {
  const waiting = [];
  const loader = () => new Promise((resolve, reject) => waiting.push({ resolve, reject }));
  loader.calls = () => waiting.length;
  loader.answer = async (version) => { waiting[waiting.length - 1].resolve(version); await settle(); };
  loader.fail = async () => { waiting[waiting.length - 1].reject(new Error('down')); await settle(); };
  return loader;
}

function subscribe(events = STORE_ROOM, extra = {}) {
  const socket = fakeSocket();
  const load = fakeLoader();
  const applied = [];
  const stale = [];
  const statuses = [];
  const sub = live({
    auth: { store: 'demo', role: 'display' },
    events,
    load,
    apply: (name, p) => applied.push([name, p.version]),
    stale: (name, p) => stale.push([name, p.version]),
    onStatus: (online) => statuses.push(online),
    connect: (auth) => { socket.auth = auth; return socket; },
    retryMs: 20,
    ...extra,
  });
  return { socket, load, applied, stale, statuses, sub };
}

async function connected(version, events) {
  const s = subscribe(events);
  s.socket.emit('connect');
  await s.load.answer(version);
  return s;
}

describe('decide', () => {
  it('applies the next step, ignores old ones and reloads on a gap', () => {
    assert.equal(decide(STEP, 11, 10), APPLY);
    assert.equal(decide(STEP, 10, 10), IGNORE);
    assert.equal(decide(STEP, 3, 10), IGNORE);
    assert.equal(decide(STEP, 12, 10), RESYNC);
    assert.equal(decide(STEP, 0, -1), APPLY);
    assert.equal(decide(STEP, 5, -1), RESYNC);
  });

  it('applies a full state at or above the known version, never reloads for it', () => {
    assert.equal(decide(STATE, 10, 10), APPLY);
    assert.equal(decide(STATE, 25, 10), APPLY);
    assert.equal(decide(STATE, 9, 10), IGNORE);
  });

  it('applies an unversioned payload', () => {
    assert.equal(decide(STEP, undefined, 10), APPLY);
    assert.equal(decide(STATE, null, 10), APPLY);
  });

  it('knows every store event as a step and queue_updated as a state', () => {
    assert.equal(STORE_ROOM[EVENTS.CALLED], STEP);
    assert.equal(STORE_ROOM[EVENTS.COUNTER_CHANGED], STEP);
    assert.equal(STORE_ROOM[EVENTS.PARKED], STEP);
    assert.equal(STORE_ROOM[EVENTS.QUEUE_UPDATED], STATE);
    assert.equal(STORE_ROOM[EVENTS.TICKET], undefined);
    assert.deepEqual(Object.keys(TICKET_ROOM), [EVENTS.TICKET]);
  });
});

describe('live', () => {
  it('loads on connect and listens to the events it was given', async () => {
    const s = subscribe();
    assert.deepEqual(s.socket.auth, { store: 'demo', role: 'display' });
    assert.equal(s.socket.listens('called'), true);
    assert.equal(s.socket.listens('queue_updated'), true);
    assert.equal(s.socket.listens('ticket'), false);
    assert.equal(s.load.calls(), 0);
    s.socket.emit('connect');
    assert.equal(s.load.calls(), 1);
    assert.deepEqual(s.statuses, [true]);
    await s.load.answer(10);
    assert.equal(s.sub.version(), 10);
  });

  it("tells a command's answer older than the event already shown from a current one", async () => {
    // The phone rejoins; the rejoin's event (version 14) is shown before the POST's answer
    // arrives, whose place in the queue comes from an older projection (version 9).
    const page = subscribe(TICKET_ROOM);
    page.socket.emit('connect');
    await page.load.answer(9);
    assert.equal(page.sub.current(9), true);
    page.socket.emit('ticket', { version: 14, ticket: { status: 'waiting', position: 3 } });
    assert.equal(page.sub.version(), 14);
    assert.equal(page.sub.current(9), false); // older than what is shown: not to be rendered
    assert.equal(page.sub.current(14), true);
    assert.equal(page.sub.current(15), true);
    assert.equal(page.sub.current(undefined), true); // unversioned: nothing to compare
  });

  it('applies thin events in order and hands older ones to stale', async () => {
    const s = await connected(10);
    s.socket.emit('issued', { version: 11, event: 'issued', ticket: null, counter: null });
    s.socket.emit('called', { version: 12, event: 'called', ticket: null, counter: 2 });
    s.socket.emit('called', { version: 12, event: 'called', ticket: null, counter: 2 });
    s.socket.emit('started', { version: 7, event: 'started', ticket: null, counter: 2 });
    assert.deepEqual(s.applied, [['issued', 11], ['called', 12]]);
    assert.deepEqual(s.stale, [['called', 12], ['started', 7]]);
    assert.equal(s.sub.version(), 12);
    assert.equal(s.load.calls(), 1);
  });

  it('handles the thin events of one steps frame in order, as if each had come alone', async () => {
    const s = await connected(10);
    assert.equal(s.socket.listens('steps'), true);
    s.socket.emit('steps', {
      version: 12,
      events: [
        { version: 11, event: 'completed', ticket: null, counter: 2 },
        { version: 12, event: 'called', ticket: null, counter: 2 },
      ],
    });
    s.socket.emit('steps', { version: 12, events: [{ version: 12, event: 'called' }, null, { version: 13 }] });
    s.socket.emit('steps', { version: 13 }); // malformed: nothing to handle
    assert.deepEqual(s.applied, [['completed', 11], ['called', 12]]);
    assert.deepEqual(s.stale, [['called', 12]]); // the same call again: stale, not applied twice
    assert.equal(s.sub.version(), 12);
    assert.equal(s.load.calls(), 1);
    const page = subscribe(TICKET_ROOM);
    assert.equal(page.socket.listens('steps'), false); // a ticket's page follows its own view only
  });

  it('reloads once on a gap, then replays what arrived meanwhile', async () => {
    const s = await connected(10);
    s.socket.emit('called', { version: 14 }); // 11..13 were lost
    assert.equal(s.load.calls(), 2);
    s.socket.emit('queue_updated', { version: 14 }); // while loading: kept for later
    s.socket.emit('started', { version: 15 });
    s.socket.emit('completed', { version: 17 }); // another gap, but a reload is already on its way
    assert.equal(s.load.calls(), 2);
    assert.deepEqual(s.applied, []);
    await s.load.answer(14);
    // the gap event is older than the state now (stale), the rest follows in order
    assert.deepEqual(s.stale, [['called', 14]]);
    assert.deepEqual(s.applied, [['queue_updated', 14], ['started', 15]]);
    // 17 is still ahead of 15: not reloaded again at once, but a little later
    assert.equal(s.load.calls(), 2);
    await until(() => s.load.calls() === 3); // the delayed reload comes (a positive signal)
    await s.load.answer(17);
    assert.equal(s.sub.version(), 17);
    s.sub.close();
  });

  it('takes a full state at an equal or newer version and skips an older one', async () => {
    const s = await connected(10);
    s.socket.emit('queue_updated', { version: 10 });
    s.socket.emit('queue_updated', { version: 13 }); // supersedes: no reload for the jump
    s.socket.emit('queue_updated', { version: 12 });
    s.socket.emit('issued', { version: 14 });
    assert.deepEqual(s.applied, [['queue_updated', 10], ['queue_updated', 13], ['issued', 14]]);
    assert.deepEqual(s.stale, [['queue_updated', 12]]);
    assert.equal(s.load.calls(), 1);
    assert.equal(s.sub.version(), 14);
  });

  it('follows a ticket: any version at or above the known one', async () => {
    const s = await connected(5, TICKET_ROOM);
    s.socket.emit('ticket', { version: 5, ticket: { id: 1 } });
    s.socket.emit('ticket', { version: 9, ticket: { id: 1 } });
    s.socket.emit('ticket', { version: 8, ticket: { id: 1 } });
    assert.deepEqual(s.applied, [['ticket', 5], ['ticket', 9]]);
    assert.equal(s.load.calls(), 1);
  });

  it('retries a failed load and applies nothing it cannot place', async () => {
    const s = subscribe();
    s.socket.emit('connect');
    s.socket.emit('called', { version: 3 }); // buffered during the load
    await s.load.fail();
    assert.equal(s.sub.version(), -1);
    assert.deepEqual(s.applied, []);
    await until(() => s.load.calls() === 2); // the retry comes (a positive signal)
    await s.load.answer(3);
    s.socket.emit('recalled', { version: 4 });
    assert.deepEqual(s.applied, [['recalled', 4]]);
    s.sub.close();
  });

  it('reloads when applying an event fails, so the page is never half-updated', async () => {
    const errors = [];
    const original = console.error;
    console.error = (e) => errors.push(e);
    try {
      const s = subscribe(STORE_ROOM, { apply: () => { throw new Error('render failed'); } });
      s.socket.emit('connect');
      await s.load.answer(1);
      s.socket.emit('issued', { version: 2 });
      assert.equal(errors.length, 1);
      assert.equal(s.load.calls(), 2);
    } finally {
      console.error = original;
    }
  });

  it('reports the connection state', async () => {
    const s = await connected(1);
    s.socket.emit('disconnect');
    s.socket.emit('connect_error');
    s.socket.emit('connect');
    assert.deepEqual(s.statuses, [true, false, false, true]);
    assert.equal(s.load.calls(), 2); // a reconnect reloads
  });

  it('without a socket client shows the state once, marked offline', async () => {
    const load = fakeLoader();
    const statuses = [];
    const sub = live({ auth: {}, events: STORE_ROOM, load, apply: () => {}, onStatus: (on) => statuses.push(on), connect: () => null });
    assert.equal(sub.socket, null);
    assert.equal(load.calls(), 1);
    await load.answer(4);
    assert.deepEqual(statuses, [false]);
    assert.equal(sub.version(), 4);
  });
});
