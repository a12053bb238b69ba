// Keeps a Pending ticket page live without reloading it: polls the status JSON every 2 s and, once the status
// changes, fetches the server-rendered ticket page and swaps in its state and facts (the live region stays, so
// screen readers announce the change). Without JavaScript, a <noscript> meta refresh reloads every 5 s instead.
(function () {
  var el = document.getElementById('ticket');
  if (!el) return;
  var statusUrl = el.getAttribute('data-status-url');
  var shown = el.getAttribute('data-status');
  if (!statusUrl || shown !== 'Pending') return;
  var pageUrl = window.location.pathname;
  var started = Date.now();
  var timer = null;
  var failures = 0;
  var done = false;

  function delay() {
    // Every 2 s for the first 5 minutes, then every 10 s (the reconciler settles slow ones); back off on errors.
    var base = Date.now() - started < 5 * 60 * 1000 ? 2000 : 10000;
    return Math.min(base * Math.pow(2, failures), 30000);
  }

  function schedule() {
    clearTimeout(timer);
    if (!done) timer = setTimeout(poll, delay());
  }

  function replaceInner(selector, from) {
    var now = el.querySelector(selector);
    var next = from.querySelector(selector);
    if (now && next) now.innerHTML = next.innerHTML;
  }

  function patch(html) {
    var doc = new DOMParser().parseFromString(html, 'text/html');
    var next = doc.getElementById('ticket');
    if (!next) throw new Error('no ticket in the page');
    el.className = next.className;
    el.setAttribute('data-status', next.getAttribute('data-status') || '');
    var oldError = document.getElementById('form-error');
    if (oldError) oldError.parentNode.removeChild(oldError);
    replaceInner('#ticket-state', next);
    replaceInner('.ticket-facts', next);
    if (doc.title) document.title = doc.title;
    shown = el.getAttribute('data-status');
  }

  function refresh() {
    return fetch(pageUrl, { headers: { Accept: 'text/html' }, cache: 'no-store', credentials: 'same-origin' })
      .then(function (res) {
        if (!res.ok) throw new Error('HTTP ' + res.status);
        return res.text();
      })
      .then(patch)
      .catch(function () {
        window.location.reload(); // the page itself is always right
      });
  }

  function poll() {
    if (document.hidden) return schedule();
    fetch(statusUrl, { headers: { Accept: 'application/json' }, cache: 'no-store', credentials: 'same-origin' })
      .then(function (res) {
        if (!res.ok) throw new Error('HTTP ' + res.status);
        return res.json();
      })
      .then(function (body) {
        failures = 0;
        if (body && body.status && body.status !== shown) {
          return refresh().then(function () {
            if (shown !== 'Pending') done = true;
            schedule();
          });
        }
        schedule();
      })
      .catch(function () {
        failures = Math.min(failures + 1, 4);
        schedule();
      });
  }

  document.addEventListener('visibilitychange', function () {
    if (!document.hidden && !done) poll();
  });
  schedule();
})();
