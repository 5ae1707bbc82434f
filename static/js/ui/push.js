/* "Notify me on this phone": the service worker, the browser's permission and its Web Push
   subscription, handed to the server for one ticket or one booking (and taken back). Mounted by
   one call from a page: mountPush(path), path being the API's …/push-subscription of the page. */
import { ApiError, api } from '../lib/api.js';
import { byId as $, setText } from '../lib/dom.js';
import { t } from '../lib/i18n.js';

const WORKER = '/sw.js';
const remembered = (path) => 'hq-push:' + path;

function supported() {
  return 'serviceWorker' in navigator && 'PushManager' in window && 'Notification' in window;
}

function keyBytes(base64url) {
  const text = base64url.replace(/-/g, '+').replace(/_/g, '/');
  const raw = atob(text + '='.repeat((4 - (text.length % 4)) % 4));
  return Uint8Array.from(raw, (c) => c.charCodeAt(0));
}

function asBody(sub) {
  const json = sub.toJSON();
  return { endpoint: json.endpoint, keys: { p256dh: json.keys.p256dh, auth: json.keys.auth } };
}

function remember(path, on) {
  try {
    if (on) localStorage.setItem(remembered(path), '1');
    else localStorage.removeItem(remembered(path));
  } catch { /* private mode: the state lasts as long as the page */ }
}

function wasOn(path) {
  try { return localStorage.getItem(remembered(path)) === '1'; } catch { return false; }
}

export function mountPush(path) {
  const box = $('push-box');
  if (!box) return null;
  const on = $('push-on');
  const off = $('push-off');
  const msg = $('push-msg');
  let registration = null;

  function show(state, text) {
    box.dataset.state = state;
    on.hidden = state === 'on';
    off.hidden = state !== 'on';
    on.disabled = off.disabled = state === 'busy';
    setText(msg, text || '');
    msg.hidden = !text;
    if (state === 'busy') return;
    // Lines that hold only while notifications are on (or off): "a notification 2 h before".
    box.querySelectorAll('[data-push-when]').forEach((el) => {
      el.hidden = el.dataset.pushWhen !== (state === 'on' ? 'on' : 'off');
    });
  }

  async function send(sub) {
    await api(path, asBody(sub));
    remember(path, true);
    show('on', t('push_on'));
  }

  async function turnOn() {
    show('busy', t('push_working'));
    try {
      const permission = await Notification.requestPermission();
      if (permission !== 'granted') {
        show('off', t('push_denied'));
        return;
      }
      const { public_key: key } = await api('/push/public-key');
      let sub = await registration.pushManager.getSubscription();
      if (!sub) {
        sub = await registration.pushManager.subscribe({
          userVisibleOnly: true, applicationServerKey: keyBytes(key),
        });
      }
      await send(sub);
    } catch (err) {
      show('off', err instanceof ApiError ? err.message : t('push_failed'));
    }
  }

  async function turnOff() {
    show('busy', t('push_working'));
    try {
      const sub = await registration.pushManager.getSubscription();
      if (sub) await api(path, { endpoint: sub.endpoint }, { method: 'DELETE' });
      remember(path, false);
      show('off', t('push_off'));
    } catch (err) {
      show('on', err instanceof ApiError ? err.message : t('push_failed'));
    }
  }

  async function start() {
    if (!supported() || !on || !off) {
      // Nothing to turn on here: no line may promise a notification.
      box.querySelectorAll('[data-push-when]').forEach((el) => { el.hidden = true; });
      return;
    }
    try {
      registration = await navigator.serviceWorker.register(WORKER, { scope: '/' });
    } catch {
      // No service worker (an insecure origin): nothing to turn on.
      box.querySelectorAll('[data-push-when]').forEach((el) => { el.hidden = true; });
      return;
    }
    if (box.dataset.finished) return; // the visit ended meanwhile (status.js)
    box.hidden = false;
    on.addEventListener('click', turnOn);
    off.addEventListener('click', turnOff);
    const sub = await registration.pushManager.getSubscription().catch(() => null);
    if (sub && wasOn(path) && Notification.permission === 'granted') {
      show('on', '');
      send(sub).catch(() => show('off', t('push_failed'))); // the server may have dropped it
    } else {
      show('off', '');
    }
  }

  start();
  return { box };
}
