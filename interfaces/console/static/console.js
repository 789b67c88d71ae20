// The queue's live countdown: each row's business time left ticks down while its calendar is
// open (data-open="1"); the server recomputes it, and whether the calendar is open, when htmx
// refreshes the rows. No inline script anywhere: the Content-Security-Policy allows only this file.
(function () {
  "use strict";
  function span(seconds) {
    var sign = seconds < 0 ? "-" : "";
    var rest = Math.abs(seconds);
    var h = Math.floor(rest / 3600);
    var m = Math.floor((rest % 3600) / 60);
    var s = rest % 60;
    return sign + h + "h " + String(m).padStart(2, "0") + "m " + String(s).padStart(2, "0") + "s";
  }
  function stamp(root) {
    var now = Date.now();
    root.querySelectorAll("tr[data-left]").forEach(function (row) {
      if (row.dataset.left !== "") { row.dataset.base = row.dataset.left; row.dataset.at = String(now); }
    });
  }
  function tick() {
    var now = Date.now();
    document.querySelectorAll("tr[data-left][data-at]").forEach(function (row) {
      if (row.dataset.open !== "1") { return; }
      var left = Number(row.dataset.base) - Math.floor((now - Number(row.dataset.at)) / 1000);
      var cell = row.querySelector("td.countdown");
      if (cell) { cell.textContent = span(left); }
      if (left < 0) { row.classList.add("breached"); }
    });
  }
  document.addEventListener("DOMContentLoaded", function () {
    stamp(document);
    window.setInterval(tick, 1000);
  });
  document.addEventListener("htmx:afterSwap", function (event) { stamp(event.target); });
})();
