/* New-batch form: presenter search and tag filter, select all shown / none, and the live
   "N videos · about T" summary. Strings come from data-* attributes of the template; the
   count and the time come from the server (data-estimate-url, see
   rendering.services.estimates.batch_estimate), which knows the speed measured on this install
   and the workers running: this script only shows them. */
(function () {
  "use strict";
  const form = document.querySelector("[data-batch-form]");
  if (!form) return;
  const cards = Array.from(form.querySelectorAll("[data-presenter-card]"));
  const search = form.querySelector("[data-presenter-search]");
  const tagPick = form.querySelector("[data-presenter-tag]");
  const countEl = form.querySelector("[data-batch-count]");
  const estimateEl = form.querySelector("[data-batch-estimate]");
  const previewEl = form.querySelector("[data-preview-estimate]");
  const engineEl = form.querySelector("[name=engine]");
  const units = (form.dataset.units || "%(n)s s|%(n)s min|%(n)s h").split("|");
  let pending = null;
  let asked = 0;

  function formatDuration(seconds) {
    if (seconds < 90) return units[0].replace("%(n)s", String(Math.max(1, Math.round(seconds))));
    if (seconds < 5400) return units[1].replace("%(n)s", String(Math.round(seconds / 60)));
    return units[2].replace("%(n)s", (seconds / 3600).toFixed(1));
  }

  function applyFilter() {
    const q = (search && search.value || "").trim().toLowerCase();
    const tag = tagPick && tagPick.value || "";
    cards.forEach((card) => {
      const okName = !q || card.dataset.name.includes(q);
      const okTag = !tag || (" " + card.dataset.tags + " ").includes(" " + tag + " ");
      card.hidden = !(okName && okTag);
    });
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
    params.set("presenters", String(form.querySelectorAll("input[name=presenter]:checked").length));
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
  }

  function setAll(checked) {
    cards.forEach((card) => {
      if (!card.hidden) card.querySelector("input[name=presenter]").checked = checked;
    });
    update();
  }

  if (search) search.addEventListener("input", applyFilter);
  if (tagPick) tagPick.addEventListener("change", applyFilter);
  const all = form.querySelector("[data-select-all]");
  const none = form.querySelector("[data-select-none]");
  if (all) all.addEventListener("click", () => setAll(true));
  if (none) none.addEventListener("click", () => setAll(false));
  form.addEventListener("change", update);
  ask();
})();
