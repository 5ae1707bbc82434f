/* Manager console: a form sent back with errors puts the focus on its first wrong field, a
   form with data-confirm asks before it is sent (removing a counter), and a form with data-once
   is sent once however often its button is clicked (creating an account or a kiosk; the server
   refuses a second one too). Nothing else: the console works as plain forms. */

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
