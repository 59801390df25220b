document.querySelectorAll('[data-filter]').forEach(function (chip) {
  chip.addEventListener('click', function () {
    var want = chip.getAttribute('data-filter');
    document.querySelectorAll('[data-filter]').forEach(function (c) { c.setAttribute('aria-pressed', String(c === chip)); });
    document.querySelectorAll('details.case').forEach(function (d) {
      d.hidden = want !== 'all' && d.getAttribute('data-verdict') !== want;
    });
    document.querySelectorAll('main section').forEach(function (s) {
      s.hidden = !s.querySelector('details.case:not([hidden])');
    });
  });
});
