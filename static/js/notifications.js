/* A person's notifications on every page of the studio (README, "Notifications").

   The header's bell shows the unread count. New notifications arrive over the person's own
   websocket (/ws/notifications/): the count goes up, a toast says what happened and, where
   the person allowed it in this browser, a desktop notification does too (so a batch that
   finishes while they work in another tab or program is not missed). When the socket is down
   the count is polled. The notifications page offers to turn desktop notifications on (the
   browser only asks after a click). Texts come from window.I18N (JSON data blocks). */
(function () {
  "use strict";
  const link = document.querySelector("[data-notifications]");
  if (!link) return;
  const I18N = window.I18N || {};
  const badge = link.querySelector("[data-notification-count]");
  const fmt = (template, values) =>
    (template || "").replace(/%\((\w+)\)s/g, (_, key) => (key in values ? values[key] : ""));

  function setCount(n) {
    const count = Math.max(0, Number(n) || 0);
    link.dataset.unread = String(count);
    if (badge) {
      badge.textContent = String(count);
      badge.hidden = count === 0;
    }
    const label = count ? fmt(I18N.unread, { n: count }) : I18N.noUnread;
    if (label) link.setAttribute("aria-label", label);
  }

  const desktopSupported = () => "Notification" in window;

  function desktop(item) {
    if (!desktopSupported() || window.Notification.permission !== "granted") return;
    try {
      const shown = new window.Notification(item.title, {
        body: item.body,
        tag: "heygem-notification-" + item.id,
        lang: document.documentElement.lang || "",
      });
      shown.onclick = () => {
        window.focus();
        if (item.url) window.location.assign(item.url);
        shown.close();
      };
    } catch (err) {
      /* Some browsers show notifications from a service worker only: the toast remains. */
    }
  }

  const TOAST_KIND = { success: "success", warning: "warning", error: "error" };

  function announce(item) {
    const toast = window.HeyGem && window.HeyGem.toast;
    if (toast) {
      const el = toast(item.title + " — " + item.body, TOAST_KIND[item.level] || "info", 15000);
      if (el && item.url) {
        const a = document.createElement("a");
        a.href = item.url;
        a.textContent = I18N.open || "Open it";
        a.className = "toast-link";
        el.querySelector("span").append(" ", a);
      }
    }
    desktop(item);
  }

  /* --- connection ---------------------------------------------------------------------- */
  let retryDelay = 2000;
  let pollTimer = null;
  let leaving = false;

  function poll() {
    fetch(link.dataset.unreadUrl, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then((r) => (r.ok ? r.json() : Promise.reject(r.status)))
      .then((body) => setCount(body.unread))
      .catch(() => {});
  }

  function connect() {
    if (!("WebSocket" in window)) {
      pollTimer = pollTimer || setInterval(poll, 30000);
      return;
    }
    const scheme = location.protocol === "https:" ? "wss://" : "ws://";
    const socket = new WebSocket(scheme + location.host + link.dataset.wsPath);
    socket.addEventListener("open", () => {
      retryDelay = 2000;
      if (pollTimer) clearInterval(pollTimer);
      pollTimer = null;
    });
    socket.addEventListener("message", (ev) => {
      let message;
      try { message = JSON.parse(ev.data); } catch (err) { return; }
      if (message.type === "unread") setCount(message.count);
      if (message.type === "notification") {
        setCount(message.unread);
        announce(message.notification);
      }
    });
    socket.addEventListener("close", (ev) => {
      if (leaving || ev.code === 4401) return;
      pollTimer = pollTimer || setInterval(poll, 30000);
      setTimeout(connect, retryDelay);
      retryDelay = Math.min(retryDelay * 2, 60000);
    });
    window.addEventListener("beforeunload", () => {
      leaving = true;
      socket.close();
    });
  }

  /* --- the notifications page: desktop notifications on/off ---------------------------- */
  function setupDesktopPanel() {
    const panel = document.querySelector("[data-desktop-notifications]");
    if (!panel) return;
    const state = panel.querySelector("[data-desktop-state]");
    const button = panel.querySelector("[data-desktop-enable]");
    const show = () => {
      if (!desktopSupported()) {
        state.textContent = I18N.desktopUnsupported || "";
        button.hidden = true;
        return;
      }
      const permission = window.Notification.permission;
      state.textContent = permission === "granted" ? I18N.desktopOn
        : permission === "denied" ? I18N.desktopBlocked : I18N.desktopOff;
      state.dataset.permission = permission;
      button.hidden = permission !== "default";
    };
    button.addEventListener("click", () => {
      const asked = window.Notification.requestPermission(show);
      if (asked && asked.then) asked.then(show);
    });
    show();
  }

  setCount(link.dataset.unread);
  setupDesktopPanel();
  connect();
})();
