// Drag-and-drop uploads over the resumable protocol (README.md, "Upload protocol").
// One progress bar per file; a failed chunk is retried with backoff, and the upload resumes
// from the offset the server reports, so a dropped connection loses at most one chunk. The
// "complete" call is retried the same way (the server answers a repeat with the object the
// first call made), so a connection lost at the very end keeps the bytes sent. A row that
// failed for a reason other than its content offers "Try again", which resumes where the
// server is. In an audio zone, an SRT or WebVTT file dropped together with the audio file of
// the same name is attached to that track as its subtitles once the track is uploaded.

const MAX_RETRIES = 8;

function csrfToken() {
  const m = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
  return m ? decodeURIComponent(m[1]) : (document.body.dataset.csrf || "");
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const backoff = (failures) => Math.min(30000, 500 * 2 ** failures);

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

function row(list, file, retryLabel) {
  const li = document.createElement("li");
  li.className = "upload-item";
  li.setAttribute("data-testid", "upload-item");
  li.dataset.state = "active";
  li.innerHTML = '<span class="upload-icon" aria-hidden="true"></span><span class="upload-name"></span> ' +
    '<span class="upload-state muted" data-testid="upload-state"></span>' +
    '<button type="button" class="btn btn-small upload-retry" data-testid="upload-retry" hidden></button>' +
    '<div class="progress" role="progressbar" aria-valuemin="0" aria-valuemax="100" aria-valuenow="0">' +
    '<div class="progress-bar" data-testid="upload-progress"></div></div>' +
    '<p class="warning upload-note" data-testid="upload-warning" hidden></p>' +
    '<p class="upload-note upload-subtitles" data-testid="upload-subtitles" hidden></p>';
  li.querySelector(".upload-name").textContent = file.name;
  const retry = li.querySelector(".upload-retry");
  retry.textContent = retryLabel;
  retry.setAttribute("aria-label", `${retryLabel}: ${file.name}`);
  list.appendChild(li);
  const bar = li.querySelector(".progress-bar");
  return {
    li,
    retry,
    // The upload on the server (its URL), kept so a retry resumes it instead of starting over.
    url: null,
    // cls: "" (done), "error" (failed: red bar, the reason after the name), "warning", or
    // nothing (in progress). canRetry: a failed row offers "Try again".
    set(fraction, text, cls, canRetry) {
      const percent = Math.round(fraction * 100);
      bar.style.width = `${percent}%`;
      bar.parentElement.setAttribute("aria-valuenow", String(percent));
      const state = li.querySelector(".upload-state");
      state.textContent = text || "";
      state.className = `upload-state ${cls || "muted"}`;
      li.dataset.state = cls === "error" ? "failed" : cls === "" ? "done" : "active";
      li.classList.toggle("upload-failed", cls === "error");
      bar.classList.toggle("failed", cls === "error");
      bar.classList.toggle("done", cls === "");
      retry.hidden = !(cls === "error" && canRetry);
    },
    warn(text) {
      const note = li.querySelector(".upload-note");
      note.textContent = text;
      note.hidden = false;
    },
    subtitles(text, ok) {
      const note = li.querySelector(".upload-subtitles");
      note.textContent = text;
      note.className = `upload-note upload-subtitles ${ok ? "muted" : "error"}`;
      note.dataset.state = ok ? "attached" : "refused";
      note.hidden = false;
    },
  };
}

// The server's reason without the file name (the row shows the name once already).
const reasonOf = (body, fallback) => body.reason || body.error || fallback;

// Answers a retry cannot change: the file itself is refused, or it is over the size limit.
const isFinal = (res) => res.status === 422 || res.status === 413;

// Where the server's upload stands ({offset, state} or null when there is none any more).
async function serverState(url) {
  try {
    const res = await api(url);
    if (res.ok) return res.body;
    if (res.status === 404) return null;
  } catch (e) { /* offline: the caller waits and asks again */ }
  return undefined;
}

async function send(zone, file, ui, offset, chunk) {
  const t = zone.dataset;
  let failures = 0;
  // The server's words for the last refusal worth waiting out (a full disk: 507 with the
  // offset where the upload stopped; it goes on from there once there is room).
  let waiting = "";
  while (offset < file.size) {
    const end = Math.min(offset + chunk, file.size);
    try {
      const res = await putChunk(ui.url, offset, file.slice(offset, end),
                                 (sent) => ui.set((offset + sent) / file.size));
      if (res.ok) { offset = res.body.offset; failures = 0; waiting = ""; ui.set(offset / file.size); continue; }
      if (res.status === 409 && typeof res.body.offset === "number") { offset = res.body.offset; continue; }
      if (res.status === 507) {
        waiting = res.body.error || "";
        if (typeof res.body.offset === "number") offset = res.body.offset;
        throw new Error("disk full");
      }
      if (res.status >= 400 && res.status < 500) {
        ui.set(offset / file.size, reasonOf(res.body, t.i18nFailed), "error", !isFinal(res));
        return null;
      }
      throw new Error(`HTTP ${res.status}`);
    } catch (err) {
      failures += 1;
      if (failures > MAX_RETRIES) { ui.set(offset / file.size, waiting || t.i18nFailed, "error", true); return null; }
      ui.set(offset / file.size, waiting || t.i18nRetrying, "warning");
      await sleep(backoff(failures));
      // Ask the server where it is: the last chunk may or may not have arrived.
      const state = await serverState(ui.url);
      if (state) offset = state.offset;
    }
  }
  return offset;
}

// POST complete/ until an answer comes: a lost connection keeps the bar full and asks again
// (a repeat of a call the server did finish returns the same object).
async function complete(zone, ui) {
  const t = zone.dataset;
  let failures = 0;
  for (;;) {
    let res = null;
    try { res = await api(`${ui.url}complete/`, { method: "POST" }); } catch (e) { res = null; }
    if (res && (res.ok || (res.status >= 400 && res.status < 500))) return res;
    failures += 1;
    if (failures > MAX_RETRIES) return res || { ok: false, status: 0, body: {} };
    ui.set(1, t.i18nRetrying, "warning");
    await sleep(backoff(failures));
  }
}

async function uploadFile(zone, file, ui) {
  const t = zone.dataset;
  const maxBytes = Number(t.maxBytes);
  if (file.size > maxBytes) {
    ui.set(0, t.i18nTooLarge, "error", false);
    return;
  }
  ui.set(0, "");
  let offset = 0;
  let chunk = Number(t.chunkBytes);
  // A retry continues the upload the server still holds open.
  const known = ui.url ? await serverState(ui.url) : null;
  if (known && known.state === "open") {
    offset = known.offset;
    chunk = Number(known.chunk_size || chunk);
  } else if (known && known.state === "done") {
    offset = file.size;
  } else {
    let created;
    try {
      created = await api(t.createUrl, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ filename: file.name, size: file.size, kind: t.kind,
                               project: t.project ? Number(t.project) : null }),
      });
    } catch (e) {
      ui.set(0, t.i18nFailed, "error", true);
      return;
    }
    if (!created.ok) { ui.set(0, reasonOf(created.body, t.i18nFailed), "error", !isFinal(created)); return; }
    ui.url = `${t.createUrl}${created.body.id}/`;
    chunk = Number(created.body.chunk_size || chunk);
    offset = created.body.offset || 0;
  }
  for (;;) {
    const sent = await send(zone, file, ui, offset, chunk);
    if (sent === null) return;
    ui.set(1, t.i18nProcessing);
    const done = await complete(zone, ui);
    if (done.status === 409 && typeof done.body.offset === "number" && done.body.offset < file.size) {
      offset = done.body.offset;  // the server is missing bytes: send them
      continue;
    }
    if (!done.ok) {
      ui.set(1, reasonOf(done.body, t.i18nFailed), "error", !isFinal(done));
      if (isFinal(done)) ui.url = null;
      return;
    }
    const obj = done.body.object;
    ui.set(1, t.i18nDone, "");
    if (done.body.duplicate) ui.warn(done.body.duplicate.message);
    if (obj && obj.url) {
      const a = document.createElement("a");
      a.href = obj.url; a.textContent = obj.name;
      ui.li.querySelector(".upload-name").replaceChildren(a);
    }
    return obj;
  }
}

