// Keeps the total in step with the quantity (the server recomputes it anyway).
(function () {
  var form = document.querySelector('.booking-form');
  if (!form) return;
  var price = Number(form.getAttribute('data-price'));
  var qty = form.querySelector('#quantity');
  var out = document.getElementById('total');
  function update() {
    var n = Math.floor(Number(qty.value));
    if (!(n > 0)) n = 0;
    out.textContent = 'KES ' + (n * price).toLocaleString('en-KE');
  }
  qty.addEventListener('input', update);
  update();
  // With JavaScript the total is live; without it the page says the next page works it out.
  var live = document.getElementById('total-live');
  var later = document.getElementById('total-later');
  if (live) live.hidden = false;
  if (later) later.hidden = true;
  // After a refused form, start where the problems are listed (screen readers read it; the keyboard starts there).
  var summary = document.getElementById('error-summary') || document.getElementById('form-error');
  if (summary) summary.focus();
  form.addEventListener('submit', function () {
    var b = form.querySelector('button[type=submit]');
    b.disabled = true;
    b.textContent = 'Sending the M-Pesa prompt…';
  });
})();
// Coming back with the Back button (bfcache) must not leave the button stuck on "Sending…".
window.addEventListener('pageshow', function (e) {
  if (!e.persisted) return;
  var b = document.querySelector('.booking-form button[type=submit]');
  if (b) { b.disabled = false; b.textContent = 'Pay with M-Pesa'; }
});
