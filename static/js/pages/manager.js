/* Manager console: a form sent back with errors puts the focus on its first wrong field, and a
   form with data-confirm asks before it is sent (removing a counter). Nothing else: the console
   works as plain forms. */

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
