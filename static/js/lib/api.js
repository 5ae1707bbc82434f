/* The JSON API (/api/v1): GET without a body, POST with one (and the CSRF token); errors become
   ApiError with the server's message in the page language. */
import { pageConfig } from './config.js';
import { t } from './i18n.js';

export class ApiError extends Error {
  constructor(message, status, code, data) {
    super(message);
    this.status = status; // 0: no answer (network)
    this.code = code;
    this.data = data || {}; // the whole error body (e.g. retry_after, status_url)
  }
}

/* api(path) GETs; api(path, body) POSTs; options.headers adds request headers (Idempotency-Key),
   options.method another verb with the body (DELETE). */
export async function api(path, body, options) {
  const config = pageConfig();
  const headers = Object.assign({ Accept: 'application/json' }, options && options.headers);
  const opts = { method: 'GET', credentials: 'same-origin', headers };
  if (body !== undefined) {
    opts.method = 'POST';
    opts.headers['Content-Type'] = 'application/json';
    if (config.csrf_token) opts.headers['X-CSRFToken'] = config.csrf_token;
    opts.body = JSON.stringify(body);
    if (options && options.method) opts.method = options.method;
  }
  let res;
  try {
    const lang = config.lang ? (path.includes('?') ? '&' : '?') + 'lang=' + config.lang : '';
    res = await fetch((config.api || '/api/v1') + path + lang, opts);
  } catch {
    throw new ApiError(t('network_error'), 0, 'network');
  }
  let data = null;
  try { data = await res.json(); } catch { /* not JSON */ }
  if (!res.ok) {
    throw new ApiError((data && data.message) || t('server_error'), res.status, data && data.error, data);
  }
  return data;
}

/* The store's path under the API: '/stores/demo'. */
export const storePath = (code) => '/stores/' + encodeURIComponent(code);