const SUBTITLES = /\.(srt|vtt)$/i;
const stem = (name) => name.replace(/\.[^.]*$/, "").toLowerCase();

// POST a subtitle file to the uploaded track; the row says what came of it (the server names
// the line of a bad file).
async function attachSubtitles(zone, track, file, ui) {
  const form = new FormData();
  form.append("subtitles", file, file.name);
  let res;
  try {
    res = await api(zone.dataset.subtitlesUrl.replace("/0/", `/${track.id}/`), { method: "POST", body: form });
  } catch (e) {
    res = { ok: false, body: { error: zone.dataset.i18nFailed } };
  }
  ui.subtitles(res.ok ? res.body.message : (res.body.error || zone.dataset.i18nFailed), res.ok);
}

function setup(zone) {
  const list = zone.querySelector("[data-upload-list]");
  const input = zone.querySelector("[data-upload-input]");
  let pending = Promise.resolve();
  const finished = () => {
    if (zone.dataset.reload !== "0") zone.dispatchEvent(new CustomEvent("uploads-done", { bubbles: true }));
  };
  // One file at a time keeps the server's disk and CPU steady; each gets its own bar. ``sub``:
  // the subtitle file that goes with it (audio zones).
  const run = (file, ui, sub) => {
    pending = pending.then(() => uploadFile(zone, file, ui))
      .then((track) => (track && sub ? attachSubtitles(zone, track, sub, ui) : null))
      .catch(() => ui.set(0, zone.dataset.i18nFailed, "error", true));
    return pending;
  };
  const take = (dropped) => {
    let files = dropped;
    const subtitles = new Map();
    if (zone.dataset.subtitlesUrl) {
      files = dropped.filter((f) => !SUBTITLES.test(f.name));
      for (const sub of dropped.filter((f) => SUBTITLES.test(f.name))) {
        if (files.some((f) => stem(f.name) === stem(sub.name))) subtitles.set(stem(sub.name), sub);
        else row(list, sub, "").set(0, zone.dataset.i18nSubtitlesAlone, "error", false);
      }
    }
    for (const file of files) {
      const ui = row(list, file, zone.dataset.i18nRetry || "Try again");
      const sub = subtitles.get(stem(file.name));
      ui.retry.addEventListener("click", () => {
        ui.retry.hidden = true;
        run(file, ui, sub).then(finished);
      });
      run(file, ui, sub);
    }
    pending.then(finished);
  };
  input.addEventListener("change", () => { take(Array.from(input.files)); input.value = ""; });
  zone.addEventListener("dragover", (e) => { e.preventDefault(); zone.classList.add("dragover"); });
  zone.addEventListener("dragleave", () => zone.classList.remove("dragover"));
  zone.addEventListener("drop", (e) => {
    e.preventDefault();
    zone.classList.remove("dragover");
    take(Array.from(e.dataTransfer.files));
  });
  // Tests (and scripts) wait for this before choosing files: a file chosen before the
  // listener exists would be lost.
  zone.dataset.uploadReady = "1";
}

document.querySelectorAll("[data-upload-zone]").forEach(setup);
