/* Live updates: a WebSocket to /live that resumes from the last event seen, reconnecting with
   exponential backoff and jitter. Other scripts listen for the "callcare:event" DOM event. */
(function () {
  "use strict";
  var root = document.getElementById("cc-live");
  if (!root || !window.WebSocket) return;
  var afterEvent = parseInt(root.dataset.afterEvent || "0", 10);
  var afterAudit = parseInt(root.dataset.afterAudit || "0", 10);
  var attempt = 0, timer = null, socket = null, stopped = false;

  function setState(state, text) {
    document.body.setAttribute("data-live", state);
    var el = document.getElementById("cc-live-state");
    if (el) { el.className = "cc-live-state cc-live-" + state; el.textContent = text; }
  }

  function url() {
    var proto = location.protocol === "https:" ? "wss:" : "ws:";
    return proto + "//" + location.host + "/live?after_event=" + afterEvent + "&after_audit=" + afterAudit;
  }

  function schedule() {
    if (stopped) return;
    var delay = Math.min(30000, 1000 * Math.pow(2, attempt)) * (0.5 + Math.random() / 2);
    attempt += 1;
    setState("offline", "reconnecting in " + Math.round(delay / 1000) + " s");
    clearTimeout(timer);
    timer = setTimeout(connect, delay);
  }

  function text(s) { return document.createTextNode(s == null ? "" : String(s)); }

  function toast(m) {
    var box = document.getElementById("cc-toasts");
    if (!box) return;
    var t = document.createElement("div");
    t.className = "cc-toast" + (m.escalated && m.sentiment !== "Negative" ? " cc-toast-escalated" : "");
    t.setAttribute("role", "alert");
    var why = [];
    if (m.sentiment === "Negative") why.push("negative sentiment");
    if (m.escalated) why.push("escalated");
    var strong = document.createElement("strong");
    strong.appendChild(text("Call needs attention: " + why.join(", ")));
    var link = document.createElement("a");
    link.href = "/calls/" + encodeURIComponent(m.call_id);
    link.appendChild(text(m.call_id.slice(0, 14)));
    var close = document.createElement("button");
    close.type = "button"; close.className = "close"; close.setAttribute("aria-label", "Dismiss");
    close.appendChild(text("\u00d7"));
    close.onclick = function () { t.remove(); };
    t.appendChild(close); t.appendChild(strong); t.appendChild(document.createElement("br"));
    t.appendChild(link);
    t.appendChild(text(" · " + (m.category || "").replace(/_/g, " ") + (m.agent_id ? " · " + m.agent_id : "")));
    box.appendChild(t);
    setTimeout(function () { t.remove(); }, 15000);
  }

  function connect() {
    setState("connecting", "connecting…");
    try { socket = new WebSocket(url()); } catch (e) { schedule(); return; }
    socket.onmessage = function (e) {
      var m;
      try { m = JSON.parse(e.data); } catch (err) { return; }
      if (m.type === "hello") { attempt = 0; setState("live", "live"); return; }
      if (m.type === "ping") return;
      if (m.type === "call") afterEvent = Math.max(afterEvent, m.event_id);
      if (m.type === "assignment") afterAudit = Math.max(afterAudit, m.audit_id);
      if (m.alert) toast(m);
      document.dispatchEvent(new CustomEvent("callcare:event", { detail: m }));
    };
    socket.onclose = function (e) {
      socket = null;
      if (e.code === 1008) { stopped = true; setState("offline", "signed out"); return; }
      schedule();
    };
  }

  window.addEventListener("online", function () { if (!socket) { attempt = 0; clearTimeout(timer); connect(); } });
  window.callcareLive = {
    toast: toast,
    drop: function () { if (socket) socket.close(4000, "dropped"); }  // for tests: lose the connection
  };
  connect();
})();
