// Translations from the server's JSON blocks: placeholders, slots, names in the page language.
import assert from 'node:assert/strict';
import { beforeEach, describe, it } from 'node:test';

import { readJSON, setPageConfig } from '../../static/js/lib/config.js';
import {
  format, hasText, laneName, localName, setStrings, slotParts, statusName, t,
} from '../../static/js/lib/i18n.js';

beforeEach(() => {
  setPageConfig({ lang: 'en' });
  setStrings({
    go_counter: 'Please go to counter {n}',
    say_en: 'Number {label}, please go to counter {counter}',
    lane_vip: 'VIP',
    status_no_show: 'No-show',
    price: '{n} of {n}',
  });
});

describe('t', () => {
  it('fills every placeholder it has a value for', () => {
    assert.equal(t('say_en', { label: 'A001', counter: 3 }), 'Number A001, please go to counter 3');
    assert.equal(t('price', { n: 2 }), '2 of 2');
    assert.equal(t('go_counter', { n: 0 }), 'Please go to counter 0');
  });

  it('leaves a placeholder without a value as it is', () => {
    assert.equal(t('say_en', { label: 'A001' }), 'Number A001, please go to counter {counter}');
    assert.equal(t('go_counter', { n: null }), 'Please go to counter {n}');
    assert.equal(t('go_counter'), 'Please go to counter {n}');
  });

  it('answers with the key when the server sent no text', () => {
    assert.equal(t('reason_training'), 'reason_training');
    assert.equal(hasText('reason_training'), false);
    assert.equal(hasText('lane_vip'), true);
  });

  it('formats any template', () => {
    assert.equal(format('{a}-{b}-{a}', { a: 1, b: 'x' }), '1-x-1');
    assert.equal(format('plain'), 'plain');
  });
});

describe('slotParts', () => {
  it('splits a template around its slots and puts the given parts in', () => {
    const node = { tag: 'span' };
    assert.deepEqual(slotParts('Please go to counter {n}', { n: node }), ['Please go to counter ', node, '']);
    assert.deepEqual(slotParts('请到 {n} 号窗口', { n: '3' }), ['请到 ', '3', ' 号窗口']);
    assert.deepEqual(slotParts('{a} and {b}', { a: 'x' }), ['', 'x', ' and ', '', '']);
    assert.deepEqual(slotParts('no slots', {}), ['no slots']);
  });
});

describe('names', () => {
  it('picks the name in the page language, else the plain name', () => {
    const service = { name: '缴费充值', name_zh: '缴费充值', name_en: 'Top-up & bill payment' };
    assert.equal(localName(service), 'Top-up & bill payment');
    setPageConfig({ lang: 'zh' });
    assert.equal(localName(service), '缴费充值');
    assert.equal(localName({ name: 'Counter 1' }), 'Counter 1');
    assert.equal(localName(null), '');
  });

  it('translates lanes and statuses by code', () => {
    assert.equal(laneName('vip'), 'VIP');
    assert.equal(laneName(''), '');
    assert.equal(statusName('no_show'), 'No-show');
    assert.equal(statusName(null), '');
  });
});

describe('readJSON', () => {
  const doc = (text) => ({ getElementById: (id) => (id === 'page-config' ? { textContent: text } : null) });

  it('parses the JSON block, or gives {} when it is missing or broken', () => {
    assert.deepEqual(readJSON('page-config', doc('{"store": "demo"}')), { store: 'demo' });
    assert.deepEqual(readJSON('page-config', doc('{oops')), {});
    assert.deepEqual(readJSON('page-config', doc('null')), {});
    assert.deepEqual(readJSON('i18n', doc('{}')), {});
    assert.deepEqual(readJSON('page-config', undefined), {});
  });
});
