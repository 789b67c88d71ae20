// The case page's canned replies, as a convenience: choosing one fills the message box at once.
// Without this script the form's "use" button asks the server for the same (the page works
// either way). No inline script anywhere: the Content-Security-Policy allows only files like this.
(function () {
  "use strict";
  function fill(select) {
    var box = document.getElementById(select.dataset.fills);
    var chosen = select.options[select.selectedIndex];
    if (box && chosen && chosen.dataset.text !== undefined) { box.value = chosen.dataset.text; }
  }
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("select[data-fills]").forEach(function (select) {
      select.addEventListener("change", function () { fill(select); });
    });
  });
})();
