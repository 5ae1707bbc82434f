/* The service worker of the customer's pages (served at /sw.js, scope /): it shows what the
   server pushes (a ticket's "almost your turn" and call, a booking's reminder) and opens or
   focuses that page on a click. It caches nothing and handles no fetch. */

self.addEventListener('install', () => { self.skipWaiting(); });
self.addEventListener('activate', (event) => { event.waitUntil(self.clients.claim()); });

function readPayload(event) {
  if (!event.data) return {};
  try {
    return event.data.json() || {};
  } catch {
    return { body: event.data.text() };
  }
}

self.addEventListener('push', (event) => {
  const data = readPayload(event);
  const options = {
    body: data.body || '',
    lang: data.lang || undefined,
    data: { url: typeof data.url === 'string' ? data.url : '/' },
  };
  if (data.tag) {
    options.tag = data.tag;
    options.renotify = true; // a newer message about the same ticket alerts again
  }
  event.waitUntil(self.registration.showNotification(data.title || '', options));
});

self.addEventListener('notificationclick', (event) => {
  event.notification.close();
  const wanted = (event.notification.data && event.notification.data.url) || '/';
  const url = new URL(wanted, self.location.origin);
  if (url.origin !== self.location.origin) return; // only this site's own pages
  event.waitUntil((async () => {
    const windows = await self.clients.matchAll({ type: 'window', includeUncontrolled: true });
    const open = windows.find((w) => new URL(w.url).pathname === url.pathname);
    if (open) return open.focus();
    return self.clients.openWindow(url.href);
  })());
});
