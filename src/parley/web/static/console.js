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

  // <button data-copy="#new-secret">: copies that field's value (an API key's secret, shown once).
  document.body.addEventListener("click", (e) => {
    const button = e.target.closest && e.target.closest("button[data-copy]");
    if (!button) return;
    const field = document.querySelector(button.dataset.copy);
    if (!field) return;
    field.select();
    const done = () => { button.textContent = "Copied"; };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(field.value).then(done, () => { document.execCommand("copy"); done(); });
    } else {
      document.execCommand("copy");
      done();
    }
  });

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
    if (status < 300) {
      form.reset(); clearFiles(form); if (text) htmx.trigger(text, "input");
      const fields = form.querySelector("#template-fields");
      if (fields) fields.replaceChildren();
      delete form.dataset.templates;
      composerMode(form);
    }
  });

  // WhatsApp in the composer (web/inbox_whatsapp.py): the channel chosen and the window decide between free text
  // and the template picker; inside the window a button switches to the picker and back.
  document.body.addEventListener("change", (e) => {
    if (e.target.matches && e.target.matches("form[data-whatsapp] input[name=channel]")) composerMode(e.target.form);
  });
  document.body.addEventListener("click", (e) => {
    const button = e.target.closest && e.target.closest("form[data-whatsapp] [data-template-mode]");
    if (!button) return;
    const form = button.closest("form");
    form.dataset.templates = button.dataset.templateMode;
    composerMode(form);
    const first = form.querySelector(button.dataset.templateMode === "on" ? "#f-template" : "#f-text");
    if (first) first.focus();
  });
  // A send refused because the window closed meanwhile (409): the server says when; only templates from now on.
  document.body.addEventListener("inbox:window-closed", (e) => closeWindow(e.detail && e.detail.text));

  // A reply waits for its files: sent while one is still uploading, it would go without it.
  document.body.addEventListener("htmx:beforeRequest", (e) => {
    const form = e.detail.elt;
    if (!form.matches || !form.matches("form[data-upload-url]")) return;
    if ((form.parleyFiles || []).some((f) => f.state === "uploading")) {
      e.preventDefault();
      showFiles(form, "Wait until every file has uploaded, then send.");
    }
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
  attachFiles(document);
  countWindows(document);
  htmx.onLoad((element) => { keepDrafts(element); markReadWhenSeen(element); attachFiles(element); countWindows(element); });
});

// The composer's two parts (<form data-whatsapp data-window-open>): free text and files, or a WhatsApp template —
// the only thing that may go on WhatsApp once the window is closed. A disabled fieldset posts nothing.
function composerMode(form) {
  if (!form || !form.hasAttribute("data-whatsapp")) return;
  const chosen = form.querySelector("input[name=channel]:checked");
  const whatsapp = !!chosen && chosen.value === "whatsapp";
  const open = form.dataset.windowOpen === "true";
  const templates = whatsapp && (!open || form.dataset.templates === "on");
  const free = form.querySelector("[data-free-text]");
  const part = form.querySelector("[data-template-part]");
  if (free) { free.hidden = templates; free.disabled = templates; }
  if (part) { part.hidden = !templates; part.disabled = !templates; }
  const on = form.querySelector('[data-template-mode="on"]');
  const off = form.querySelector('[data-template-mode="off"]');
  if (on) on.hidden = !whatsapp || !open;
  if (off) off.hidden = !open;
  const text = form.querySelector("textarea[name=text]");
  if (text) text.maxLength = Number(whatsapp ? text.dataset.whatsappMaxlength : text.dataset.smsMaxlength);
}

// The WhatsApp window's countdown (<p id="wa-window" data-seconds-left>): the seconds the SERVER counted when it
// rendered the page, counted down with the monotonic clock (the browser's date may be anything); at zero the
// banner says it closed and the composer offers only templates on WhatsApp.
function countWindows(root) {
  const found = root.querySelectorAll ? [...root.querySelectorAll("[data-seconds-left]")] : [];
  if (root.dataset && root.dataset.secondsLeft) found.push(root);
  for (const banner of found) {
    if (banner.dataset.counting) continue;
    banner.dataset.counting = "1";
    const left = Number(banner.dataset.secondsLeft);
    const form = document.querySelector("form[data-whatsapp]");
    if (form && form.dataset.windowOpen !== String(left > 0)) { form.dataset.windowOpen = String(left > 0); composerMode(form); }
    if (!(left > 0)) continue;
    const started = performance.now();
    const shown = banner.querySelector("[data-countdown]");
    const timer = setInterval(() => {
      if (!banner.isConnected) { clearInterval(timer); return; }
      const now = left - Math.floor((performance.now() - started) / 1000);
      if (now > 0) { if (shown) shown.textContent = hoursMinutesSeconds(now); return; }
      clearInterval(timer);
      closeWindow(banner.dataset.closedText);
    }, 1000);
  }
}

