/* Audio and transcript in step: the turn being played is highlighted and kept in view; clicking a
   turn (or Enter/Space on it) plays from its start. Live events about this call show a notice. */
(function () {
  "use strict";
  var audio = document.getElementById("cc-audio");
  var list = document.getElementById("cc-transcript");
  var turns = list ? Array.prototype.slice.call(list.querySelectorAll(".cc-turn")) : [];
  var starts = turns.map(function (t) { return parseFloat(t.dataset.start); });
  var ends = turns.map(function (t) { return parseFloat(t.dataset.end); });
  var current = -1;

  function find(time) {
    var lo = 0, hi = starts.length - 1, idx = -1;
    while (lo <= hi) { var mid = (lo + hi) >> 1; if (starts[mid] <= time) { idx = mid; lo = mid + 1; } else { hi = mid - 1; } }
    if (idx >= 0 && time > ends[idx] + 0.5) return -1;  // in a pause after the turn
    return idx;
  }

  function keepInView(el) {
    if (!list || list.scrollHeight <= list.clientHeight) {
      var r = el.getBoundingClientRect();
      if (r.top < 80 || r.bottom > window.innerHeight) el.scrollIntoView({ block: "center", behavior: "smooth" });
      return;
    }
    var top = el.offsetTop - list.offsetTop, bottom = top + el.offsetHeight;
    if (top < list.scrollTop || bottom > list.scrollTop + list.clientHeight) {
      list.scrollTo({ top: Math.max(0, top - list.clientHeight / 3), behavior: "smooth" });
    }
  }

  function update() {
    var idx = find(audio.currentTime);
    if (idx === current) return;
    if (current >= 0) { turns[current].classList.remove("cc-current"); turns[current].removeAttribute("aria-current"); }
    current = idx;
    if (idx >= 0) {
      turns[idx].classList.add("cc-current");
      turns[idx].setAttribute("aria-current", "true");
      keepInView(turns[idx]);
    }
  }

  function seek(i) {
    audio.currentTime = starts[i] + 0.01;
    var played = audio.play();
    if (played && played.catch) played.catch(function () {});
    update();
  }

  if (audio && turns.length) {
    audio.addEventListener("timeupdate", update);
    audio.addEventListener("seeked", update);
    turns.forEach(function (t, i) {
      t.addEventListener("click", function () { seek(i); });
      t.addEventListener("keydown", function (e) {
        if (e.key === "Enter" || e.key === " ") { e.preventDefault(); seek(i); }
      });
    });
  }

  var page = document.querySelector(".cc-detail");
  document.addEventListener("callcare:event", function (e) {
    var m = e.detail;
    if (!page || m.call_id !== page.dataset.callId) return;
    var note = document.getElementById("cc-updated");
    var what = document.getElementById("cc-updated-what");
    if (m.type === "call") {
      var badge = document.querySelector("#cc-call-status .cc-status");
      if (badge) {
        badge.textContent = m.status.charAt(0) + m.status.slice(1).toLowerCase();
        badge.dataset.status = m.status;
      }
      what.textContent = m.event !== "status" ? m.event.replace(/_/g, " ") : "now " + m.status.toLowerCase();
    } else {
      what.textContent = "assignment changed";
    }
    note.hidden = false;
  });
})();
