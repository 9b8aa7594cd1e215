/* New-batch form: presenter search and tag filter, select all shown / none, and the live
   "N videos · about T" summary. Strings come from data-* attributes of the template; the
   estimate uses the render speed measured on this install (#batch-estimate, see
   studio.services.batches.render_speed) spread over the running workers. */
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
  const estimateData = document.getElementById("batch-estimate");
  const est = estimateData ? JSON.parse(estimateData.textContent) : {};
  const units = (form.dataset.units || "%(n)s s|%(n)s min|%(n)s h").split("|");

  function formatDuration(seconds) {
    if (seconds < 90) return units[0].replace("%(n)s", String(Math.max(1, Math.round(seconds))));
    if (seconds < 5400) return units[1].replace("%(n)s", String(Math.round(seconds / 60)));
    return units[2].replace("%(n)s", (seconds / 3600).toFixed(1));
  }

  /* Seconds one worker needs for one render of `audioSeconds` with the chosen engine. */
  function renderSeconds(audioSeconds) {
    const fps = (est.fps && engineEl && est.fps[engineEl.value]) || 100;
    return (est.overhead_s || 1) + audioSeconds * (est.video_fps || 25) / fps;
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
    const lanes = Math.max(1, Math.min(est.workers || 1, n));
    const seconds = presenters * audios.reduce(
      (s, a) => s + renderSeconds(parseFloat(a.dataset.duration || "0")), 0) / lanes;
    const about = estimateEl.dataset.template;
    estimateEl.textContent = n ? about.replace("%(t)s", formatDuration(seconds)) : "";
    if (previewEl) {
      const first = audios.length ? parseFloat(audios[0].dataset.duration || "0") : 0;
      const clip = Math.min(first || (est.preview_s || 3), est.preview_s || 3);
      previewEl.textContent = (audios.length && presenters)
        ? "· " + about.replace("%(t)s", formatDuration(renderSeconds(clip))) : "";
    }
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
