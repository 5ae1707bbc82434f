/* The kiosk's access toggles on every kiosk screen: "大字 / Large text" (bigger type, fewer cards
   per row, higher contrast: the `large-text` class on <html>) and "语音引导 / Spoken guidance"
   (the display's offline voice pack reads the printed number). Both carry over between the
   kiosk's screens for one customer (sessionStorage) and are reset when the kiosk goes back to the
   start after its idle time (resetAccess). */
import { pageConfig } from '../lib/config.js';
import { playPackClips, ticketClips } from '../lib/voice.js';

const KEY = 'kiosk-access';
const store = () => { try { return window.sessionStorage; } catch { return null; } };

function read() {
  try {
    return JSON.parse(store()?.getItem(KEY) || '{}') || {};
  } catch {
    return {};
  }
}

function write(state) { store()?.setItem(KEY, JSON.stringify(state)); }

function apply(state) {
  document.documentElement.classList.toggle('large-text', !!state.large);
  const large = document.getElementById('large-text');
  const voice = document.getElementById('voice-guide');
  if (large) large.setAttribute('aria-pressed', String(!!state.large));
  if (voice) voice.setAttribute('aria-pressed', String(!!state.voice));
}

export function accessState() { return read(); }

/* Back to the start for the next customer: normal text, no voice. */
export function resetAccess() {
  write({});
  apply({});
}

/* Spoken guidance on: read a printed number aloud with the pack's clips (else nothing). */
export function sayTicket(label, service) {
  if (!read().voice || !label) return Promise.resolve([]);
  return playPackClips(ticketClips(pageConfig().lang === 'en' ? 'en' : 'zh', label, service || ''));
}

function toggle(name) {
  const state = read();
  state[name] = !state[name];
  write(state);
  apply(state);
}

apply(read());
// The printed ticket: its number read out when the customer asked for spoken guidance.
const printed = document.querySelector('[data-say-ticket]');
if (printed) sayTicket(printed.textContent.trim(), printed.dataset.service);
document.getElementById('large-text')?.addEventListener('click', () => toggle('large'));
document.getElementById('voice-guide')?.addEventListener('click', () => toggle('voice'));
