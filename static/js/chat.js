// Tienda chat playground client. No dependencies, no inline code (CSP
// friendly). It POSTs the message as JSON to the URL in data-stream-url,
// reads the Server-Sent Events answer with fetch + ReadableStream, inserts
// every piece of text with textContent (never innerHTML), lists sources as
// links to /admin/documents/{id} (one per document, its other passages
// folded under a <details>), shows tokens and latency, and aborts the
// request (which stops generation upstream) when Stop is pressed.
(function () {
  "use strict";

  var root = document.getElementById("chat-playground");
  if (!root) {
    return;
  }
  var form = document.getElementById("chat-form");
  var log = document.getElementById("chat-log");
  var input = document.getElementById("chat-message");
  var sendBtn = document.getElementById("chat-send");
  var stopBtn = document.getElementById("chat-stop");
  var resetBtn = document.getElementById("chat-reset");
  var status = document.getElementById("chat-status");
  var streamURL = root.dataset.streamUrl;
  var docURL = root.dataset.documentUrl || "/admin/documents/";
  var csrfHeader = root.dataset.csrfHeader;
  var csrfToken = root.dataset.csrfToken;
  var history = [];
  var controller = null;
  // The conversation survives navigation within the session (tab):
  // sessionStorage keeps the turns as text, drawn again on load.
  var storeKey = "tienda.chat.v1";
  var saved = [];

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) {
      node.className = cls;
    }
    if (text !== undefined) {
      node.textContent = text;
    }
    return node;
  }

  // renderSnippet turns the server's snippet (HTML-escaped text with
  // <mark> around matches) into nodes without ever parsing it as HTML.
  function renderSnippet(parent, snippet) {
    var parts = String(snippet).split(/<mark>|<\/mark>/);
    for (var i = 0; i < parts.length; i++) {
      // decode the entities the server escaped, then insert as text
      var decoded = parts[i]
        .replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&#34;/g, "\"")
        .replace(/&#39;/g, "'").replace(/&quot;/g, "\"").replace(/&amp;/g, "&");
      parent.appendChild(i % 2 === 1 ? el("mark", "", decoded) : document.createTextNode(decoded));
    }
  }

  function setBusy(busy) {
    sendBtn.disabled = busy;
    stopBtn.disabled = !busy;
    input.disabled = busy;
  }

  function numberOrNull(name) {
    var field = form.elements.namedItem(name);
    if (!field || field.value === "") {
      return null;
    }
    var n = Number(field.value);
    return isNaN(n) ? null : n;
  }

  function payload(message) {
    var body = { message: message, history: history.slice(-20) };
    var model = form.elements.namedItem("model");
    if (model && model.value) {
      body.model = model.value;
    }
    var system = form.elements.namedItem("system_prompt");
    if (system && system.value.trim() !== "") {
      body.system_prompt = system.value;
    }
    var t = numberOrNull("temperature");
    if (t !== null) {
      body.temperature = t;
    }
    var k = numberOrNull("top_k");
    if (k !== null) {
      body.top_k = k;
    }
    return body;
  }

  // parseEvents splits the buffer into complete SSE events; it returns the
  // unfinished rest.
  function parseEvents(buffer, onEvent) {
    buffer = buffer.replace(/\r\n/g, "\n");
    var idx;
    while ((idx = buffer.indexOf("\n\n")) >= 0) {
      var block = buffer.slice(0, idx);
      buffer = buffer.slice(idx + 2);
      var type = "message";
      var data = [];
      block.split("\n").forEach(function (line) {
        if (line.indexOf("event:") === 0) {
          type = line.slice(6).trim();
        } else if (line.indexOf("data:") === 0) {
          data.push(line.slice(5).replace(/^ /, ""));
        }
      });
      if (data.length > 0) {
        var parsed = null;
        try {
          parsed = JSON.parse(data.join("\n"));
        } catch (e) {
          parsed = null;
        }
        onEvent(type, parsed);
      }
    }
    return buffer;
  }

  function addTurn(role, text) {
    var turn = el("div", "chat-turn chat-" + role);
    turn.appendChild(el("div", "chat-role", role === "user" ? "You" : "Assistant"));
    var body = el("div", "chat-text", text);
    turn.appendChild(body);
    log.appendChild(turn);
    log.scrollTop = log.scrollHeight;
    return { turn: turn, body: body };
  }

  // showSources lists the answer's sources, one per document and numbered
  // as the answer cites them; a document's other passages are folded under
  // its best one. No source: the documents had nothing relevant, say so.
  function showSources(turn, sources) {
    if (!sources || sources.length === 0) {
      turn.appendChild(el("div", "chat-no-sources", "No sources: no passage of the documents is relevant to this question."));
      return;
    }
    var list = el("ol", "chat-sources");
    sources.forEach(function (s) {
      var item = el("li");
      var link = el("a", "", s.title);
      link.href = docURL + encodeURIComponent(String(s.document_id));
      item.appendChild(link);
      var snip = el("div", "chat-snippet");
      renderSnippet(snip, s.snippet || "");
      item.appendChild(snip);
      var more = s.more || [];
      if (more.length > 0) {
        var fold = el("details", "chat-more");
        fold.appendChild(el("summary", "", more.length === 1 ? "1 more passage from this document" : more.length + " more passages from this document"));
        var others = el("ul");
        more.forEach(function (m) {
          var li = el("li", "chat-snippet");
          renderSnippet(li, m.snippet || "");
          others.appendChild(li);
        });
        fold.appendChild(others);
        item.appendChild(fold);
      }
      list.appendChild(item);
    });
    turn.appendChild(el("div", "chat-sources-title", "Sources"));
    turn.appendChild(list);
  }

  // showError writes the server's message, its detail and each field's
  // problem (marking the field in the settings), never just a status code.
  function showError(answer, code, err) {
    answer.turn.classList.add("chat-error");
    answer.body.textContent = err && err.error ? err.error : "The request failed (HTTP " + code + ").";
    if (err && err.detail) {
      answer.turn.appendChild(el("div", "chat-error-detail", err.detail));
    }
    if (err && err.fields) {
      var list = el("ul", "chat-error-fields");
      Object.keys(err.fields).forEach(function (k) {
        list.appendChild(el("li", "", k + ": " + err.fields[k]));
        var field = form.elements.namedItem(k);
        if (field && field.setAttribute) {
          field.setAttribute("aria-invalid", "true");
          var details = field.closest("details");
          if (details) {
            details.open = true;
          }
        }
      });
      answer.turn.appendChild(list);
    }
    remember("error", answer.body.textContent);
  }

  function remember(role, text, sources) {
    saved.push(sources ? { role: role, text: text, sources: sources } : { role: role, text: text });
    try {
      sessionStorage.setItem(storeKey, JSON.stringify({ history: history, turns: saved.slice(-100) }));
    } catch (e) { /* storage full or off: the conversation is only on the page */ }
  }

  async function send(message) {
    form.querySelectorAll("[aria-invalid]").forEach(function (f) { f.removeAttribute("aria-invalid"); });
    saved.push({ role: "user", text: message });
    var body = payload(message);
    addTurn("user", message);
    var answer = addTurn("assistant", "");
    var text = "";
    var started = performance.now();
    var firstToken = null;
    var sources = [];
    var finished = false;
    var shown = null; // the sources drawn (once the answer is done)
    controller = new AbortController();
    setBusy(true);
    status.textContent = "Thinking…";
    var headers = { "Content-Type": "application/json", "Accept": "text/event-stream" };
    if (csrfHeader && csrfToken) {
      headers[csrfHeader] = csrfToken;
    }
    try {
      var resp = await fetch(streamURL, {
        method: "POST",
        headers: headers,
        body: JSON.stringify(body),
        credentials: "same-origin",
        signal: controller.signal
      });
      if (!resp.ok) {
        var err = null;
        try {
          err = await resp.json();
        } catch (e) {
          err = null;
        }
        showError(answer, resp.status, err);
        status.textContent = "";
        return;
      }
      var reader = resp.body.getReader();
      var decoder = new TextDecoder();
      var buffer = "";
      for (;;) {
        var chunk = await reader.read();
        if (chunk.done) {
          break;
        }
        buffer += decoder.decode(chunk.value, { stream: true });
        buffer = parseEvents(buffer, function (type, data) {
          if (!data) {
            return;
          }
          if (type === "sources") {
            sources = data.sources || [];
          } else if (type === "token") {
            if (firstToken === null) {
              firstToken = performance.now() - started;
            }
            text += data.delta || "";
            answer.body.textContent = text;
            log.scrollTop = log.scrollHeight;
          } else if (type === "done") {
            finished = true;
            showSources(answer.turn, sources);
            shown = sources;
            var meta = data.tokens_used + " tokens · " + data.latency_ms + " ms";
            if (firstToken !== null) {
              meta += " · first token " + Math.round(firstToken) + " ms";
            }
            if (data.model) {
              meta += " · " + data.model;
            }
            answer.turn.appendChild(el("div", "chat-meta", meta));
            log.scrollTop = log.scrollHeight;
          } else if (type === "error") {
            finished = true;
            answer.turn.classList.add("chat-error");
            answer.turn.appendChild(el("div", "chat-meta", (data.code || "ERROR") + ": " + (data.error || "")));
          }
        });
      }
      status.textContent = finished ? "" : "The answer was cut off.";
    } catch (e) {
      if (e && e.name === "AbortError") {
        answer.turn.appendChild(el("div", "chat-meta", "Stopped after " + Math.round(performance.now() - started) + " ms."));
        status.textContent = "";
      } else {
        answer.turn.classList.add("chat-error");
        status.textContent = "Connection lost.";
      }
    } finally {
      controller = null;
      setBusy(false);
      history.push({ role: "user", content: message });
      if (text !== "") {
        history.push({ role: "assistant", content: text.slice(0, 4096) });
        remember("assistant", text, shown);
      } else {
        remember("note", "");
      }
      input.focus();
    }
  }

  // Enter sends; Shift+Enter breaks the line (and IME composition is left alone).
  input.addEventListener("keydown", function (ev) {
    if (ev.key === "Enter" && !ev.shiftKey && !ev.isComposing) {
      ev.preventDefault();
      if (form.requestSubmit) {
        form.requestSubmit();
      } else {
        form.dispatchEvent(new Event("submit", { cancelable: true }));
      }
    }
  });

  // Draw the conversation kept in this tab's session.
  try {
    var kept = JSON.parse(sessionStorage.getItem(storeKey) || "null");
    if (kept && kept.turns) {
      history = kept.history || [];
      kept.turns.forEach(function (t) {
        if (t.role === "user") {
          addTurn(t.role, t.text);
        } else if (t.role === "assistant") {
          var drawn = addTurn(t.role, t.text);
          if (t.sources) {
            showSources(drawn.turn, t.sources);
          }
        } else if (t.role === "error") {
          addTurn("assistant", t.text).turn.classList.add("chat-error");
        }
      });
      saved = kept.turns.filter(function (t) { return t.role !== "note"; });
    }
  } catch (e) { /* nothing kept */ }

  form.addEventListener("submit", function (ev) {
    ev.preventDefault();
    var message = input.value.trim();
    if (message === "" || controller) {
      return;
    }
    input.value = "";
    send(message);
  });

  stopBtn.addEventListener("click", function () {
    if (controller) {
      controller.abort();
    }
  });

  resetBtn.addEventListener("click", function () {
    if (controller) {
      controller.abort();
    }
    history = [];
    saved = [];
    try { sessionStorage.removeItem(storeKey); } catch (e) { /* nothing kept */ }
    while (log.firstChild) {
      log.removeChild(log.firstChild);
    }
    status.textContent = "";
    input.focus();
  });
})();
