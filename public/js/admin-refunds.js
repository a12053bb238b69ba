// Refunds without a reload: the Refund button asks the admin API for the reversal, and every refund in flight on the
// page is followed by polling its JSON until M-Pesa has settled it. Without JavaScript the form posts as usual.
(function () {
  'use strict';
  var LABELS = {
    requested: 'Refund requested: sending to M-Pesa…',
    accepted: 'Sent to M-Pesa: waiting for the result…',
    unknown: 'No answer from M-Pesa yet: checking with Transaction Status…',
    refunded: 'Refunded',
    failed: 'Refund failed'
  };

  function follow(refundId, el) {
    var stop = false;
    function tick() {
      if (stop) return;
      fetch('/admin/api/refunds/' + encodeURIComponent(refundId), { headers: { Accept: 'application/json' }, credentials: 'same-origin' })
        .then(function (res) { return res.ok ? res.json() : null; })
        .then(function (r) {
          if (!r) return setTimeout(tick, 3000);
          el.textContent = (LABELS[r.status] || r.status) + (r.status === 'failed' && r.failureReason ? ': ' + r.failureReason : '');
          el.setAttribute('data-state', r.status);
          if (r.status === 'refunded' || r.status === 'failed') { stop = true; return; }
          setTimeout(tick, 1000);
        })
        .catch(function () { setTimeout(tick, 3000); });
    }
    tick();
  }

  Array.prototype.forEach.call(document.querySelectorAll('[data-refund-id]'), function (el) {
    follow(el.getAttribute('data-refund-id'), el);
  });

  document.addEventListener('submit', function (e) {
    var form = e.target;
    if (!form || !form.hasAttribute || !form.hasAttribute('data-refund-form')) return;
    e.preventDefault();
    var cell = form.parentNode;
    var status = cell.querySelector('[data-refund-status]');
    var button = form.querySelector('button');
    if (button) button.disabled = true;
    var reason = form.querySelector('[name="reason"]');
    fetch('/admin/api/refunds', {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
      body: JSON.stringify({ ticketId: Number(form.getAttribute('data-ticket-id')), reason: reason && reason.value ? reason.value : 'Refund owed' })
    })
      .then(function (res) { return res.json().then(function (body) { return { status: res.status, body: body }; }); })
      .then(function (r) {
        if (r.body && r.body.refundId) {
          form.hidden = true;
          status.textContent = LABELS[r.body.status] || LABELS.requested;
          follow(r.body.refundId, status);
        } else {
          status.textContent = (r.body && r.body.error && r.body.error.message) || 'The refund could not be asked for.';
          if (button) button.disabled = false;
        }
      })
      .catch(function () {
        status.textContent = 'The refund could not be asked for: check the connection and try again.';
        if (button) button.disabled = false;
      });
  });
})();

// A cancelled show's refund counts, live until nothing is in flight.
(function () {
  'use strict';
  var box = document.querySelector('[data-cancel-movie-id]');
  if (!box) return;
  var id = box.getAttribute('data-cancel-movie-id');
  function tick() {
    fetch('/admin/api/movies/' + encodeURIComponent(id) + '/cancel', { headers: { Accept: 'application/json' }, credentials: 'same-origin' })
      .then(function (res) { return res.ok ? res.json() : null; })
      .then(function (c) {
        if (!c) return setTimeout(tick, 5000);
        ['total', 'refunded', 'inFlight', 'failed'].forEach(function (k) {
          var el = box.querySelector('[data-count="' + k + '"]');
          if (el) el.textContent = String(c[k]);
        });
        if (c.inFlight > 0) setTimeout(tick, 1000);
      })
      .catch(function () { setTimeout(tick, 5000); });
  }
  tick();
})();
