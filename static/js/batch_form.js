/* New-batch form: the presenter picker (search, tag filter, "show selected only", "select all
   N matching", select none, the selected count), which presenter a preview renders, and the
   live "N videos · about T" summary.

   Every presenter the team may render is in the page as a row with a lazily loaded thumbnail
   (no video elements), so filtering is instant for hundreds of them; the filter only hides
   rows, and "select all matching" ticks the rows the filter shows. The summary bar's Preview
   renders the presenter picked last (its name is shown on the button); each ticked row also
   has its own Preview button. Strings come from data-* attributes of the template; the count
   and the time come from the server (data-estimate-url, see
   rendering.services.estimates.batch_estimate): this script only shows them. */
(function () {
  "use strict";
  const form = document.querySelector("[data-batch-form]");
  if (!form) return;
  const rows = Array.from(form.querySelectorAll("[data-presenter-card]"));
  const boxes = rows.map((row) => row.querySelector("input[name=presenter]"));
  const search = form.querySelector("[data-presenter-search]");
  const tagPick = form.querySelector("[data-presenter-tag]");
  const onlySelected = form.querySelector("[data-only-selected]");
  const allButton = form.querySelector("[data-select-all]");
  const noneButton = form.querySelector("[data-select-none]");
  const statusEl = form.querySelector("[data-picker-status]");
  const emptyEl = form.querySelector("[data-picker-empty]");
  const previewButton = form.querySelector("[data-preview-button]");
  const previewName = form.querySelector("[data-preview-name]");
  const countEl = form.querySelector("[data-batch-count]");
  const estimateEl = form.querySelector("[data-batch-estimate]");
  const previewEl = form.querySelector("[data-preview-estimate]");
  const engineEl = form.querySelector("[name=engine]");
  const units = (form.dataset.units || "%(n)s s|%(n)s min|%(n)s h").split("|");
  const fmt = (template, values) =>
    (template || "").replace(/%\((\w+)\)s/g, (_, key) => (key in values ? String(values[key]) : ""));
  // Ticked presenters in the order they were ticked (the preview takes the last one).
  const picked = boxes.filter((b) => b.checked);
  let pending = null;
  let statusTimer = null;
  let asked = 0;

  function formatDuration(seconds) {
    if (seconds < 90) return units[0].replace("%(n)s", String(Math.max(1, Math.round(seconds))));
    if (seconds < 5400) return units[1].replace("%(n)s", String(Math.round(seconds / 60)));
    return units[2].replace("%(n)s", (seconds / 3600).toFixed(1));
  }

  function matches(row, box) {
    const q = ((search && search.value) || "").trim().toLowerCase();
    const tag = (tagPick && tagPick.value) || "";
    const okName = !q || row.dataset.name.includes(q);
    const okTag = !tag || (" " + row.dataset.tags + " ").includes(" " + tag + " ");
    const okSelected = !(onlySelected && onlySelected.checked) || box.checked;
    return okName && okTag && okSelected;
  }

  /* The status line is a polite live region: it changes once typing pauses. */
  function showStatus(shown) {
    if (!statusEl) return;
    const text = fmt(statusEl.dataset.template, {
      selected: boxes.filter((b) => b.checked).length, shown: shown, total: rows.length,
    });
    if (statusTimer) clearTimeout(statusTimer);
    statusTimer = setTimeout(() => { if (statusEl.textContent !== text) statusEl.textContent = text; }, 400);
  }

  function applyFilter() {
    let shown = 0;
    rows.forEach((row, i) => {
      const visible = matches(row, boxes[i]);
      row.hidden = !visible;
      if (visible) shown += 1;
    });
    if (emptyEl) emptyEl.hidden = shown > 0 || rows.length === 0;
    if (allButton) {
      allButton.textContent = fmt(allButton.dataset.template, { n: shown });
      allButton.disabled = shown === 0;
    }
    showStatus(shown);
  }

  function showPreviewChoice() {
    const last = picked.filter((b) => b.checked).pop();
    if (previewButton) previewButton.value = last ? last.value : "";
    if (previewName) previewName.textContent = last ? "· " + last.dataset.name : "";
  }

  function show(estimate) {
    const n = estimate.renders || 0;
    const tpl = n === 1 ? countEl.dataset.templateOne : countEl.dataset.templateMany;
    countEl.textContent = tpl.replace("%(n)s", String(n));
    const about = estimateEl.dataset.template;
    estimateEl.textContent = estimate.seconds != null ? about.replace("%(t)s", formatDuration(estimate.seconds)) : "";
    if (previewEl) {
      previewEl.textContent = estimate.preview_seconds != null
        ? "· " + about.replace("%(t)s", formatDuration(estimate.preview_seconds)) : "";
    }
  }

  function ask() {
    const params = new URLSearchParams();
    form.querySelectorAll("input[name=audio]:checked").forEach((a) => params.append("audio", a.value));
    params.set("presenters", String(boxes.filter((b) => b.checked).length));
    if (engineEl) params.set("engine", engineEl.value);
    const mine = ++asked;
    fetch(form.dataset.estimateUrl + "?" + params.toString(), {
      headers: { Accept: "application/json" }, credentials: "same-origin",
    }).then((r) => (r.ok ? r.json() : Promise.reject(r.status)))
      .then((estimate) => { if (mine === asked) show(estimate); })
      .catch(() => {});
  }

  function update() {
    if (pending) clearTimeout(pending);
    pending = setTimeout(ask, 150);
    showPreviewChoice();
  }

  function setShown(checked) {
    rows.forEach((row, i) => {
      if (row.hidden || boxes[i].checked === checked) return;
      boxes[i].checked = checked;
      if (checked) picked.push(boxes[i]);
    });
    applyFilter();
    update();
  }

  boxes.forEach((box) => {
    box.addEventListener("change", () => {
      const at = picked.indexOf(box);
      if (at >= 0) picked.splice(at, 1);
      if (box.checked) picked.push(box);
      showStatus(rows.filter((r) => !r.hidden).length);
    });
  });
  if (search) search.addEventListener("input", applyFilter);
  if (tagPick) tagPick.addEventListener("change", applyFilter);
  if (onlySelected) onlySelected.addEventListener("change", applyFilter);
  if (allButton) allButton.addEventListener("click", () => setShown(true));
  if (noneButton) {
    noneButton.addEventListener("click", () => {
      rows.forEach((row, i) => { if (!row.hidden) boxes[i].checked = false; });
      applyFilter();
      update();
    });
  }
  // Enter in the search box filters; it must not submit the whole batch.
  if (search) search.addEventListener("keydown", (ev) => { if (ev.key === "Enter") ev.preventDefault(); });
  form.addEventListener("change", update);
  applyFilter();
  showPreviewChoice();
  ask();
})();
