/* DOM building with textContent only (customer text is never parsed as HTML). */
import { slotParts, t } from './i18n.js';

export const byId = (id) => document.getElementById(id);

/* h('li', {class: 'x', text: 'y', 'data-id': 1}, child...): null/false attributes and children are skipped. */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  Object.entries(attrs || {}).forEach(([k, v]) => {
    if (v == null || v === false) return;
    if (k === 'text') el.textContent = v;
    else if (k === 'class') el.className = v;
    else el.setAttribute(k, v === true ? '' : v);
  });
  children.forEach((c) => c != null && el.append(c));
  return el;
}

/* fill(el, 'go_counter', {n: node}): the translated string with its {slots} replaced by nodes or text. */
export function fill(el, key, slots) {
  el.replaceChildren(...slotParts(t(key), slots));
  return el;
}

/* setText('id' or element, value): null shows as empty. */
export function setText(el, text) {
  if (typeof el === 'string') el = byId(el);
  if (el) el.textContent = text == null ? '' : String(text);
}
