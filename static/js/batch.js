/* Live batch page: one bar per render, an overall bar, the current file, stage and ETA; a
   finished row turns into a video player. Updates arrive over a websocket
   (/ws/batches/<id>/): a full snapshot on connect, then one message per task change. When the
   connection drops it reconnects with back-off (the server resends the snapshot) and, while
   disconnected, polls the JSON snapshot endpoint. Strings come from window.I18N. */
(function () {
  "use strict";
  const page = document.querySelector("[data-batch-page]");
  if (!page) return;
  const I18N = window.I18N || {};
  const list = document.querySelector("[data-task-list]");
  const tasks = new Map();
  let batch = null;
  let socket = null;
  let retryDelay = 1000;
  let pollTimer = null;
  let closedForGood = false;

  const fmt = (template, values) =>
    (template || "").replace(/%\((\w+)\)s/g, (_, key) => (key in values ? values[key] : ""));

  function duration(seconds) {
    if (seconds == null || !isFinite(seconds)) return "";
    const units = I18N.units || ["%(n)s s", "%(n)s min", "%(n)s h"];
    if (seconds < 90) return fmt(units[0], { n: Math.max(1, Math.round(seconds)) });
    if (seconds < 5400) return fmt(units[1], { n: Math.round(seconds / 60) });
    return fmt(units[2], { n: (seconds / 3600).toFixed(1) });
  }

  function csrf() {
    return (window.HeyGem && window.HeyGem.csrfToken && window.HeyGem.csrfToken()) ||
      document.body.dataset.csrf || "";
  }

  function mediaUrl(kind, id) {
    const template = kind === "file" ? page.dataset.mediaFileUrl : page.dataset.mediaDownloadUrl;
    return template.replace("/0/", "/" + id + "/");
  }

  /* --- rows ---------------------------------------------------------------------------- */
  function rowFor(task) {
    let row = list.querySelector('[data-task-id="' + task.id + '"]');
    if (!row) {
      const first = list.querySelector("[data-task-row]");
      if (!first) return null;
      row = first.cloneNode(true);
      row.dataset.taskId = String(task.id);
      row.querySelector("[data-preview]").textContent = "";
      row.querySelectorAll("[data-action-form]").forEach((f) => {
        f.action = f.action.replace(/\/renders\/\d+\//, "/renders/" + task.id + "/");
      });
      list.append(row);
      bindForms(row);
    }
    return row;
  }

  /* A task waiting for the retry of a failed attempt counts down to it (the server's
     retry_in_s, taken when the message arrived); any other shows its status's name. */
  function statusText(task) {
    if (task.retry_in_s != null && task.status === "queued") {
      if (task.retryDue == null) task.retryDue = Date.now() + task.retry_in_s * 1000;
      const left = Math.max(0, Math.ceil((task.retryDue - Date.now()) / 1000));
      return fmt(I18N.retrying, { s: left, n: task.attempts + 1, max: task.max_attempts });
    }
    return (I18N.status && I18N.status[task.status]) || task.status_label;
  }

  setInterval(() => {
    tasks.forEach((task) => {
      if (task.retryDue == null || task.status !== "queued") return;
      const row = list.querySelector('[data-task-id="' + task.id + '"]');
      const badge = row && row.querySelector("[data-status]");
      if (badge) badge.textContent = statusText(task);
    });
  }, 1000);

  function renderTask(task) {
    tasks.set(task.id, task);
    const row = rowFor(task);
    if (!row) return;
    row.querySelector("[data-presenter]").textContent = task.presenter;
    row.querySelector("[data-audio]").textContent = task.audio;
    const badge = row.querySelector("[data-status]");
    badge.className = "badge badge-" + task.status;
    badge.textContent = statusText(task);
    const percent = Math.round(task.percent || 0);
    const bar = row.querySelector("[data-bar]");
    bar.style.width = percent + "%";
    bar.parentElement.setAttribute("aria-valuenow", String(percent));
    bar.parentElement.setAttribute("aria-label", fmt(I18N.taskProgress, { name: task.presenter + " × " + task.audio }));
    bar.parentElement.dataset.state = task.status;
    const detail = [];
    if (task.status === "running") {
      detail.push((I18N.stage && I18N.stage[task.stage]) || task.stage || "");
      detail.push(percent + "%");
      if (task.fps) detail.push(fmt(I18N.fps, { n: task.fps.toFixed(1) }));
      if (task.eta_s != null) detail.push(fmt(I18N.eta, { t: duration(task.eta_s) }));
    } else if (task.status === "succeeded" && task.started_at && task.finished_at) {
      detail.push(duration((Date.parse(task.finished_at) - Date.parse(task.started_at)) / 1000));
    }
    row.querySelector("[data-detail]").textContent = detail.filter(Boolean).join(" · ");
    const error = row.querySelector("[data-error]");
    error.textContent = task.error || "";
    error.hidden = !task.error || task.status === "succeeded";
    const untouched = row.querySelector("[data-untouched]");
    if (untouched) {
      untouched.textContent = task.untouched || "";
      untouched.hidden = !task.untouched;
    }
    row.querySelectorAll("[data-show-when]").forEach((f) => {
      f.hidden = !f.dataset.showWhen.split(" ").includes(task.status);
    });
    const retryForm = row.querySelector("[data-retry-form]");
    if (retryForm) retryForm.hidden = !task.retryable;
    const download = row.querySelector("[data-download]");
    const downloadWrap = row.querySelector("[data-download-wrap]");
    const preview = row.querySelector("[data-preview]");
    renderQuality(row.querySelector("[data-quality]"), task);
    if (task.output && task.status === "succeeded") {
      download.href = task.output.download_url || mediaUrl("download", task.output.id);
      downloadWrap.hidden = false;
      if (!preview.querySelector("video")) {
        const video = document.createElement("video");
        video.className = "thumb";
        video.controls = true;
        video.preload = "metadata";
        video.src = task.output.video_url || mediaUrl("file", task.output.id);
        video.dataset.testid = "task-video";
        preview.append(video);
      }
    } else {
      downloadWrap.hidden = true;
      download.removeAttribute("href");
      preview.textContent = "";
    }
  }

  /* The quality check's badge: "Quality 87", "Check this one (31)", "Quality not measured"
     or "Checking quality…" (previews have none). */
  function renderQuality(slot, task) {
    if (!slot) return;
    const output = task.output;
    const state = output && task.status === "succeeded" ? output.quality_state : null;
    if (!state || state === "none") {
      slot.textContent = "";
      return;
    }
    let badge = slot.querySelector("[data-quality-badge]");
    if (!badge) {
      badge = document.createElement("span");
      badge.dataset.qualityBadge = "";
      badge.dataset.testid = "quality-badge";
      slot.textContent = "";
      slot.append(badge);
    }
    const texts = I18N.quality || {};
    badge.className = "badge badge-q-" + state;
    badge.dataset.state = state;
    badge.textContent = fmt(texts[state] || state, { score: output.quality_score });
  }

  /* --- overall ------------------------------------------------------------------------- */
  /* Everything about the whole batch (status, percent, counts, ETA, whether anything is still
     active or may be retried) comes from the server's summary, sent with every message. */
  function renderOverview() {
    const all = Array.from(tasks.values());
    const summary = batch || {};
    const percent = summary.percent || 0;
    const bar = document.querySelector("[data-batch-bar]");
    bar.style.width = percent.toFixed(1) + "%";
    bar.parentElement.setAttribute("aria-valuenow", String(Math.round(percent)));
    document.querySelector("[data-batch-percent]").textContent = Math.round(percent) + "%";
    const counts = summary.counts || {};
    const done = counts.succeeded || 0;
    const failed = counts.failed || 0;
    let text = fmt(I18N.counts, { done: done, total: summary.total || 0 });
    if (failed) text += " · " + fmt(I18N.failedCount, { n: failed });
    if (counts.cancelled) text += " · " + fmt(I18N.cancelledCount, { n: counts.cancelled });
    document.querySelector("[data-batch-counts]").textContent = text;
    if (batch) {
      const badge = document.querySelector("[data-batch-status]");
      badge.className = "badge badge-" + batch.status;
      badge.textContent = (I18N.status && I18N.status[batch.status]) || batch.status_label;
      const track = document.querySelector("[data-batch-progress]");
      if (track) track.dataset.state = batch.status;
    }
    showConnection();
    const running = all.filter((t) => t.status === "running");
    const current = document.querySelector("[data-current]");
    current.textContent = running.length
      ? fmt(I18N.now, { name: running.map((t) => t.presenter + " × " + t.audio).join(", ") }) +
        " (" + running.map((t) => (I18N.stage && I18N.stage[t.stage]) || t.stage).join(", ") + ")"
      : "";
    document.querySelector("[data-batch-eta]").textContent =
      summary.eta_s != null ? fmt(I18N.eta, { t: duration(summary.eta_s) }) : "";
    const zip = document.querySelector("[data-zip-link]");
    if (zip) zip.hidden = done === 0;
    const retry = document.querySelector("[data-batch-retry]");
    if (retry) retry.hidden = !summary.retryable;
    const cancel = document.querySelector("[data-batch-cancel]");
    if (cancel) cancel.hidden = !summary.active;
    // After a preview: "Render all" once it has finished.
    document.querySelectorAll("[data-after-preview]").forEach((el) => { el.hidden = !batch || batch.active; });
    // A batch is deleted once nothing of it is queued or running any more.
    const remove = document.querySelector("[data-batch-delete]");
    if (remove) remove.hidden = Boolean(summary.active);
    announce(summary, percent, done);
  }

  /* Screen readers hear the batch politely: when its status changes, when a video finishes or
     fails, and when the overall progress passes a quarter; never every progress tick, and at
     most every 10 s unless the status changed. */
  const announcer = document.querySelector("[data-batch-announce]");
  let heard = null;
  let heardAt = 0;

  function announce(summary, percent, done) {
    if (!announcer || !batch) return;
    const counts = summary.counts || {};
    const state = {
      status: batch.status,
      finished: done + (counts.failed || 0) + (counts.cancelled || 0),
      quarter: Math.floor(percent / 25),
    };
    if (heard === null) {  // the page as loaded: nothing new to say yet
      heard = state;
      return;
    }
    const statusChanged = state.status !== heard.status;
    const moved = state.finished !== heard.finished || state.quarter !== heard.quarter;
    if (!statusChanged && !(moved && Date.now() - heardAt >= 10000)) return;
    heard = state;
    heardAt = Date.now();
    announcer.textContent = fmt(I18N.announce, {
      status: (I18N.status && I18N.status[batch.status]) || batch.status_label,
      percent: Math.round(percent) + "%",
      done: done,
      total: summary.total || 0,
    });
  }

  function applySnapshot(snapshot) {
    batch = snapshot.batch;
    const ids = new Set(snapshot.tasks.map((t) => t.id));
    list.querySelectorAll("[data-task-row]").forEach((row) => {
      if (!ids.has(Number(row.dataset.taskId))) row.remove();
    });
    tasks.clear();
    snapshot.tasks.forEach(renderTask);
    renderOverview();
  }

  function handle(message) {
    if (message.type === "snapshot") {
      applySnapshot(message);
    } else if (message.type === "task") {
      renderTask(message.task);
      if (message.batch) batch = message.batch;
      renderOverview();
    }
  }

  /* --- connection ---------------------------------------------------------------------- */
  let connectionText = "";
  let live = false;

  function setConnection(text, isLive) {
    connectionText = text || "";
    live = Boolean(isLive);
    showConnection();
  }

  /* "live" only while the socket is open and the batch still has work; problems always. */
  function showConnection() {
    const el = document.querySelector("[data-connection]");
    if (!el) return;
    const active = !batch || batch.active;
    const text = live && !active ? "" : connectionText;
    el.textContent = text ? "· " + text : "";
    el.hidden = !text;
  }

  function poll() {
    fetch(page.dataset.statusUrl, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then((r) => (r.ok ? r.json() : Promise.reject(r.status)))
      .then(applySnapshot)
      .catch(() => {});
  }

  function startPolling() {
    if (!pollTimer) pollTimer = setInterval(poll, 5000);
  }

  function stopPolling() {
    if (pollTimer) clearInterval(pollTimer);
    pollTimer = null;
  }

  function connect() {
    const scheme = location.protocol === "https:" ? "wss://" : "ws://";
    socket = new WebSocket(scheme + location.host + page.dataset.wsPath);
    socket.addEventListener("open", () => {
      retryDelay = 1000;
      stopPolling();
      setConnection(I18N.live, true);
    });
    socket.addEventListener("message", (ev) => {
      try {
        handle(JSON.parse(ev.data));
      } catch (err) {
        console.error("bad progress message", err);
      }
    });
    socket.addEventListener("close", (ev) => {
      socket = null;
      if (ev.code === 4403) {
        closedForGood = true;
        setConnection(I18N.forbidden);
        return;
      }
      if (closedForGood) return;
      setConnection(I18N.reconnecting);
      startPolling();
      setTimeout(connect, retryDelay);
      retryDelay = Math.min(retryDelay * 2, 15000);
    });
  }

  /* --- actions ------------------------------------------------------------------------- */
  function bindForms(root) {
    root.querySelectorAll("[data-action-form]").forEach((form) => {
      if (form.dataset.bound) return;
      form.dataset.bound = "1";
      form.addEventListener("submit", (ev) => {
        ev.preventDefault();
        fetch(form.action, {
          method: "POST",
          headers: { Accept: "application/json", "X-CSRFToken": csrf() },
          credentials: "same-origin",
        }).then((r) => r.json().catch(() => ({})).then((body) => {
          if (!r.ok && body.error && window.HeyGem) window.HeyGem.toast(body.error, "error");
          if (!socket) poll();
        })).catch(() => window.HeyGem && window.HeyGem.toast(I18N.networkError, "error"));
      });
    });
  }

  const initial = document.getElementById("batch-snapshot");
  if (initial) applySnapshot(JSON.parse(initial.textContent));
  bindForms(document);
  if ("WebSocket" in window) connect(); else startPolling();
  window.addEventListener("beforeunload", () => {
    closedForGood = true;
    if (socket) socket.close();
  });
})();
