// Refreshes the queue's counts every 15 s; the page works without it.
(function () {
  var box = document.getElementById('counts');
  if (!box) return;
  setInterval(function () {
    fetch('/console/counts', { credentials: 'same-origin' })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (c) {
        if (!c) return;
        ['open', 'unclaimed', 'overdue', 'mine'].forEach(function (k) {
          var el = document.getElementById('count-' + k);
          if (el && typeof c[k] === 'number') el.textContent = String(c[k]);
        });
      })
      .catch(function () {});
  }, 15000);
})();
