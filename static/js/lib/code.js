/* Check-in codes: the letters and length come from the server (page_config.code_alphabet and
   .code_length); the defaults are only for a server that does not send them. */
export const DEFAULT_ALPHABET = 'ABCDEFGHJKMNPQRSTUVWXYZ23456789';
export const DEFAULT_LENGTH = 6;

export function codeRules(config) {
  const alphabet = config && typeof config.code_alphabet === 'string' && config.code_alphabet
    ? config.code_alphabet.toUpperCase() : DEFAULT_ALPHABET;
  const length = config && Number.isInteger(config.code_length) && config.code_length > 0
    ? config.code_length : DEFAULT_LENGTH;
  return { alphabet, length };
}

/* What was typed, upper-cased, only letters of the alphabet, at most `length` of them. */
export function cleanCode(value, { alphabet, length }) {
  return [...String(value || '').toUpperCase()].filter((c) => alphabet.includes(c)).join('').slice(0, length);
}

/* The code inside a QR: the code itself, a ?code= (or ?c=) parameter, or else the last word of
   exactly `length` letters of the alphabet. */
export function codeFromQR(text, rules) {
  const { length } = rules;
  const s = String(text || '').trim();
  const whole = cleanCode(s, rules);
  if (s.length === length && whole.length === length) return whole;
  try {
    const u = new URL(s);
    const p = u.searchParams.get('code') || u.searchParams.get('c');
    if (p && p.length === length && cleanCode(p, rules).length === length) return cleanCode(p, rules);
  } catch { /* not a URL */ }
  const words = s.toUpperCase().split(/[^A-Z0-9]+/).filter((w) => w.length === length && cleanCode(w, rules) === w);
  return words.length ? words[words.length - 1] : null;
}
