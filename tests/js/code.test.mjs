// Check-in codes: the server's alphabet and length, typed or read from a QR code.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { DEFAULT_ALPHABET, cleanCode, codeFromQR, codeRules } from '../../static/js/lib/code.js';

const RULES = codeRules({});

describe('codeRules', () => {
  it('takes the alphabet and length from the page config when it has them', () => {
    assert.deepEqual(codeRules({ code_alphabet: 'abc123', code_length: 4 }), { alphabet: 'ABC123', length: 4 });
    assert.deepEqual(RULES, { alphabet: DEFAULT_ALPHABET, length: 6 });
    assert.deepEqual(codeRules({ code_alphabet: '', code_length: 0 }), { alphabet: DEFAULT_ALPHABET, length: 6 });
    assert.deepEqual(codeRules(null), { alphabet: DEFAULT_ALPHABET, length: 6 });
  });
});

describe('cleanCode', () => {
  it('keeps letters of the alphabet, upper-cased, up to the length', () => {
    assert.equal(cleanCode('ab-c d2e9', RULES), 'ABCD2E');
    assert.equal(cleanCode('0O1IL', RULES), ''); // look-alikes are not in the alphabet
    assert.equal(cleanCode('abcd', { alphabet: 'ABC', length: 6 }), 'ABC');
    assert.equal(cleanCode(null, RULES), '');
  });
});

describe('codeFromQR', () => {
  it('reads the code itself, a link with ?code=, or the last word of the right shape', () => {
    assert.equal(codeFromQR('k7pq2m', RULES), 'K7PQ2M');
    assert.equal(codeFromQR('https://hall.example/b/x?code=K7PQ2M', RULES), 'K7PQ2M');
    assert.equal(codeFromQR('https://hall.example/b/x?c=k7pq2m', RULES), 'K7PQ2M');
    assert.equal(codeFromQR('Booking HALLQU code K7PQ2M', RULES), 'K7PQ2M');
    assert.equal(codeFromQR('no code here', RULES), null);
    assert.equal(codeFromQR('ABCD', { alphabet: DEFAULT_ALPHABET, length: 4 }), 'ABCD');
  });
});
