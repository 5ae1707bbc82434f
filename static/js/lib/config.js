/* The page's JSON blocks (#page-config and the i18n tables), read on first use, never at import. */

/* The parsed content of <script type="application/json" id=...>, or {} when missing or broken. */
export function readJSON(id, doc = globalThis.document) {
  const el = doc ? doc.getElementById(id) : null;
  if (!el) return {};
  try {
    return JSON.parse(el.textContent) || {};
  } catch {
    return {};
  }
}

let current = null;

/* page_config as the server rendered it: store, lang, timezone, csrf_token, api... */
export function pageConfig() {
  if (!current) current = readJSON('page-config');
  return current;
}

/* Replaces the page config (for node tests, or a host without the JSON block). */
export function setPageConfig(value) {
  current = value || {};
}
