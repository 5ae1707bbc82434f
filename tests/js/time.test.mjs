// Times shown in the store's zone whatever the device's, waits as text, slot arithmetic.
import assert from 'node:assert/strict';
import { beforeEach, describe, it, mock } from 'node:test';

import { setPageConfig } from '../../static/js/lib/config.js';
import { setStrings } from '../../static/js/lib/i18n.js';
import {
  addMinutes, clock, dayDate, dayText, etaText, makeClock, minutesSince, parseTime, plannedReturn, storeClock,
  throttle,
} from '../../static/js/lib/time.js';

const STRINGS = { eta: '约 {lo}–{hi} 分钟', eta_one: '约 {n} 分钟' };

beforeEach(() => {
  setPageConfig({ lang: 'zh', timezone: 'Asia/Shanghai' });
  setStrings(STRINGS);
});

describe('parseTime', () => {
  it('reads API times without an offset as UTC', () => {
    assert.equal(parseTime('2026-11-26T01:40:00').toISOString(), '2026-11-26T01:40:00.000Z');
    assert.equal(parseTime('2026-11-26T01:40:00Z').toISOString(), '2026-11-26T01:40:00.000Z');
    assert.equal(parseTime('2026-11-26T09:40:00+08:00').toISOString(), '2026-11-26T01:40:00.000Z');
  });

  it('gives null for nothing or nonsense', () => {
    assert.equal(parseTime(null), null);
    assert.equal(parseTime(''), null);
    assert.equal(parseTime('soon'), null);
  });
});

describe('clock', () => {
  const instant = '2026-11-26T01:40:05Z';

  it('shows the time in the zone it is made for', () => {
    assert.equal(makeClock('Asia/Shanghai')(instant), '09:40');
    assert.equal(makeClock('Asia/Shanghai')(instant, true), '09:40:05');
    assert.equal(makeClock('Asia/Urumqi')(instant), '07:40');
    assert.equal(makeClock('UTC')(new Date(instant), true), '01:40:05');
  });

  it('follows summer time where the zone has it', () => {
    assert.equal(makeClock('America/New_York')('2026-07-01T16:00:00Z'), '12:00');
    assert.equal(makeClock('America/New_York')('2026-12-01T16:00:00Z'), '11:00');
  });

  it('uses 00-23 hours', () => {
    assert.equal(makeClock('Asia/Shanghai')('2026-11-26T16:05:00Z'), '00:05');
    assert.equal(makeClock('Asia/Shanghai')('2026-11-26T15:05:00Z'), '23:05');
  });

  it("falls back to the device's zone for an unknown one", () => {
    const d = new Date(instant);
    const local = String(d.getHours()).padStart(2, '0') + ':' + String(d.getMinutes()).padStart(2, '0');
    assert.equal(makeClock('Mars/Olympus_Mons')(d), local);
    assert.equal(makeClock('')(d), local);
  });

  it("reads the store's zone from the page config", () => {
    assert.equal(clock(instant), '09:40');
    setPageConfig({ timezone: 'Europe/London' });
    assert.equal(clock(instant, true), '01:40:05');
    assert.equal(clock(null), '');
  });
});

describe('waits', () => {
  it('counts whole minutes since a time, never below zero', () => {
    const now = Date.parse('2026-11-26T01:40:00Z');
    assert.equal(minutesSince('2026-11-26T01:30:30Z', now), 9);
    assert.equal(minutesSince('2026-11-26T01:45:00Z', now), 0);
    assert.equal(minutesSince(null, now), null);
  });

  it('writes an ETA range or a single figure', () => {
    assert.equal(etaText([3, 8]), '约 3–8 分钟');
    assert.equal(etaText([5, 5]), '约 5 分钟');
    assert.equal(etaText(null), '');
    assert.equal(etaText([4]), '');
  });
});

describe('days and slots', () => {
  it('adds minutes to a store-local time, across midnight', () => {
    assert.equal(addMinutes('10:00', 15), '10:15');
    assert.equal(addMinutes('9:50', 20), '10:10');
    assert.equal(addMinutes('23:50', 20), '00:10');
    assert.equal(addMinutes('00:10', -20), '23:50');
    assert.equal(addMinutes('later', 5), '');
  });

  it('places an instant on the store clock from a known pair, not from the device zone', () => {
    assert.equal(storeClock('2026-11-26T02:15:00Z', '2026-11-26T01:45:00Z', '09:45'), '10:15');
    assert.equal(storeClock('2026-11-26T01:30:00Z', '2026-11-26T01:45:00Z', '09:45'), '09:30');
    assert.equal(storeClock('2026-11-26T01:30:00Z'), '09:30'); // no pair: the store zone
  });

  it('writes a day in each language', () => {
    assert.equal(dayDate('2026-11-27').toISOString(), '2026-11-27T00:00:00.000Z');
    assert.equal(dayDate('27.11.2026'), null);
    assert.equal(dayText('2026-11-27'), '11月27日 周五');
    assert.equal(dayText('2026-11-27', false), '11月27日');
    setPageConfig({ lang: 'en' });
    assert.equal(dayText('2026-11-27'), 'Fri, Nov 27');
    assert.equal(dayText('2026-11-27', false), 'Nov 27');
    assert.equal(dayText('someday'), 'someday');
  });
});

describe('throttle', () => {
  it('runs at once, then once more at the end of the interval', () => {
    // Mocked time: the test cannot depend on how fast a busy machine runs three calls.
    mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 1_000_000 });
    try {
      let runs = 0;
      const run = throttle(() => { runs += 1; }, 30);
      run();
      run();
      run();
      assert.equal(runs, 1);
      mock.timers.tick(29);
      assert.equal(runs, 1);
      mock.timers.tick(1);
      assert.equal(runs, 2); // the trailing call, once
      mock.timers.tick(100);
      assert.equal(runs, 2);
    } finally {
      mock.timers.reset();
    }
  });
});

describe('plannedReturn', () => {
  const at = Date.parse('2026-11-26T05:00:00Z'); // 13:00 in Shanghai
  it('gives the return while it is still to come, in the store clock', () => {
    const back = plannedReturn('2026-11-26T05:00:00Z', at - 60000);
    assert.equal(clock(back), '13:00');
  });
  it('never a return that has come or passed, nor a missing or bad one', () => {
    assert.equal(plannedReturn('2026-11-26T05:00:00Z', at), null);
    assert.equal(plannedReturn('2026-11-26T05:00:00Z', at + 1), null);
    assert.equal(plannedReturn(null, at), null);
    assert.equal(plannedReturn('soon', at), null);
  });
});