// 23:41:12, as web/inbox_whatsapp.py `countdown` writes it.
function hoursMinutesSeconds(seconds) {
  const two = (n) => String(n).padStart(2, "0");
  return two(Math.floor(seconds / 3600)) + ":" + two(Math.floor((seconds % 3600) / 60)) + ":" + two(seconds % 60);
}

function closeWindow(text) {
  const banner = document.getElementById("wa-window");
  if (banner) {
    banner.textContent = text || banner.dataset.closedText;
    banner.classList.remove("open");
    banner.classList.add("closed");
    banner.dataset.secondsLeft = "0";
  }
  const form = document.querySelector("form[data-whatsapp]");
  if (form) { form.dataset.windowOpen = "false"; composerMode(form); }
}

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

const LIVE_TYPES = [
  "message.created", "message.status", "message.media", "message.unrouted", "conversation.updated", "campaign.updated",
];

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

// The composer's files (<form data-upload-url data-mms-max-bytes data-mms-max-files>): each file chosen with the
// attach button or dropped on the composer uploads at once (POST /inbox/media); the list shows its name, size and
// state, and the total against the MMS limit (seed 001), naming the files that would be left out. Each uploaded
// file adds a hidden "media" input with its id: the reply posts ids, never the files.
function attachFiles(root) {
  const found = root.querySelectorAll ? root.querySelectorAll("form[data-upload-url]") : [];
  const forms = root.matches && root.matches("form[data-upload-url]") ? [root, ...found] : [...found];
  for (const form of forms) {
    if (form.dataset.attachBound) continue;
    form.dataset.attachBound = "1";
    form.parleyFiles = [];
    const input = form.querySelector("input[type=file][data-attach]");
    if (!input) continue;
    input.addEventListener("change", () => {
      addFiles(form, [...input.files]);
      input.value = ""; // the same file may be chosen again after it was removed
    });
    const zone = form.closest("[data-dropzone]") || form;
    const carriesFiles = (e) => !input.disabled && e.dataTransfer && [...e.dataTransfer.types].includes("Files");
    for (const type of ["dragenter", "dragover"]) {
      zone.addEventListener(type, (e) => {
        if (!carriesFiles(e)) return;
        e.preventDefault(); // allows the drop
        e.dataTransfer.dropEffect = "copy";
        zone.classList.add("dropping");
      });
    }
    zone.addEventListener("dragleave", (e) => { if (!zone.contains(e.relatedTarget)) zone.classList.remove("dropping"); });
    zone.addEventListener("drop", (e) => {
      zone.classList.remove("dropping");
      if (!carriesFiles(e)) return;
      e.preventDefault(); // the browser would otherwise open the file in place of the console
      addFiles(form, [...e.dataTransfer.files]);
    });
  }
}

function addFiles(form, chosen) {
  for (const file of chosen) {
    const entry = { file, name: file.name, size: file.size, type: file.type, state: "uploading", id: "", error: "" };
    form.parleyFiles.push(entry);
    uploadFile(form, entry);
  }
  showFiles(form);
}

function uploadFile(form, entry) {
  const body = new FormData();
  body.append("file", entry.file, entry.file.name);
  entry.controller = new AbortController();
  fetch(form.dataset.uploadUrl, {
    method: "POST", body, credentials: "same-origin", redirect: "manual", signal: entry.controller.signal,
    headers: { "X-CSRF-Token": csrfToken() },
  })
    .then(async (response) => {
      // A session that ended answers with the sign-in redirect, which fetch does not follow here.
      if (response.type === "opaqueredirect") throw new Error("Your session has ended: reload the page to sign in again");
      const text = await response.text();
      let answer = null;
      try { answer = JSON.parse(text); } catch (_) { /* a plain-text refusal (a body over the server's limit) */ }
      if (response.ok && answer && answer.id) {
        Object.assign(entry, { state: "ready", id: answer.id, name: answer.filename, size: answer.size, type: answer.content_type });
      } else {
        const reason = (answer && answer.error && answer.error.reason) || text.trim() || response.statusText;
        Object.assign(entry, { state: "error", error: reason + " (" + response.status + ")" });
      }
    })
    .catch((error) => {
      if (error.name === "AbortError") return; // removed while uploading
      Object.assign(entry, { state: "error", error: error.message || "Parley cannot be reached: check the connection" });
    })
    .finally(() => { entry.controller = null; if (form.parleyFiles.includes(entry)) showFiles(form); });
}

