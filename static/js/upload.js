// Drag-and-drop uploads over the resumable protocol (README.md, "Upload protocol").
// One progress bar per file; a failed chunk is retried with backoff, and the upload resumes
// from the offset the server reports, so a dropped connection loses at most one chunk.

const MAX_RETRIES = 8;

function csrfToken() {
  const m = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
  return m ? decodeURIComponent(m[1]) : (document.body.dataset.csrf || "");
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function api(url, options = {}) {
  const headers = Object.assign({ "X-CSRFToken": csrfToken(), Accept: "application/json" },
                                options.headers || {});
  const res = await fetch(url, Object.assign({ credentials: "same-origin" }, options, { headers }));
  let body = {};
  try { body = await res.json(); } catch (e) { body = {}; }
  return { ok: res.ok, status: res.status, body };
}

// PUT one chunk with XMLHttpRequest so the bar moves while the bytes are sent.
function putChunk(url, offset, blob, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("PUT", url);
    xhr.setRequestHeader("X-CSRFToken", csrfToken());
    xhr.setRequestHeader("Upload-Offset", String(offset));
    xhr.setRequestHeader("Content-Type", "application/octet-stream");
    xhr.setRequestHeader("Accept", "application/json");
    xhr.upload.onprogress = (e) => onProgress(e.loaded);
    xhr.onload = () => {
      let body = {};
      try { body = JSON.parse(xhr.responseText); } catch (e) { body = {}; }
      resolve({ ok: xhr.status >= 200 && xhr.status < 300, status: xhr.status, body });
    };
    xhr.onerror = () => reject(new Error("network"));
    xhr.ontimeout = () => reject(new Error("timeout"));
    xhr.send(blob);
  });
}

function row(list, file) {
  const li = document.createElement("li");
  li.className = "upload-item";
  li.setAttribute("data-testid", "upload-item");
  li.dataset.state = "active";
  li.innerHTML = '<span class="upload-icon" aria-hidden="true"></span><span class="upload-name"></span> ' +
    '<span class="upload-state muted" data-testid="upload-state"></span>' +
    '<div class="progress"><div class="progress-bar" data-testid="upload-progress"></div></div>' +
    '<p class="warning upload-note" data-testid="upload-warning" hidden></p>';
  li.querySelector(".upload-name").textContent = file.name;
  list.appendChild(li);
  const bar = li.querySelector(".progress-bar");
  return {
    li,
    // cls: "" (done), "error" (failed: red bar, the reason after the name), "warning", or
    // nothing (in progress).
    set(fraction, text, cls) {
      bar.style.width = `${Math.round(fraction * 100)}%`;
      const state = li.querySelector(".upload-state");
      state.textContent = text || "";
      state.className = `upload-state ${cls || "muted"}`;
      li.dataset.state = cls === "error" ? "failed" : cls === "" ? "done" : "active";
      li.classList.toggle("upload-failed", cls === "error");
      bar.classList.toggle("failed", cls === "error");
      bar.classList.toggle("done", cls === "");
    },
    warn(text) {
      const note = li.querySelector(".upload-note");
      note.textContent = text;
      note.hidden = false;
    },
  };
}

// The server's reason without the file name (the row shows the name once already).
const reasonOf = (body, fallback) => body.reason || body.error || fallback;

async function uploadFile(zone, file, ui) {
  const t = zone.dataset;
  const maxBytes = Number(t.maxBytes);
  if (file.size > maxBytes) {
    ui.set(0, t.i18nTooLarge, "error");
    return;
  }
  const created = await api(t.createUrl, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ filename: file.name, size: file.size, kind: t.kind,
                           project: t.project ? Number(t.project) : null }),
  });
  if (!created.ok) { ui.set(0, reasonOf(created.body, t.i18nFailed), "error"); return; }
  const url = `${t.createUrl}${created.body.id}/`;
  const chunk = Number(created.body.chunk_size || t.chunkBytes);
  let offset = created.body.offset || 0;
  let failures = 0;
  // The server's words for the last refusal worth waiting out (a full disk: 507 with the
  // offset where the upload stopped; it goes on from there once there is room).
  let waiting = "";
  while (offset < file.size) {
    const end = Math.min(offset + chunk, file.size);
    try {
      const res = await putChunk(url, offset, file.slice(offset, end),
                                 (sent) => ui.set((offset + sent) / file.size));
      if (res.ok) { offset = res.body.offset; failures = 0; waiting = ""; ui.set(offset / file.size); continue; }
      if (res.status === 409 && typeof res.body.offset === "number") { offset = res.body.offset; continue; }
      if (res.status === 507) {
        waiting = res.body.error || "";
        if (typeof res.body.offset === "number") offset = res.body.offset;
        throw new Error("disk full");
      }
      if (res.status >= 400 && res.status < 500) { ui.set(offset / file.size, reasonOf(res.body, t.i18nFailed), "error"); return; }
      throw new Error(`HTTP ${res.status}`);
    } catch (err) {
      failures += 1;
      if (failures > MAX_RETRIES) { ui.set(offset / file.size, waiting || t.i18nFailed, "error"); return; }
      ui.set(offset / file.size, waiting || t.i18nRetrying, "warning");
      await sleep(Math.min(30000, 500 * 2 ** failures));
      // Ask the server where it is: the last chunk may or may not have arrived.
      try {
        const state = await api(url);
        if (state.ok) offset = state.body.offset;
      } catch (e) { /* still offline; the next loop retries */ }
    }
  }
  ui.set(1, t.i18nProcessing);
  const done = await api(`${url}complete/`, { method: "POST" });
  if (!done.ok) { ui.set(1, reasonOf(done.body, t.i18nFailed), "error"); return; }
  const obj = done.body.object;
  ui.set(1, t.i18nDone, "");
  if (done.body.duplicate) ui.warn(done.body.duplicate.message);
  if (obj && obj.url) {
    const a = document.createElement("a");
    a.href = obj.url; a.textContent = obj.name;
    ui.li.querySelector(".upload-name").replaceChildren(a);
  }
}

function setup(zone) {
  const list = zone.querySelector("[data-upload-list]");
  const input = zone.querySelector("[data-upload-input]");
  let pending = Promise.resolve();
  const take = (files) => {
    for (const file of files) {
      const ui = row(list, file);
      // One file at a time keeps the server's disk and CPU steady; each gets its own bar.
      pending = pending.then(() => uploadFile(zone, file, ui)).catch(() => ui.set(0, zone.dataset.i18nFailed, "error"));
    }
    pending.then(() => { if (zone.dataset.reload !== "0") zone.dispatchEvent(new CustomEvent("uploads-done", { bubbles: true })); });
  };
  input.addEventListener("change", () => { take(Array.from(input.files)); input.value = ""; });
  zone.addEventListener("dragover", (e) => { e.preventDefault(); zone.classList.add("dragover"); });
  zone.addEventListener("dragleave", () => zone.classList.remove("dragover"));
  zone.addEventListener("drop", (e) => {
    e.preventDefault();
    zone.classList.remove("dragover");
    take(Array.from(e.dataTransfer.files));
  });
}

document.querySelectorAll("[data-upload-zone]").forEach(setup);
