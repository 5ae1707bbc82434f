/*
 * The display's voice: the device's own speech voice ("system") when it has one for the language,
 * otherwise the voice pack, short recorded clips played one after another ("clips"), or nothing
 * ("off"). `?voice=off|clips|system` (or page_config.voice, or "mode" in the store's own
 * static/voice/custom/manifest.json) forces a choice. The pack is static/voice/default/ with its
 * manifest.json (made by scripts/make_voice_pack.py); clips in static/voice/custom/ replace the
 * default ones of the same name (see static/voice/README.md).
 *
 * How a call is read (clip names):
 *   zh: 请 · the label, letters by name and digits one by one · 号 · 到 · the counter · 号窗口
 *       counters 1-99 as numbers are said (十, 十二, 二十, 二十三), larger ones digit by digit;
 *   en: Number · the label, letters and digits one by one · please go to counter · the counter
 *       (one ... nineteen, twenty, twenty three ...; larger ones digit by digit).
 * window.voicePlayed lists the clips played, in order (each once it has played to its end).
 */
import { t } from './i18n.js';

export const VOICE_OPTIONS = ['off', 'clips', 'system'];
const PACK_URL = new URL('../../voice/', import.meta.url); // static/voice/
const GAP_S = 0.06;      // silence between two clips
const START_S = 0.05;    // scheduling margin before the first clip
const SLACK_MS = 1500;   // a sequence that has not ended this long after it should have is given up

/* The first valid option among the values (URL, page config, store pack), else 'auto'. */
export function voiceOption(...values) {
  for (const v of values) {
    const option = String(v == null ? '' : v).trim().toLowerCase();
    if (VOICE_OPTIONS.includes(option)) return option;
  }
  return 'auto';
}

/* A counter number as spoken, as clip names: zh 23 -> zh-2 zh-10 zh-3, en 23 -> en-20 en-3. */
export function numberClips(lang, n) {
  const digits = (s) => [...s].map((d) => `${lang}-${d}`);
  const num = Number(n);
  if (!Number.isInteger(num) || num < 1 || num > 99) return digits(String(n).replace(/\D/g, ''));
  const tens = Math.floor(num / 10);
  const unit = num % 10;
  if (lang === 'zh') {
    if (num < 10) return [`zh-${num}`];
    return [...(tens > 1 ? [`zh-${tens}`] : []), 'zh-10', ...(unit ? [`zh-${unit}`] : [])];
  }
  if (num < 20) return [`en-${num}`];
  return [`en-${tens * 10}`, ...(unit ? [`en-${unit}`] : [])];
}

/* A ticket label read character by character: letters by name, digits one by one (others skipped). */
export function labelClips(lang, label) {
  return [...String(label).toUpperCase()].filter((c) => /[A-Z0-9]/.test(c)).map((c) => `${lang}-${c}`);
}

/* The clips announcing a call in a language ('zh' or 'en'), or [] for a language without a pack. */
export function callClips(lang, label, counter) {
  if (lang === 'zh') {
    return ['zh-qing', ...labelClips('zh', label), 'zh-hao', 'zh-dao', ...numberClips('zh', counter), 'zh-hao-chuangkou'];
  }
  if (lang === 'en') {
    return ['en-number', ...labelClips('en', label), 'en-please-go-to-counter', ...numberClips('en', counter)];
  }
  return [];
}

/* How a language is spoken: 'system', 'clips', 'off', or 'none' (nothing to speak with). */
export function chooseVoice(option, { voice = null, canSpeak = false, clips = false } = {}) {
  if (option === 'off') return 'off';
  if (option === 'clips' && clips) return 'clips';
  if (option === 'system' && canSpeak) return 'system'; // forced: the browser picks a voice itself
  if (voice) return 'system';
  return clips ? 'clips' : 'none';
}

/* The mark for the modes of the announced languages: system, clips, mixed, off or none. */
export function markOf(modes) {
  const used = new Set(modes.filter((m) => m === 'system' || m === 'clips'));
  if (used.size === 2) return 'mixed';
  if (used.size === 1) return [...used][0];
  return modes.length && modes.every((m) => m === 'off') ? 'off' : 'none';
}

/* The default manifest's clips with the store's own (same names) laid over them: name -> {url, ...}. */
export function mergePacks(...packs) {
  const clips = {};
  let mode = null;
  for (const pack of packs) {
    if (!pack || !pack.manifest || typeof pack.manifest.clips !== 'object') continue;
    Object.entries(pack.manifest.clips).forEach(([name, clip]) => {
      if (clip && typeof clip.file === 'string') clips[name] = Object.assign({}, clip, { url: new URL(clip.file, pack.base).href });
    });
    if (VOICE_OPTIONS.includes(pack.manifest.mode)) mode = pack.manifest.mode;
  }
  return { clips, mode };
}

async function fetchManifest(base) {
  try {
    const response = await fetch(new URL('manifest.json', base), { cache: 'no-cache' });
    return response.ok ? { base, manifest: await response.json() } : null;
  } catch {
    return null;
  }
}

const wait = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/*
 * The display's voice. findVoice(lang) resolves the device's voice for 'zh-CN' / 'en-US' (or null);
 * audio() is the page's AudioContext (unlocked by the sound overlay); langs() the announced ones;
 * the #voice-mark element shows what the hall will hear.
 */