function clearFiles(form) {
  for (const entry of form.parleyFiles || []) if (entry.controller) entry.controller.abort();
  if (form.parleyFiles) { form.parleyFiles = []; showFiles(form); }
}

function removeFile(form, entry) {
  if (entry.controller) entry.controller.abort();
  form.parleyFiles = form.parleyFiles.filter((f) => f !== entry);
  showFiles(form);
  const input = form.querySelector("input[type=file][data-attach]");
  if (input) input.focus(); // the button that had the focus is gone
}

// A plain-text file goes as SMS text, not as an MMS attachment (core/mms.py `is_text`).
function goesAsText(entry) {
  return (entry.type || "").split(";")[0].trim().toLowerCase() === "text/plain";
}

// The MMS as the server will pack it (core/mms.py `pack`): too many files, or too many bytes, and files are left
// out from the end of the list until the rest fits. Returns {files, bytes, leftOut: Map(entry -> reason)}.
function packFiles(form) {
  const maxFiles = Number(form.dataset.mmsMaxFiles), maxBytes = Number(form.dataset.mmsMaxBytes);
  const kept = form.parleyFiles.filter((f) => f.state !== "error" && !goesAsText(f));
  const bytes = kept.reduce((sum, f) => sum + f.size, 0);
  const files = kept.length;
  const leftOut = new Map();
  while (kept.length > maxFiles) leftOut.set(kept.pop(), "an MMS carries at most " + maxFiles + " files");
  const total = () => kept.reduce((sum, f) => sum + f.size, 0);
  while (kept.length && total() > maxBytes) {
    leftOut.set(kept.pop(), "an MMS carries at most " + maxBytes.toLocaleString("en-US") + " bytes");
  }
  return { files, bytes, maxFiles, maxBytes, leftOut };
}

// Sizes as web/inbox_media.py `filesize` writes them: decimal units, as the MMS limit is written.
function formatSize(size) {
  if (size < 1000) return size + (size === 1 ? " byte" : " bytes");
  const [value, unit] = size < 1e6 ? [size / 1e3, "kB"] : [size / 1e6, "MB"];
  return value.toFixed(2).replace(/\.?0+$/, "") + " " + unit;
}

function showFiles(form, warning) {
  const list = form.querySelector(".attachment-list");
  const total = form.querySelector(".composer-total");
  if (!list || !total) return;
  const packed = packFiles(form);
  list.replaceChildren(...form.parleyFiles.map((entry) => fileItem(form, entry, packed.leftOut.get(entry))));
  const lines = [];
  if (packed.files) {
    lines.push("Total " + formatSize(packed.bytes) + " of " + formatSize(packed.maxBytes) + " · " + packed.files
      + " of " + packed.maxFiles + " files");
  }
  if (packed.leftOut.size) {
    const names = [...packed.leftOut.keys()].map((f) => f.name).join(", ");
    lines.push("Over the MMS limit: " + names + (packed.leftOut.size === 1 ? " will" : " will all") + " be left out");
  }
  if (warning) lines.push(warning);
  total.textContent = lines.join(" — ");
  total.classList.toggle("error-text", packed.leftOut.size > 0 || !!warning);
}

function fileItem(form, entry, leftOutReason) {
  const item = document.createElement("li");
  item.className = "attachment";
  const state = entry.state === "ready" && leftOutReason ? "left-out" : entry.state;
  item.dataset.state = state;
  const name = document.createElement("span");
  name.className = "file-name";
  name.textContent = entry.name;
  const size = document.createElement("span");
  size.className = "file-size";
  size.textContent = formatSize(entry.size);
  const note = document.createElement("span");
  note.className = "file-state";
  if (entry.state === "uploading") note.textContent = "uploading…" + (leftOutReason ? " (will be left out: " + leftOutReason + ")" : "");
  else if (entry.state === "error") { note.textContent = entry.error; note.classList.add("error-text"); }
  else if (leftOutReason) { note.textContent = "will be left out: " + leftOutReason; note.classList.add("error-text"); }
  else if (goesAsText(entry)) note.textContent = "goes as SMS text";
  const remove = document.createElement("button");
  remove.type = "button";
  remove.className = "link";
  remove.textContent = "Remove";
  remove.setAttribute("aria-label", "Remove " + entry.name);
  remove.addEventListener("click", () => removeFile(form, entry));
  item.append(name, " ", size, " ", note, " ", remove);
  if (entry.state === "ready") {
    const id = document.createElement("input");
    id.type = "hidden";
    id.name = "media";
    id.value = entry.id;
    item.append(id);
  }
  return item;
}
