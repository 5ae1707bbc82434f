// The live floor's arithmetic: durations on the server's clock, and the alerts of a floor state.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import {
  canTakeCall, clockOffset, duration, elapsedMs, floorAlerts, isLong, visitSince,
} from '../../static/js/lib/floor.js';

const at = (iso) => Date.parse(iso);
const NOW = at('2026-11-26T01:30:00Z');

function state(overrides = {}) {
  return Object.assign({
    store: { wait_target_minutes: 20 },
    lanes: [
      { lane: 'fast', name: 'Fast lane', waiting: 1, unserved: 0, helped: 0 },
      { lane: 'standard', name: 'Standard', waiting: 2, unserved: 0, helped: 0 },
    ],
    waiting: [
      { id: 1, label: 'C001', lane: 'standard', issued_at: '2026-11-26T01:00:00Z' },
      { id: 2, label: 'C002', lane: 'standard', issued_at: '2026-11-26T01:05:00Z' },
      { id: 3, label: 'A003', lane: 'fast', issued_at: '2026-11-26T01:29:00Z' },
    ],
    counters: [],
  }, overrides);
}

describe('times on the server clock', () => {
  it('keeps the difference between the server and the device', () => {
    assert.equal(clockOffset('2026-11-26T01:30:00Z', at('2026-11-26T01:29:00Z')), 60000);
    assert.equal(clockOffset(null, 5), 0);
  });

  it('counts from a server timestamp, never below zero', () => {
    assert.equal(elapsedMs('2026-11-26T01:29:30Z', NOW), 30000);
    assert.equal(elapsedMs('2026-11-26T01:31:00Z', NOW), 0);
    assert.equal(elapsedMs(null, NOW), null);
  });

  it('shows minutes and seconds, hours when it takes that long', () => {
    assert.equal(duration(754000), '12:34');
    assert.equal(duration(3723000), '1:02:03');
    assert.equal(duration(0), '0:00');
    assert.equal(duration(null), '');
  });

  it('times a visit from its start, else from its call', () => {
    assert.equal(visitSince({ called_at: 'a', started_at: 'b' }), 'b');
    assert.equal(visitSince({ called_at: 'a', started_at: null }), 'a');
    assert.equal(visitSince(null), null);
  });
});

describe('floorAlerts', () => {
  it('is calm when every wait is within the target', () => {
    assert.deepEqual(floorAlerts(state(), at('2026-11-26T01:19:00Z')), []);
  });

  it('names the waits past the target per lane, with the longest', () => {
    const alerts = floorAlerts(state(), NOW);
    assert.deepEqual(alerts, [{
      kind: 'wait', lane: 'standard', key: 'alert_wait',
      params: { lane: 'Standard', n: 2, target: 20, label: 'C001', m: 30 },
    }]);
  });

  it('raises nothing for waits when the store has no target', () => {
    assert.deepEqual(floorAlerts(state({ store: { wait_target_minutes: 0 } }), NOW), []);
  });

  it('puts a lane nobody serves first', () => {
    const lanes = [{ lane: 'vip', name: 'VIP', waiting: 2, unserved: 2, helped: 2 },
      { lane: 'fast', name: 'Fast lane', waiting: 1, unserved: 1, helped: 0 }];
    const alerts = floorAlerts(state({ lanes, waiting: [] }), NOW);
    assert.deepEqual(alerts.map((a) => [a.kind, a.lane, a.key]), [
      ['unserved', 'vip', 'alert_unserved_helped'],
      ['unserved', 'fast', 'alert_unserved'],
    ]);
  });

  it('flags a visit at twice its expected minutes and at least five more', () => {
    const visit = (started, expected) => ({
      number: 2, name: 'Counter 2', status: 'open',
      current: { label: 'A001', called_at: started, started_at: started, expected_minutes: expected },
    });
    const long = visit('2026-11-26T01:22:00Z', 3); // 8 min of a 3-minute top-up
    const notYet = visit('2026-11-26T01:23:00Z', 3); // 7 min: not 3 + 5 yet
    const plan = visit('2026-11-26T01:05:00Z', 12); // 25 min of 12: twice, and then some
    assert.equal(isLong(long.current, NOW), true);
    assert.equal(isLong(notYet.current, NOW), false);
    const alerts = floorAlerts(state({ waiting: [], counters: [long, notYet, plan] }), NOW);
    assert.deepEqual(alerts.map((a) => [a.kind, a.params.m, a.params.e]), [['long', 8, 3], ['long', 25, 12]]);
  });

  it('says when a ticket is left open at a counter nobody is signed in at', () => {
    const left = { number: 1, name: 'Counter 1', status: 'closed', current: { label: 'B002', called_at: '2026-11-26T01:29:00Z' } };
    const alerts = floorAlerts(state({ waiting: [], counters: [left] }), NOW);
    assert.deepEqual(alerts, [{ kind: 'orphan', counter: 1, key: 'alert_orphan', params: { counter: 'Counter 1', label: 'B002' } }]);
  });
});

describe('canTakeCall', () => {
  it('only an open counter with nobody at it', () => {
    assert.equal(canTakeCall({ status: 'open', current: null }), true);
    assert.equal(canTakeCall({ status: 'open', current: { id: 1 } }), false);
    assert.equal(canTakeCall({ status: 'paused', current: null }), false);
    assert.equal(canTakeCall({ status: 'closed', current: null }), false);
  });
});