export function createVoice({ option: wanted, findVoice, canSpeak, audio, langs }) {
  window.voicePlayed = [];
  const base = (lang) => String(lang).slice(0, 2).toLowerCase();
  const ready = Promise.all([fetchManifest(new URL('default/', PACK_URL)), fetchManifest(new URL('custom/', PACK_URL))])
    .then((packs) => mergePacks(...packs));
  const buffers = new Map(); // url -> Promise<AudioBuffer>
  let option = voiceOption(wanted);

  async function pack() {
    const merged = await ready;
    if (option === 'auto' && merged.mode) option = merged.mode;
    return merged;
  }
  const hasClips = (clips, lang) => callClips(base(lang), 'A0', 1).every((name) => clips[name]);

  async function choose(lang, voice) {
    const { clips } = await pack();
    return chooseVoice(option, { voice, canSpeak, clips: hasClips(clips, lang) });
  }

  let refreshes = 0;
  /* Decides again (voices arrived, languages changed) and updates the mark. */
  async function refresh() {
    const mine = ++refreshes;
    const modes = await Promise.all(langs().map(async (lang) => choose(lang, await findVoice(lang))));
    const state = markOf(modes);
    const mark = document.getElementById('voice-mark');
    if (mine !== refreshes || !mark) return;
    mark.dataset.voice = state;
    mark.textContent = t('voice_' + state);
    mark.hidden = false;
    if (modes.includes('clips')) preload();
  }

  function decode(ctx, url) {
    if (!buffers.has(url)) {
      const buffer = fetch(url).then((r) => {
        if (!r.ok) throw new Error(`${url}: ${r.status}`);
        return r.arrayBuffer();
      }).then((data) => ctx.decodeAudioData(data));
      buffer.catch(() => buffers.delete(url)); // try again next time
      buffers.set(url, buffer);
    }
    return buffers.get(url);
  }

  /* Web Audio: every clip scheduled back to back on the page's context; resolves when the last ends. */
  async function playBuffers(ctx, names, urls) {
    const list = await Promise.all(urls.map((url) => decode(ctx, url)));
    if (ctx.state !== 'running') return; // sound not enabled yet: the overlay says so
    let at = ctx.currentTime + START_S;
    const ends = list.map((buffer, i) => {
      const source = ctx.createBufferSource();
      source.buffer = buffer;
      source.connect(ctx.destination);
      const ended = new Promise((resolve) => { source.onended = resolve; }).then(() => { window.voicePlayed.push(names[i]); });
      source.start(at);
      at += buffer.duration + GAP_S;
      return ended;
    });
    const total = (at - ctx.currentTime) * 1000;
    await Promise.race([Promise.all(ends), wait(total + SLACK_MS)]);
  }

  /* Without Web Audio: <audio> elements, one after another. */
  async function playElements(names, urls) {
    for (let i = 0; i < urls.length; i += 1) {
      const el = new Audio(urls[i]);
      const ended = new Promise((resolve) => { el.onended = resolve; el.onerror = resolve; });
      try {
        await el.play();
      } catch {
        return; // autoplay refused
      }
      await Promise.race([ended, wait(10000)]);
      window.voicePlayed.push(names[i]);
      await wait(GAP_S * 1000);
    }
  }

  /* Plays a call's clips in a language; resolves when they have been heard (or given up). */
  async function say(call, lang) {
    const { clips } = await pack();
    const names = callClips(base(lang), call.label, call.counter).filter((name) => clips[name]);
    const urls = names.map((name) => clips[name].url);
    const ctx = audio();
    try {
      if (ctx) await playBuffers(ctx, names, urls);
      else await playElements(names, urls);
    } catch {
      // a clip that cannot be fetched or decoded: the chime and the screen still work
    }
  }

  /* Fetch and decode the pack ahead of the first call. */
  async function preload() {
    const ctx = audio();
    if (!ctx) return;
    const { clips } = await pack();
    await Promise.all(Object.values(clips).map((clip) => decode(ctx, clip.url).catch(() => null)));
  }

  const synth = window.speechSynthesis;
  if (synth && synth.addEventListener) synth.addEventListener('voiceschanged', () => refresh());
  refresh();
  return { choose, refresh, say };
}

/* The kiosk's spoken guidance: the chosen service, then the printed number ("A012 号" /
   "Number A012"). The service is said with the store's own clip `zh-service-<code>` /
   `en-service-<code>` (static/voice/custom/: service names are the store's, the default pack
   has none); without one, the number alone is read. */
export function ticketClips(lang, label, service = '') {
  const named = /^[A-Za-z0-9_-]{1,32}$/.test(service) ? [`${lang}-service-${service}`] : [];
  if (lang === 'zh') return [...named, ...labelClips('zh', label), 'zh-hao'];
  if (lang === 'en') return [...named, 'en-number', ...labelClips('en', label)];
  return [];
}

/* Plays named clips of the pack (the store's own over the default) one after another with
   <audio> elements; resolves when they have played (or could not). The clips played are listed
   in window.voicePlayed, as on the display. */
export async function playPackClips(names) {
  window.voicePlayed = window.voicePlayed || [];
  const packs = await Promise.all([fetchManifest(new URL('default/', PACK_URL)), fetchManifest(new URL('custom/', PACK_URL))]);
  const { clips } = mergePacks(...packs);
  const known = names.filter((name) => clips[name]);
  for (const name of known) {
    const el = new Audio(clips[name].url);
    const ended = new Promise((resolve) => { el.onended = resolve; el.onerror = resolve; });
    try {
      await el.play();
    } catch {
      return known; // the browser refused to play: nothing more to say
    }
    await Promise.race([ended, wait(10000)]);
    window.voicePlayed.push(name);
    await wait(GAP_S * 1000);
  }
  return known;
}
