// Parley console behaviour that htmx attributes cannot express. No build step, no dependencies but htmx.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  // Validation errors (422) come back as the form re-rendered with messages: swap them in like a success.
  htmx.config.responseHandling = [
    { code: "204", swap: false },
    { code: "[23]..", swap: true },
    { code: "422", swap: true, error: false },
    { code: "[45]..", swap: false, error: true },
  ];

  // Other failures: say so, instead of silently doing nothing.
  document.body.addEventListener("htmx:responseError", (e) => {
    const text = e.detail.xhr.responseText || e.detail.xhr.statusText;
    let message = text;
    try { message = JSON.parse(text).detail; } catch (_) { /* plain text */ }
    showNotice(typeof message === "string" ? message : "The request failed (" + e.detail.xhr.status + ")", "error");
  });
  document.body.addEventListener("htmx:sendError", () => showNotice("Parley cannot be reached: check the connection", "error"));

  // Forms (or the button that submits them) that destroy something ask first: <form data-confirm="Delete user
  // 104?">, <button formaction="…" data-confirm="…">. Cancelling sends nothing.
  document.body.addEventListener("submit", (e) => {
    const question = (e.submitter && e.submitter.dataset.confirm) || (e.target.dataset && e.target.dataset.confirm);
    if (question && !window.confirm(question)) { e.preventDefault(); e.stopImmediatePropagation(); }
  }, true);

  // <textarea name="message" data-param-as="text">: its value goes to the server under another name (the
  // message counter takes "text"), without an hx-vals expression (the page's policy forbids eval).
  document.body.addEventListener("htmx:configRequest", (e) => {
    const as = e.detail.elt.dataset && e.detail.elt.dataset.paramAs;
    if (as) e.detail.parameters[as] = e.detail.elt.value;
  });

  // The inbox composer (<form data-composer>): marks its text invalid on a refusal, starts afresh after a send.
  document.body.addEventListener("htmx:afterRequest", (e) => {
    const form = e.detail.elt;
    if (!form.matches || !form.matches("form[data-composer]")) return;
    const status = e.detail.xhr.status;
    const text = form.querySelector("textarea");
    if (text) text.setAttribute("aria-invalid", String(status === 422 && !!document.getElementById("e-text")));
    if (status < 300) { form.reset(); if (text) htmx.trigger(text, "input"); }
  });

  // A part that refreshes itself on live events (<div data-keep-typing>, the members panel) does not while the
  // user has typed into one of its fields, nor while it shows him an error: neither what he typed nor why it was
  // refused is thrown away by someone else's change. His own post re-renders the part.
  document.body.addEventListener("htmx:beforeRequest", (e) => {
    const part = e.detail.elt;
    if (!part.hasAttribute || !part.hasAttribute("data-keep-typing")) return;
    const typed = [...part.querySelectorAll("input:not([type=hidden]), textarea")].some((f) => f.value !== f.defaultValue);
    if (typed || part.querySelector('[aria-invalid="true"]')) e.preventDefault();
  });

  // Live events about one conversation are re-fired with its id in the name ("parley:message.created:<id>"),
  // so a conversation's parts listen for their own (hx-trigger filters would need eval).
  for (const type of LIVE_TYPES) {
    document.body.addEventListener("parley:" + type, (e) => {
      const id = e.detail && e.detail.conversation_id;
      if (id) htmx.trigger(document.body, "parley:" + type + ":" + id, e.detail);
    });
  }

  startLive();
  keepDrafts(document);
  markReadWhenSeen(document);
  htmx.onLoad((element) => { keepDrafts(element); markReadWhenSeen(element); });
});

function csrfToken() {
  const meta = document.querySelector('meta[name="csrf-token"]');
  return meta ? meta.content : "";
}

// A conversation is read when its timeline is in front of the user, not when a GET fetched it (a prefetch,
// a tab in the background): each rendered timeline with data-read-url posts it once the page is visible.
function markReadWhenSeen(root) {
  const found = root.querySelectorAll ? root.querySelectorAll("[data-read-url]") : [];
  const elements = root.dataset && root.dataset.readUrl ? [root, ...found] : [...found];
  for (const element of elements) {
    if (element.dataset.readPosted) continue;
    element.dataset.readPosted = "1";
    const post = () => {
      if (!element.isConnected) return;
      fetch(element.dataset.readUrl, { method: "POST", credentials: "same-origin", headers: { "X-CSRF-Token": csrfToken() } })
        .then((response) => { if (response.ok) htmx.trigger(document.body, "inbox:read"); })
        .catch(() => { /* offline: the next view marks it */ });
    };
    if (document.visibilityState === "visible") { post(); continue; }
    const whenVisible = () => {
      if (document.visibilityState !== "visible") return;
      document.removeEventListener("visibilitychange", whenVisible);
      post();
    };
    document.addEventListener("visibilitychange", whenVisible);
  }
}

function showNotice(message, kind) {
  const box = document.getElementById("notice");
  if (!box) return;
  const p = document.createElement("p");
  p.className = "notice " + (kind || "info");
  p.textContent = message;
  box.replaceChildren(p);
  setTimeout(() => { if (box.firstChild === p) box.replaceChildren(); }, 8000);
}

const LIVE_TYPES = ["message.created", "message.status", "message.unrouted", "conversation.updated", "campaign.updated"];

// Live updates: the user's event stream, re-broadcast as DOM events ("parley:message.created", ...)
// on <body>; page parts listen with hx-trigger="parley:message.created from:body". Every open tab has its own
// stream, so all of them update.
function startLive() {
  const url = document.body.dataset.live;
  if (!url || !window.EventSource) return;
  const source = new EventSource(url, { withCredentials: true });
  for (const type of LIVE_TYPES) {
    source.addEventListener(type, (e) => {
      let data = {};
      try { data = JSON.parse(e.data); } catch (_) { /* keep {} */ }
      htmx.trigger(document.body, "parley:" + type, data);
    });
  }
  window.parleyLive = source;
}

// Drafts survive reloads and an expired session: any textarea with data-draft="key" is kept in
// localStorage as it is typed, restored when the page comes back, and cleared once its form was sent.
function keepDrafts(root) {
  const areas = root.querySelectorAll ? root.querySelectorAll("textarea[data-draft]") : [];
  for (const area of areas) {
    if (area.dataset.draftBound) continue;
    area.dataset.draftBound = "1";
    const key = "parley.draft." + area.dataset.draft;
    const saved = localStorage.getItem(key);
    if (saved && !area.value) {
      area.value = saved;
      area.dispatchEvent(new Event("input", { bubbles: true }));
    }
    area.addEventListener("input", () => {
      if (area.value) localStorage.setItem(key, area.value); else localStorage.removeItem(key);
    });
    const form = area.closest("form");
    if (form) {
      form.addEventListener("htmx:afterRequest", (e) => {
        if (e.detail.elt !== form) return; // a request of a field inside it (the counter), not the form's own
        if (e.detail.successful && e.detail.xhr.status < 300 && !e.detail.xhr.getResponseHeader("HX-Redirect")) {
          localStorage.removeItem(key);
        }
      });
    }
  }
}
