/* A visit for several services, part by part ("1/2 补换卡 · done", "2/2 业务办理 · now"), from
   the server's `plan` (empty for one service): the same list as templates/_plan.html. */
import { h } from '../lib/dom.js';
import { t } from '../lib/i18n.js';

const MARK = { done: 'plan_done', current: 'plan_now' };

/* Fills box (a [data-plan] element holding a .plan-title and an ol.plan-list); hidden for one service. */
export function renderPlan(box, plan) {
  if (!box) return;
  const parts = Array.isArray(plan) ? plan : [];
  box.hidden = parts.length < 2;
  const title = box.querySelector('.plan-title');
  if (title) title.textContent = t('plan_title', { n: parts.length });
  const list = box.querySelector('.plan-list');
  list.replaceChildren(...parts.map((p) => h(
    'li',
    { class: 'plan-part is-' + p.state, 'aria-current': p.state === 'current' ? 'step' : null },
    h('span', { class: 'plan-step', text: p.step + '/' + parts.length }),
    ' ',
    h('span', { class: 'plan-name', text: p.service_name }),
    MARK[p.state] ? ' ' : null,
    MARK[p.state] ? h('span', { class: 'plan-mark', text: t(MARK[p.state]) }) : null,
  )));
}
