// The printed ticket's date and time, and the waits customers read, on the store's clock: a device
// set to another time zone (here Los Angeles, 16 hours behind Shanghai) must not change either.
import assert from 'node:assert/strict';
import { beforeEach, describe, it } from 'node:test';

import { setPageConfig } from '../../static/js/lib/config.js';
import { setStrings } from '../../static/js/lib/i18n.js';
import {
  callAtText, makeCalendar, storeDateTime, storeDay, waitText, whenText,
} from '../../static/js/lib/time.js';

process.env.TZ = 'America/Los_Angeles'; // the device's own zone, far from the store's

const STRINGS = {
  eta: '约 {lo}–{hi} 分钟',
  eta_one: '约 {n} 分钟',
  eta_no_staffed_counter: '暂无窗口办理，请稍候',
  eta_store_closed: '现已停止营业',
  eta_confirm_arrival: '请先确认到店',
  call_at: '预计 {time} 前后',
  when_today: '今天 {time}',
  when_tomorrow: '明天 {time}',
  when_day: '{day} {time}',
};

beforeEach(() => {
  setPageConfig({ lang: 'zh', timezone: 'Asia/Shanghai' });
  setStrings(STRINGS);
});

describe('the printed ticket', () => {
  it('prints the date and the time of the store, not of the device', () => {
    // 2 December 03:55 in Shanghai is still 1 December (11:55) on this device.
    const issued = '2026-12-01T19:55:00Z';
    assert.equal(new Date(issued).getDate(), 1); // the device really is elsewhere
    assert.equal(storeDateTime(issued), '2026-12-02 03:55');
    assert.equal(storeDateTime('2026-12-01T19:55:00'), '2026-12-02 03:55'); // no offset: UTC
    assert.equal(storeDay('2026-12-31T16:30:00Z'), '2027-01-01');
    assert.equal(storeDateTime(null), '');
  });

  it('uses the zone of the store it is for', () => {
    setPageConfig({ lang: 'zh', timezone: 'Europe/London' });
    assert.equal(storeDateTime('2026-12-01T19:55:00Z'), '2026-12-01 19:55');
    assert.equal(makeCalendar('Asia/Tokyo')('2026-12-01T15:30:00Z'), '2026-12-02');
  });

  it('falls back to the device zone only without a usable zone', () => {
    assert.equal(makeCalendar('Mars/Olympus_Mons')('2026-12-01T19:55:00Z'), '2026-12-01');
    assert.equal(makeCalendar('')('2026-12-01T19:55:00Z'), '2026-12-01');
  });
});

describe('waits without an estimate', () => {
  it('says why there is none instead of a made-up 0-1 minutes', () => {
    assert.equal(waitText([0, 1], null), '约 0–1 分钟');
    assert.equal(waitText(null, 'no_staffed_counter'), '暂无窗口办理，请稍候');
    assert.equal(waitText(null, 'store_closed'), '现已停止营业');
    assert.equal(waitText(null, 'confirm_arrival'), '请先确认到店');
    assert.equal(waitText(null, 'a_reason_this_page_has_no_text_for'), '');
    assert.equal(waitText(null, null), '');
  });

  it('gives the expected call time on the store clock', () => {
    assert.equal(callAtText('2026-12-02T02:20:00Z'), '预计 10:20 前后');
    assert.equal(callAtText(null), '');
  });
});

describe('the next opening', () => {
  const now = new Date('2026-12-01T14:00:00Z'); // 22:00 in Shanghai, 06:00 on the device

  it('says today, tomorrow or the day, in the store zone', () => {
    assert.equal(whenText('2026-12-02T01:00:00Z', now), '明天 09:00');
    assert.equal(whenText('2026-12-01T15:00:00Z', now), '今天 23:00');
    assert.equal(whenText('2026-12-04T01:00:00Z', now), '12月4日 周五 09:00');
    assert.equal(whenText(null, now), '');
  });
});
