/* Manager console: a form sent back with errors puts the focus on its first wrong field, a
   form with data-confirm asks before it is sent (removing a counter), a form with data-once is
   sent once however often its button is clicked (creating an account or a kiosk; the server
   refuses a second one too), and a table with data-sortable sorts by a column when its heading
   is clicked (each cell's data-sort value). Nothing else: the console works as plain forms. */

const wrong = document.querySelector('[aria-invalid="true"]');
if (wrong) {
  wrong.focus();
} else {
  document.querySelector('[data-form-error]')?.focus();
}

document.querySelectorAll('form[data-confirm]').forEach((form) => {
  form.addEventListener('submit', (event) => {
    if (!window.confirm(form.getAttribute('data-confirm'))) event.preventDefault();
  });
});

document.querySelectorAll('form[data-once]').forEach((form) => {
  form.addEventListener('submit', (event) => {
    if (form.dataset.sent) {
      event.preventDefault();
      return;
    }
    form.dataset.sent = '1';
    form.querySelectorAll('button[type="submit"]').forEach((b) => b.setAttribute('aria-disabled', 'true'));
  });
});
// Back to a page left by sending a form: it can be sent again.
window.addEventListener('pageshow', () => {
  document.querySelectorAll('form[data-once]').forEach((form) => {
    delete form.dataset.sent;
    form.querySelectorAll('button[type="submit"]').forEach((b) => b.removeAttribute('aria-disabled'));
  });
});

/* Rows in the order of column `index`: numbers as numbers, text in the page's language. */
export function sortRows(rows, index, kind, descending) {
  const value = (row) => row.cells[index]?.dataset.sort ?? '';
  const collator = new Intl.Collator(document.documentElement.lang || undefined, { numeric: true });
  const compare = kind === 'number'
    ? (a, b) => Number(value(a)) - Number(value(b))
    : (a, b) => collator.compare(value(a), value(b));
  return [...rows].sort((a, b) => (descending ? -compare(a, b) : compare(a, b)));
}

document.querySelectorAll('table[data-sortable]').forEach((table) => {
  const body = table.tBodies[0];
  table.querySelectorAll('[data-sort-key]').forEach((button) => {
    button.addEventListener('click', () => {
      const th = button.closest('th');
      const index = [...th.parentElement.cells].indexOf(th);
      // Numbers start with the largest (the longest wait first), text from A.
      const first = button.dataset.sortKind === 'number' ? 'descending' : 'ascending';
      const current = th.getAttribute('aria-sort');
      const next = current === 'none' || !current ? first : current === 'ascending' ? 'descending' : 'ascending';
      table.querySelectorAll('th[aria-sort]').forEach((other) => other.setAttribute('aria-sort', 'none'));
      th.setAttribute('aria-sort', next);
      const rows = [...body.rows].filter((row) => row.cells.length > 1);
      body.append(...sortRows(rows, index, button.dataset.sortKind, next === 'descending'));
    });
  });
});
