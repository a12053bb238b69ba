// Keeps a Pending ticket page live: polls the status JSON every 2 s and reloads once the status changes, so the
// server renders the Paid or Failed page. Without JavaScript, a <noscript> meta refresh does the same every 5 s.
(function () {
  var el = document.getElementById('ticket');
  if (!el) return;
  var url = el.getAttribute('data-status-url');
  var shown = el.getAttribute('data-status');
  if (!url || shown !== 'Pending') return;
  var started = Date.now();
  var timer = null;
  var failures = 0;

  function delay() {
    // Every 2 s for the first 5 minutes, then every 10 s (the reconciler settles slow ones); back off on errors.
    var base = Date.now() - started < 5 * 60 * 1000 ? 2000 : 10000;
    return Math.min(base * Math.pow(2, failures), 30000);
  }

  function schedule() {
    clearTimeout(timer);
    timer = setTimeout(poll, delay());
  }

  function poll() {
    if (document.hidden) return schedule();
    fetch(url, { headers: { Accept: 'application/json' }, cache: 'no-store', credentials: 'same-origin' })
      .then(function (res) {
        if (!res.ok) throw new Error('HTTP ' + res.status);
        return res.json();
      })
      .then(function (body) {
        failures = 0;
        if (body && body.status && body.status !== shown) {
          var s = document.getElementById('ticket-status');
          if (s) s.textContent = body.status;
          window.location.reload();
          return;
        }
        schedule();
      })
      .catch(function () {
        failures = Math.min(failures + 1, 4);
        schedule();
      });
  }

  document.addEventListener('visibilitychange', function () {
    if (!document.hidden) poll();
  });
  schedule();
})();
