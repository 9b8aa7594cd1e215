/* New-batch form: presenter search and tag filter, select all shown / none, and the live
   "N videos · about T" summary. Strings come from data-* attributes of the template. */
(function () {
  "use strict";
  const form = document.querySelector("[data-batch-form]");
  if (!form) return;
  const cards = Array.from(form.querySelectorAll("[data-presenter-card]"));
  const search = form.querySelector("[data-presenter-search]");
  const tagPick = form.querySelector("[data-presenter-tag]");
  const countEl = form.querySelector("[data-batch-count]");
  const estimateEl = form.querySelector("[data-batch-estimate]");
  const perAudioSecond = parseFloat(form.dataset.sPerAudioS || "1.5");

  function formatDuration(seconds) {
    if (seconds < 90) return Math.max(1, Math.round(seconds)) + " s";
    if (seconds < 5400) return Math.round(seconds / 60) + " min";
    return (seconds / 3600).toFixed(1) + " h";
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

  function update() {
    const audios = Array.from(form.querySelectorAll("input[name=audio]:checked"));
    const presenters = form.querySelectorAll("input[name=presenter]:checked").length;
    const n = audios.length * presenters;
    const tpl = n === 1 ? countEl.dataset.templateOne : countEl.dataset.templateMany;
    countEl.textContent = tpl.replace("%(n)s", String(n));
    const audioSeconds = audios.reduce((s, a) => s + parseFloat(a.dataset.duration || "0"), 0);
    const seconds = presenters * (audios.length * 5 + perAudioSecond * audioSeconds);
    estimateEl.textContent = n ? estimateEl.dataset.template.replace("%(t)s", formatDuration(seconds)) : "";
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
  update();
})();
