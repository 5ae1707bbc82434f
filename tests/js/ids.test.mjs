// Request keys (the kiosk's Idempotency-Key, the counter's request_id): random v4 UUIDs, also
// where crypto.randomUUID is missing (plain http on a store PC).
import assert from 'node:assert/strict';
import { webcrypto } from 'node:crypto';
import { describe, it } from 'node:test';

import { randomKey } from '../../static/js/lib/ids.js';

const V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('randomKey', () => {
  it('is a fresh v4 UUID each time', () => {
    const keys = new Set(Array.from({ length: 50 }, () => randomKey()));
    assert.equal(keys.size, 50);
    keys.forEach((k) => assert.match(k, V4));
  });

  it('builds one from random bytes without randomUUID', () => {
    const bare = { getRandomValues: (a) => webcrypto.getRandomValues(a) };
    const k = randomKey(bare);
    assert.match(k, V4);
    assert.notEqual(randomKey(bare), k);
  });
});
