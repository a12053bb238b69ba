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
