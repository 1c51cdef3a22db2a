// The reply-link chat page (issue 14 §1): posts answers without leaving the page and shows new messages live.
// A file of its own under /static: the page's policy allows no inline script. Without JavaScript the form still
// posts and the page reloads.
(function () {
  "use strict";
  var chat = document.querySelector("main.chat[data-stream]");
  if (!chat) { return; }
  var list = document.getElementById("messages");
  var form = document.getElementById("answer");
  var box = document.getElementById("text");
  var status = document.getElementById("status");

  function show(message) {
    if (list.querySelector('[data-id="' + CSS.escape(message.id) + '"]')) { return; }
    var item = document.createElement("li");
    item.className = "msg " + (message.mine ? "mine" : "theirs");
    item.dataset.id = message.id;
    var text = document.createElement("p");
    text.textContent = message.text;  // text, never HTML
    item.appendChild(text);
    list.appendChild(item);
    item.scrollIntoView({ block: "end" });
  }

  function say(text, error) {
    status.textContent = text;
    status.classList.toggle("error", !!error);
  }

  var stream = new EventSource(chat.dataset.stream);
  stream.addEventListener("message", function (event) { show(JSON.parse(event.data)); });
  stream.addEventListener("open", function () { chat.dataset.live = "1"; });
  stream.addEventListener("gone", function () { stream.close(); say("This link is no longer valid.", true); });

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var text = box.value.trim();
    if (!text) { return; }
    say("Sending…", false);
    fetch(chat.dataset.post, {
      method: "POST",
      headers: { "Accept": "application/json", "Content-Type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ text: text }).toString(),
      credentials: "omit",
      referrerPolicy: "no-referrer"
    }).then(function (response) {
      return response.json().then(function (body) { return { ok: response.ok, body: body }; });
    }).then(function (answer) {
      if (!answer.ok) { say(answer.body.detail || "Not sent.", true); return; }
      box.value = "";
      say("Sent.", false);
      show(answer.body.message);
    }).catch(function () { say("Not sent: no connection.", true); });
  });
})();
