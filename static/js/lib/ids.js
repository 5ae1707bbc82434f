/* Random request keys (Idempotency-Key, request_id): one per customer tap or clerk click, reused
   when the same tap is retried, so the server can answer a retry instead of acting twice. */

/* A v4 UUID; crypto.randomUUID only exists on https/localhost, and store PCs may use plain http. */
export function randomKey(cryptoImpl = globalThis.crypto) {
  if (cryptoImpl && typeof cryptoImpl.randomUUID === 'function') return cryptoImpl.randomUUID();
  const b = cryptoImpl.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const x = [...b].map((v) => v.toString(16).padStart(2, '0')).join('');
  return x.slice(0, 8) + '-' + x.slice(8, 12) + '-' + x.slice(12, 16) + '-' + x.slice(16, 20) + '-' + x.slice(20);
}
