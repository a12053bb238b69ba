// After a refused form, moves focus to its error summary so a screen reader reads it and a keyboard user starts there.
(function () {
  var summary = document.getElementById('error-summary') || document.getElementById('form-error');
  if (!summary) return;
  if (!summary.hasAttribute('tabindex')) summary.setAttribute('tabindex', '-1');
  summary.focus();
})();
