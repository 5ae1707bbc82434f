/* Staff sign-in: one submit only, so a double click or a held Enter does not post the form twice. */
const form = document.querySelector('.auth-card');
if (form) {
  form.addEventListener('submit', (e) => {
    if (form.dataset.sent) { e.preventDefault(); return; }
    form.dataset.sent = '1';
    form.querySelector('button[type=submit]').setAttribute('aria-disabled', 'true');
  });
}
