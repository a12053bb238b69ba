// The operator area's progressive enhancements. Every page works without this file.
(function () {
  'use strict';

  // Totals for the tickets filter are a full count, so they load after the list instead of holding it up.
  var totals = document.querySelector('[data-totals-src]');
  if (totals && window.fetch) {
    var link = totals.querySelector('.totals-link');
    var status = document.createElement('p');
    status.className = 'hint';
    status.textContent = 'Counting…';
    if (link && link.parentNode) link.parentNode.replaceWith(status);
    fetch(totals.getAttribute('data-totals-src'), { credentials: 'same-origin', headers: { Accept: 'text/html' } })
      .then(function (res) {
        if (!res.ok) throw new Error('HTTP ' + res.status);
        return res.text();
      })
      .then(function (html) {
        // Server-rendered and escaped by our own templates, from our own origin.
        var tpl = document.createElement('template');
        tpl.innerHTML = html;
        status.replaceWith(tpl.content);
      })
      .catch(function () {
        status.textContent = 'The totals could not be loaded. ';
        if (link) status.appendChild(link);
      });
  }

  // Actions that move money or state ask once before they are sent.
  document.addEventListener('submit', function (e) {
    var form = e.target;
    var question = form && form.getAttribute && form.getAttribute('data-confirm');
    if (question && !window.confirm(question)) e.preventDefault();
  });
})();
