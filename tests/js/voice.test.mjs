// The display's voice pack: how a call is read as clips, and which voice is chosen.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import {
  callClips, chooseVoice, labelClips, markOf, mergePacks, numberClips, ticketClips, voiceOption,
} from '../../static/js/lib/voice.js';

describe('clip sequences', () => {
  it('reads a call in Mandarin: label letter by letter, digit by digit, the counter as a number', () => {
    assert.deepEqual(callClips('zh', 'A001', 2), [
      'zh-qing', 'zh-A', 'zh-0', 'zh-0', 'zh-1', 'zh-hao', 'zh-dao', 'zh-2', 'zh-hao-chuangkou',
    ]);
  });

  it('reads a call in English', () => {
    assert.deepEqual(callClips('en', 'B120', 13), [
      'en-number', 'en-B', 'en-1', 'en-2', 'en-0', 'en-please-go-to-counter', 'en-13',
    ]);
  });

  it('says Mandarin counter numbers as numbers up to 99', () => {
    assert.deepEqual(numberClips('zh', 7), ['zh-7']);
    assert.deepEqual(numberClips('zh', 10), ['zh-10']);
    assert.deepEqual(numberClips('zh', 12), ['zh-10', 'zh-2']);
    assert.deepEqual(numberClips('zh', 20), ['zh-2', 'zh-10']);
    assert.deepEqual(numberClips('zh', 23), ['zh-2', 'zh-10', 'zh-3']);
    assert.deepEqual(numberClips('zh', '5'), ['zh-5']);
  });

  it('says English counter numbers with teens and tens', () => {
    assert.deepEqual(numberClips('en', 9), ['en-9']);
    assert.deepEqual(numberClips('en', 19), ['en-19']);
    assert.deepEqual(numberClips('en', 40), ['en-40']);
    assert.deepEqual(numberClips('en', 99), ['en-90', 'en-9']);
  });

  it('reads larger or odd counters digit by digit', () => {
    assert.deepEqual(numberClips('zh', 105), ['zh-1', 'zh-0', 'zh-5']);
    assert.deepEqual(numberClips('en', 0), ['en-0']);
  });

  it('keeps only letters and digits of a label', () => {
    assert.deepEqual(labelClips('en', 'v-07'), ['en-V', 'en-0', 'en-7']);
    assert.deepEqual(callClips('fr', 'A001', 1), []);
  });
});

describe('choice of voice', () => {
  const voice = { lang: 'zh-CN' };
  it('uses the device voice when there is one, else the clips, else nothing', () => {
    assert.equal(chooseVoice('auto', { voice, canSpeak: true, clips: true }), 'system');
    assert.equal(chooseVoice('auto', { voice: null, canSpeak: true, clips: true }), 'clips');
    assert.equal(chooseVoice('auto', { voice: null, canSpeak: true, clips: false }), 'none');
  });

  it('lets an option force one', () => {
    assert.equal(chooseVoice('off', { voice, canSpeak: true, clips: true }), 'off');
    assert.equal(chooseVoice('clips', { voice, canSpeak: true, clips: true }), 'clips');
    assert.equal(chooseVoice('system', { voice: null, canSpeak: true, clips: true }), 'system');
    // forced clips without a pack: the device's voice rather than silence
    assert.equal(chooseVoice('clips', { voice, canSpeak: true, clips: false }), 'system');
    assert.equal(chooseVoice('system', { voice: null, canSpeak: false, clips: true }), 'clips');
  });

  it('takes the first valid option', () => {
    assert.equal(voiceOption('CLIPS'), 'clips');
    assert.equal(voiceOption(null, 'loud', 'off'), 'off');
    assert.equal(voiceOption(undefined, ''), 'auto');
  });

  it('marks what the hall hears over the languages', () => {
    assert.equal(markOf(['clips', 'clips']), 'clips');
    assert.equal(markOf(['system']), 'system');
    assert.equal(markOf(['clips', 'system']), 'mixed');
    assert.equal(markOf(['clips', 'none']), 'clips');
    assert.equal(markOf(['off', 'off']), 'off');
    assert.equal(markOf(['none']), 'none');
    assert.equal(markOf([]), 'none');
  });
});

describe('packs', () => {
  it('lays the store clips over the default ones, by name', () => {
    const merged = mergePacks(
      { base: 'http://h/static/voice/default/', manifest: { clips: { 'zh-0': { file: 'zh-0.opus' }, 'zh-1': { file: 'zh-1.opus' } } } },
      null, // no custom folder
      { base: 'http://h/static/voice/custom/', manifest: { mode: 'clips', clips: { 'zh-1': { file: 'yi.mp3' }, bad: {} } } },
    );
    assert.equal(merged.clips['zh-0'].url, 'http://h/static/voice/default/zh-0.opus');
    assert.equal(merged.clips['zh-1'].url, 'http://h/static/voice/custom/yi.mp3');
    assert.equal(merged.clips.bad, undefined);
    assert.equal(merged.mode, 'clips');
  });
});

describe('the kiosk reads a printed ticket', () => {
  it('says the service with the store\'s own clip name, then the number', () => {
    assert.deepEqual(ticketClips('zh', 'A012', 'A'), ['zh-service-A', 'zh-A', 'zh-0', 'zh-1', 'zh-2', 'zh-hao']);
    assert.deepEqual(ticketClips('en', 'C3', 'C'), ['en-service-C', 'en-number', 'en-C', 'en-3']);
  });

  it('leaves out a service code that cannot be a clip name, and unknown languages', () => {
    assert.deepEqual(ticketClips('zh', 'A1', '../x'), ['zh-A', 'zh-1', 'zh-hao']);
    assert.deepEqual(ticketClips('fr', 'A1', 'A'), []);
  });
});
