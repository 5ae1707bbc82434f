// The display's calls: one announcement per call and recall, counters updated from thin events.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { announceKey, callKey, callOf, patchCounters } from '../../static/js/lib/calls.js';

const brief = (over) => Object.assign({
  id: 7, label: 'A001', service: 'A', lane: 'fast', status: 'called', channel: 'kiosk', counter: 2,
  issued_at: '2026-11-26T01:30:00Z', called_at: '2026-11-26T01:40:00Z', recall_count: 0,
}, over);

describe('calls', () => {
  it('makes a call from a brief, the event counter first', () => {
    assert.deepEqual(callOf(brief(), 3), {
      ticket_id: 7, label: 'A001', counter: 3, lane: 'fast', channel: 'kiosk',
      called_at: '2026-11-26T01:40:00Z', recall_count: 0,
    });
    assert.equal(callOf(brief(), null).counter, 2);
  });

  it('keys an announcement by the call and its recall count', () => {
    const first = callOf(brief());
    const recall = callOf(brief({ recall_count: 1 }));
    const again = callOf(brief({ called_at: '2026-11-26T02:00:00Z' })); // called again after a transfer
    assert.equal(callKey(first), callKey(recall));
    assert.notEqual(announceKey(first), announceKey(recall));
    assert.notEqual(callKey(first), callKey(again));
    // a snapshot's recent call (no recall count) is the same announcement as the first call
    assert.equal(announceKey({ ticket_id: 7, called_at: '2026-11-26T01:40:00Z' }), announceKey(first));
  });
});

describe('patchCounters', () => {
  const counters = [
    { number: 1, status: 'open', current: null },
    { number: 2, status: 'open', current: brief({ id: 5, label: 'A000', status: 'serving' }) },
  ];

  it('shows a called ticket at its counter', () => {
    const after = patchCounters(counters, brief({ counter: 1 }), 1);
    assert.equal(after[0].current.label, 'A001');
    assert.equal(after[1].current.label, 'A000');
    assert.equal(counters[0].current, null); // the given list is not changed
  });

  it('takes a finished ticket off its counter', () => {
    const after = patchCounters(counters, brief({ id: 5, status: 'done' }), 2);
    assert.equal(after[1].current, null);
    assert.equal(after[0].current, null);
  });

  it('moves a ticket resumed at another counter', () => {
    const after = patchCounters(counters, brief({ id: 5, status: 'serving', counter: 1 }), null);
    assert.equal(after[0].current.id, 5);
    assert.equal(after[1].current, null);
  });

  it('changes nothing for an event without a ticket, or a waiting ticket elsewhere', () => {
    assert.equal(patchCounters(counters, null, 2), counters);
    assert.deepEqual(patchCounters(counters, brief({ id: 9, status: 'waiting', counter: null }), null), counters);
  });
});
