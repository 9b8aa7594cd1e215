/* Shared small behaviours of every page: navigation, keyboard shortcuts, auto-submitting
   switchers, hover previews of presenter clips, live regions, confirmations and toasts.
   Page scripts (upload.js, batch.js) use window.HeyGem.toast / csrfToken. */
(function () {
  "use strict";

  // Texts in the reader's language: JSON data blocks the page carries (id "i18n-..."), so no
  // inline script is needed under the Content-Security-Policy.
  document.querySelectorAll('script[type="application/json"][id^="i18n-"]').forEach((el) => {
    window.I18N = Object.assign(window.I18N || {}, JSON.parse(el.textContent));
  });
  const I18N = window.I18N || {};
  document.documentElement.classList.add("js");

  function csrfToken() {
    const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    if (match) return decodeURIComponent(match[1]);
    const input = document.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : (document.body.dataset.csrf || "");
  }

  /* --- Toasts ------------------------------------------------------------------------ */
  function toast(message, kind, timeoutMs) {
    const box = document.querySelector("[data-toasts]");
    if (!box) return null;
    const el = document.createElement("div");
    el.className = "toast toast-" + (kind || "info");
    el.setAttribute("role", kind === "error" ? "alert" : "status");
    el.dataset.testid = "toast";
    const text = document.createElement("span");
    text.textContent = message;
    const close = document.createElement("button");
    close.type = "button";
    close.setAttribute("aria-label", I18N.close || "Close");
    close.textContent = "×";
    close.addEventListener("click", () => el.remove());
    el.append(text, close);
    box.append(el);
    const wait = timeoutMs === undefined ? (kind === "error" ? 9000 : 5000) : timeoutMs;
    if (wait > 0) setTimeout(() => el.remove(), wait);
    return el;
  }

  /* --- Navigation -------------------------------------------------------------------- */
  function setupNav() {
    const toggle = document.querySelector("[data-nav-toggle]");
    const nav = document.getElementById("site-nav");
    if (!toggle || !nav) return;
    const setOpen = (open) => {
      nav.classList.toggle("open", open);
      toggle.setAttribute("aria-expanded", open ? "true" : "false");
    };
    toggle.addEventListener("click", () => setOpen(!nav.classList.contains("open")));
    document.addEventListener("keydown", (ev) => {
      if (ev.key === "Escape" && nav.classList.contains("open")) {
        setOpen(false);
        toggle.focus();
      }
    });
  }

  /* Forms marked data-autosubmit (language, team) submit when their select changes. */
  function setupAutosubmit() {
    document.querySelectorAll("form[data-autosubmit]").forEach((form) => {
      form.querySelectorAll("select").forEach((sel) => {
        sel.addEventListener("change", () => form.requestSubmit ? form.requestSubmit() : form.submit());
      });
    });
  }

  /* --- Confirmations ------------------------------------------------------------------
     A form, a submit button or a link carrying data-confirm="<question>" asks first, in a
     modal dialog that names who or what is affected (data-confirm-yes / data-confirm-no label
     its buttons). The submit is held back (other scripts' handlers do not see it) until the
     person confirms; then it goes on as it would have. */
  function confirmDialog(message, yesLabel, noLabel) {
    return new Promise((resolve) => {
      const dialog = document.createElement("dialog");
      dialog.className = "confirm-dialog";
      dialog.dataset.testid = "confirm-dialog";
      dialog.setAttribute("aria-labelledby", "confirm-dialog-text");
      const text = document.createElement("p");
      text.id = "confirm-dialog-text";
      text.dataset.testid = "confirm-text";
      text.textContent = message;
      const actions = document.createElement("div");
      actions.className = "form-actions";
      const yes = document.createElement("button");
      yes.type = "button";
      yes.className = "btn btn-danger";
      yes.dataset.testid = "confirm-yes";
      yes.textContent = yesLabel || I18N.confirmYes || "Yes";
      const no = document.createElement("button");
      no.type = "button";
      no.className = "btn";
      no.dataset.testid = "confirm-no";
      no.textContent = noLabel || I18N.confirmNo || "Go back";
      actions.append(yes, no);
      dialog.append(text, actions);
      document.body.append(dialog);
      let answered = false;
      const finish = (ok) => {
        if (answered) return;
        answered = true;
        if (dialog.open) dialog.close();
        dialog.remove();
        resolve(ok);
      };
      yes.addEventListener("click", () => finish(true));
      no.addEventListener("click", () => finish(false));
      dialog.addEventListener("close", () => finish(false));
      dialog.showModal();
      no.focus();  // the safe answer is the one Enter picks
    });
  }

  function setupConfirm() {
    document.addEventListener("submit", (ev) => {
      const form = ev.target;
      const submitter = ev.submitter;
      const source = submitter && submitter.hasAttribute("data-confirm") ? submitter
        : form.hasAttribute("data-confirm") ? form : null;
      if (!source) return;
      if (form.dataset.confirmed === "1") {
        delete form.dataset.confirmed;
        return;
      }
      ev.preventDefault();
      ev.stopImmediatePropagation();
      confirmDialog(source.dataset.confirm || I18N.confirm, source.dataset.confirmYes,
                    source.dataset.confirmNo).then((ok) => {
        if (!ok) return;
        form.dataset.confirmed = "1";
        if (form.requestSubmit) form.requestSubmit(submitter || undefined);
        else form.submit();
      });
    }, true);
    document.addEventListener("click", (ev) => {
      const link = ev.target.closest("a[data-confirm]");
      if (!link) return;
      ev.preventDefault();
      confirmDialog(link.dataset.confirm || I18N.confirm, link.dataset.confirmYes,
                    link.dataset.confirmNo).then((ok) => { if (ok) window.location.assign(link.href); });
    }, true);
  }

  /* --- Hover preview: a presenter clip plays, muted, while pointed at or focused ------- */
  function previewTarget(video) {
    return video.closest(".thumb, .card") || video;
  }

  function setupHoverPreview(root) {
    root.querySelectorAll("video[data-hover-preview]").forEach((video) => {
      if (video.dataset.previewBound) return;
      video.dataset.previewBound = "1";
      video.muted = true;
      video.loop = true;
      video.playsInline = true;
      const host = previewTarget(video);
      const thumb = video.closest(".thumb");
      const start = () => {
        if (!video.getAttribute("src") && video.dataset.src) video.src = video.dataset.src;
        if (thumb) thumb.classList.add("previewing");
        const played = video.play();
        if (played && played.catch) played.catch(() => { if (thumb) thumb.classList.remove("previewing"); });
      };
      const stop = () => {
        video.pause();
        if (thumb) thumb.classList.remove("previewing");
        try { video.currentTime = 0; } catch (e) { /* not loaded yet: nothing to rewind */ }
      };
      host.addEventListener("mouseenter", start);
      host.addEventListener("mouseleave", stop);
      host.addEventListener("focusin", start);
      host.addEventListener("focusout", (ev) => { if (!host.contains(ev.relatedTarget)) stop(); });
    });
  }

  /* --- Keyboard: "/" jumps to the page's search box ---------------------------------- */
  function setupKeyboard() {
    document.addEventListener("keydown", (ev) => {
      if (ev.key !== "/" || ev.ctrlKey || ev.metaKey || ev.altKey) return;
      const tag = (document.activeElement && document.activeElement.tagName) || "";
      if (/^(INPUT|TEXTAREA|SELECT)$/.test(tag) || document.activeElement.isContentEditable) return;
      const search = document.querySelector("[data-search], input[type=search]");
      if (search) {
        ev.preventDefault();
        search.focus();
      }
    });
  }

  /* --- Live regions: [data-live-refresh] elements (with an id) fetch their own fresh copy
     from the server every few seconds while they show something still being processed, and
     at once when an upload finishes, so new presenters and their face check appear without
     a reload. ------------------------------------------------------------------------------ */
  const BUSY = '[data-status="processing"], [data-status="queued"], [data-status="running"]';

  /* What identifies a control across a refresh of its region (same name and value, same
     link target, same id). */
  function controlKey(el) {
    if (!el || !el.tagName) return "";
    if (el.id) return "#" + el.id;
    if (el.tagName === "A") return "a " + el.getAttribute("href");
    return el.tagName + " " + (el.name || "") + "=" + (el.value || "") + " " + (el.dataset.testid || "");
  }

  function setupLiveRefresh() {
    const regions = () => Array.from(document.querySelectorAll("[data-live-refresh][id]"));
    if (!regions().length) return;
    let timer = null;
    let inFlight = false;
    const schedule = (ms) => {
      if (timer) clearTimeout(timer);
      timer = setTimeout(refresh, ms);
    };
    async function refresh() {
      timer = null;
      if (inFlight) return schedule(1000);
      inFlight = true;
      try {
        const resp = await fetch(window.location.href, { credentials: "same-origin" });
        if (resp.ok) {
          const doc = new DOMParser().parseFromString(await resp.text(), "text/html");
          regions().forEach((region) => {
            const fresh = doc.getElementById(region.id);
            if (!fresh || fresh.innerHTML === region.innerHTML) return;
            // Never pull a video away from someone watching it.
            const watching = Array.from(region.querySelectorAll("video"))
              .some((v) => !v.paused && !v.hasAttribute("data-hover-preview"));
            if (watching) return;
            // Keep what the person is doing: ticked boxes and the focused control.
            const ticked = new Set(Array.from(region.querySelectorAll("input[type=checkbox]:checked"))
              .map(controlKey));
            const focused = region.contains(document.activeElement) ? controlKey(document.activeElement) : null;
            region.innerHTML = fresh.innerHTML;
            region.querySelectorAll("input[type=checkbox]").forEach((box) => {
              box.checked = ticked.has(controlKey(box));
            });
            if (focused) {
              const again = Array.from(region.querySelectorAll("a, button, input, select, textarea"))
                .find((el) => controlKey(el) === focused);
              if (again) again.focus();
            }
            setupBars(region);
            setupHoverPreview(region);
            document.dispatchEvent(new CustomEvent("live-refreshed", { detail: region }));
          });
        }
      } catch (err) {
        /* Offline for a moment: the next round tries again. */
      } finally {
        inFlight = false;
      }
      if (regions().some((r) => r.querySelector(BUSY))) schedule(2500);
    }
    document.addEventListener("uploads-done", () => schedule(200));
    if (regions().some((r) => r.querySelector(BUSY))) schedule(2500);
  }

  window.HeyGem = Object.assign(window.HeyGem || {}, { toast, csrfToken, setupHoverPreview, confirmDialog });

  /* Bar widths come as data-percent (a style attribute would be an inline style, which the
     Content-Security-Policy refuses); setting them through the CSSOM is allowed. */
  function setupBars(root) {
    root.querySelectorAll("[data-percent]").forEach((bar) => {
      const value = parseFloat(bar.dataset.percent);
      bar.style.width = (isFinite(value) ? Math.min(100, Math.max(0, value)) : 0) + "%";
    });
  }

  /* Buttons marked data-needs-selection="<checkbox name>" act on the ticked boxes of their
     form: disabled while none is ticked (the server still answers an empty call with the page
     and a message). */
  function setupSelectionButtons() {
    document.querySelectorAll("button[data-needs-selection]").forEach((button) => {
      const form = button.form;
      if (!form) return;
      const name = button.dataset.needsSelection;
      const update = () => {
        const ticked = form.querySelectorAll('input[type=checkbox][name="' + name + '"]:checked').length;
        button.disabled = ticked === 0;
      };
      form.addEventListener("change", update);
      update();
    });
  }

  function init() {
    setupBars(document);
    setupSelectionButtons();
    setupNav();
    setupAutosubmit();
    setupConfirm();
    setupHoverPreview(document);
    setupKeyboard();
    setupLiveRefresh();
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
