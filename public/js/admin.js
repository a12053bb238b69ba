// The operator area's progressive enhancements. Every page works without this file.
(function () {
  'use strict';

  // Totals for the tickets filter are a full count of the matching rows: a bounded filter loads them after the list,
  // an unbounded one (all time) when the operator asks, in place instead of on a page of their own.
  var totals = document.querySelector('[data-totals-src]');
  if (totals && window.fetch) {
    var link = totals.querySelector('.totals-link');
    var loadTotals = function () {
      var status = document.createElement('p');
      status.className = 'hint';
      status.textContent = 'Counting…';
      var holder = link && link.parentNode;
      if (holder) holder.replaceWith(status);
      else totals.appendChild(status);
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
    };
    if (totals.getAttribute('data-totals-auto') === '1') loadTotals();
    else if (link) {
      link.addEventListener('click', function (e) {
        e.preventDefault();
        loadTotals();
      });
    }
  }

  // Actions that move money or state ask once before they are sent.
  document.addEventListener('submit', function (e) {
    var form = e.target;
    var question = form && form.getAttribute && form.getAttribute('data-confirm');
    if (question && !window.confirm(question)) e.preventDefault();
  });
})();
