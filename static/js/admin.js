// Tienda admin: small progressive enhancements. Every page works without
// this file; it only adds "select all" and a selection count to lists.
(function () {
  "use strict";

  function bindSelection(root) {
    var form = root.querySelector("#bulk-form");
    if (!form || form.dataset.bound) return;
    form.dataset.bound = "1";
    var all = form.querySelector("[data-select-all]");
    var count = form.querySelector("[data-selected-count]");
    var boxes = function () { return form.querySelectorAll("input[name=ids]"); };
    var update = function () {
      var n = 0;
      boxes().forEach(function (b) {
        if (b.checked) n++;
        b.closest("tr").classList.toggle("selected", b.checked);
      });
      if (count) count.textContent = n ? n + " selected" : "";
      if (all) {
        all.checked = n > 0 && n === boxes().length;
        all.indeterminate = n > 0 && n < boxes().length;
      }
    };
    if (all) {
      all.addEventListener("change", function () {
        boxes().forEach(function (b) { b.checked = all.checked; });
        update();
      });
    }
    form.addEventListener("change", function (e) {
      if (e.target && e.target.name === "ids") update();
    });
    update();
  }

  document.addEventListener("DOMContentLoaded", function () { bindSelection(document); });
  // htmx swaps the list after a search or a page change.
  document.addEventListener("htmx:afterSettle", function () { bindSelection(document); });
})();
