// Tienda admin: small progressive enhancements. Every page works without
// this file; it adds "select all" (on the page, then across pages) and a
// selection count to lists, copy buttons, and refuses a form larger than the server accepts before it is
// sent (so the typed text stays in the form).
(function () {
  "use strict";

  function bindSelection(root) {
    var form = root.querySelector("#bulk-form");
    if (!form || form.dataset.bound) return;
    form.dataset.bound = "1";
    var all = form.querySelector("[data-select-all]");
    var count = form.querySelector("[data-selected-count]");
    var boxes = function () { return form.querySelectorAll("input[name=ids]"); };
    // "Select all N" across pages (Django's banner): the plain checkbox
    // that works without JavaScript is driven by the banner instead.
    var across = form.querySelector("[data-select-across]");
    var banner = form.querySelector("[data-across-banner]");
    var choice = form.querySelector("[data-across-choice]");
    if (choice) choice.hidden = true;
    var setAcross = function (on) {
      if (!across) return;
      across.checked = on;
      banner.querySelector("[data-across-page]").hidden = on;
      banner.querySelector("[data-across-all]").hidden = !on;
    };
    var update = function () {
      var n = 0;
      boxes().forEach(function (b) {
        if (b.checked) n++;
        b.closest("tr").classList.toggle("selected", b.checked);
      });
      var whole = n > 0 && n === boxes().length;
      if (across && !whole) setAcross(false);
      if (banner) banner.hidden = !whole;
      if (count) count.textContent = across && across.checked ? "all " + banner.getAttribute("data-total") + " selected" : (n ? n + " selected" : "");
      if (all) {
        all.checked = whole;
        all.indeterminate = n > 0 && n < boxes().length;
      }
    };
    if (all) {
      all.addEventListener("change", function () {
        boxes().forEach(function (b) { b.checked = all.checked; });
        update();
      });
    }
    if (banner) {
      banner.addEventListener("click", function (e) {
        var on = e.target.closest("[data-across-on]"), off = e.target.closest("[data-across-off]");
        if (!on && !off) return;
        setAcross(!!on);
        if (off) boxes().forEach(function (b) { b.checked = false; });
        update();
      });
    }
    form.addEventListener("change", function (e) {
      if (e.target && e.target.name === "ids") update();
    });
    update();
  }

  // Copy buttons: data-copy names the input whose value is copied.
  document.addEventListener("click", function (e) {
    var btn = e.target && e.target.closest ? e.target.closest("[data-copy]") : null;
    if (!btn) return;
    var src = document.querySelector(btn.getAttribute("data-copy"));
    if (!src) return;
    var done = function () {
      var label = btn.textContent;
      btn.textContent = btn.getAttribute("data-copied") || "Copied";
      setTimeout(function () { btn.textContent = label; }, 2000);
    };
    if (navigator.clipboard && navigator.clipboard.writeText) {
      navigator.clipboard.writeText(src.value).then(done, function () { src.select(); });
    } else {
      src.select();
      try { document.execCommand("copy"); done(); } catch (err) { /* selected: the user can copy */ }
    }
  });

  // Forms with data-max-bytes: refuse, before sending, a body the server
  // would answer 413 for; the text stays where it was typed.
  document.addEventListener("submit", function (e) {
    var form = e.target;
    var limit = form && form.getAttribute ? Number(form.getAttribute("data-max-bytes")) : 0;
    if (!limit) return;
    var body = new URLSearchParams(new FormData(form)).toString();
    var size = new Blob([body]).size;
    var note = form.querySelector("[data-size-error]");
    if (size <= limit) {
      if (note) note.hidden = true;
      return;
    }
    e.preventDefault();
    if (note) {
      note.textContent = "This is too large to save: " + Math.ceil(size / 1024) + " KB, the limit is " +
        Math.floor(limit / 1024) + " KB. Shorten the text and save again; nothing was sent.";
      note.hidden = false;
      note.focus();
    }
  }, true);

  document.addEventListener("DOMContentLoaded", function () { bindSelection(document); });
  // htmx swaps the list after a search or a page change.
  document.addEventListener("htmx:afterSettle", function () { bindSelection(document); });
})();
