/* Bulk selection of a library list (presenters, audio tracks, videos).

   A form marked data-bulk-form holds the actions; the rows' checkboxes (data-bulk-item) belong
   to it through their form attribute, so they can sit in the list below it. Keyboard and
   pointer: Tab reaches every checkbox and Space toggles it (the browser's own behaviour);
   Shift+click and Shift+Space tick or clear every row between the last one touched and this
   one; "Select all on this page" ticks the page; once the whole page is ticked and more rows
   match the filters, "Select all N matching" makes the action apply to every matching row
   (scope=matching: the server applies the filters the form carries). The count is a polite
   live region. Texts come from data-* attributes of the template. */
(function () {
  "use strict";

  function setup(form) {
    const items = () => Array.from(form.elements).filter((el) => el.matches("[data-bulk-item]"));
    const pageBox = form.querySelector("[data-bulk-page]");
    const countEl = form.querySelector("[data-bulk-count]");
    const allButton = form.querySelector("[data-bulk-all]");
    const clearButton = form.querySelector("[data-bulk-clear]");
    const scope = form.querySelector("[data-bulk-scope]");
    const actions = Array.from(form.querySelectorAll("[data-bulk-action]"));
    const total = Number(form.dataset.total || 0);
    let anchor = null;
    let lastText = countEl ? countEl.textContent : "";

    const fmt = (template, n) => (template || "").replace("%(n)s", String(n));

    function refresh() {
      const boxes = items();
      const ticked = boxes.filter((b) => b.checked).length;
      const matching = scope && scope.value === "matching";
      const n = matching ? total : ticked;
      if (countEl) {
        const text = n === 0 ? countEl.dataset.none
          : fmt(matching ? countEl.dataset.all : countEl.dataset.some, n);
        // Only a real change is announced (the region is polite and aria-live).
        if (text !== lastText) countEl.textContent = lastText = text;
      }
      if (pageBox) {
        pageBox.checked = boxes.length > 0 && ticked === boxes.length;
        pageBox.indeterminate = ticked > 0 && ticked < boxes.length;
      }
      if (allButton) allButton.hidden = matching || !(boxes.length && ticked === boxes.length && total > boxes.length);
      if (clearButton) clearButton.hidden = n === 0;
      actions.forEach((button) => { button.disabled = n === 0; });
      boxes.forEach((box) => {
        const row = box.closest("[data-bulk-row]");
        if (row) row.classList.toggle("selected", box.checked);
      });
    }

    function tickRange(from, to, value) {
      const boxes = items();
      const a = boxes.indexOf(from);
      const b = boxes.indexOf(to);
      if (a < 0 || b < 0) return;
      for (let i = Math.min(a, b); i <= Math.max(a, b); i++) boxes[i].checked = value;
    }

    function touched(box, withShift) {
      if (withShift && anchor && anchor !== box && anchor.isConnected) tickRange(anchor, box, box.checked);
      anchor = box;
      if (scope) scope.value = "page";
      refresh();
    }

    // Pointer (and keyboard activation the browser turns into a click).
    document.addEventListener("click", (ev) => {
      const box = ev.target instanceof Element && ev.target.closest("[data-bulk-item]");
      if (!box || box.form !== form) return;
      touched(box, ev.shiftKey);
    });

    // Shift+Space: the browser would toggle the one box; this toggles it and the range.
    document.addEventListener("keydown", (ev) => {
      const box = ev.target instanceof Element && ev.target.closest("[data-bulk-item]");
      if (!box || box.form !== form || ev.key !== " " || !ev.shiftKey) return;
      ev.preventDefault();
      box.checked = !box.checked;
      touched(box, true);
    });

    if (pageBox) {
      pageBox.addEventListener("change", () => {
        items().forEach((b) => { b.checked = pageBox.checked; });
        if (scope) scope.value = "page";
        anchor = null;
        refresh();
      });
    }
    if (allButton) {
      allButton.addEventListener("click", () => {
        items().forEach((b) => { b.checked = true; });
        if (scope) scope.value = "matching";
        refresh();
        if (clearButton) clearButton.focus();
      });
    }
    if (clearButton) {
      clearButton.addEventListener("click", () => {
        items().forEach((b) => { b.checked = false; });
        if (scope) scope.value = "page";
        anchor = null;
        refresh();
        if (pageBox) pageBox.focus();
      });
    }

    // Enter in the tag field adds the tag (the form's first button would add to a batch).
    const tagField = form.querySelector("[data-bulk-tags]");
    const tagAdd = form.querySelector("[data-bulk-tag-add]");
    if (tagField && tagAdd) {
      tagField.addEventListener("keydown", (ev) => {
        if (ev.key !== "Enter") return;
        ev.preventDefault();
        if (!tagAdd.disabled) tagAdd.click();
      });
    }

    // The list refreshes itself while files are being checked (app.js keeps the ticks).
    document.addEventListener("live-refreshed", refresh);
    window.addEventListener("pageshow", refresh);  // back/forward cache keeps ticks
    refresh();
  }

  function init() {
    document.querySelectorAll("form[data-bulk-form]").forEach(setup);
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
