/* Translations handed over by the server (#i18n-common, then the page's own #i18n). */
import { pageConfig, readJSON } from './config.js';

let table = null;

function strings() {
  if (!table) table = Object.assign(readJSON('i18n-common'), readJSON('i18n'));
  return table;
}

/* Replaces the translation table (for node tests, or a host without the JSON blocks). */
export function setStrings(value) {
  table = Object.assign({}, value);
}

/* format('about {lo}–{hi} min', {lo: 3, hi: 5}); unknown placeholders are left as they are. */
export function format(template, params) {
  const s = String(template);
  if (!params) return s;
  return s.replace(/\{(\w+)\}/g, (m, k) => (params[k] != null ? String(params[k]) : m));
}

/* t('key', {n: 3}): the translated string with its {n} placeholders filled in (the key if unknown). */
export function t(key, params) {
  const s = strings()[key];
  return format(s != null ? s : key, params);
}

/* Whether the server sent a translation for key. */
export function hasText(key) {
  return strings()[key] != null;
}

/* The template split around its {slots}, each slot replaced by slots[name] (a node or text):
   slotParts('go to {n}', {n: x}) -> ['go to ', x, '']. Missing slots become ''. */
export function slotParts(template, slots) {
  const parts = String(template).split(/\{(\w+)\}/); // odd indices are slot names
  return parts.map((p, i) => (i % 2 ? (slots && slots[p] != null ? slots[p] : '') : p));
}

export const lang = () => pageConfig().lang;
/* A server object's name in the page language: name_en / name_zh, else name. */
export const localName = (o) => (o ? o['name_' + lang()] || o.name : '');
export const laneName = (lane) => (lane ? t('lane_' + lane) : '');
export const statusName = (status) => (status ? t('status_' + status) : '');
