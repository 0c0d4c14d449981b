/* The call list follows live events: it re-fetches its rows (same filters, sort and page). */
(function () {
  "use strict";
  var holder = document.getElementById("cc-rows");
  if (!holder) return;
  var pending = null, changed = {};
  function refresh() {
    pending = null;
    fetch(holder.dataset.fragment, { credentials: "same-origin", headers: { "X-Requested-With": "fetch" } })
      .then(function (r) { if (!r.ok || r.redirected) throw new Error(r.status); return r.text(); })
      .then(function (html) {
        holder.innerHTML = html;
        Object.keys(changed).forEach(function (id) {
          var row = holder.querySelector('tr[data-call-id="' + CSS.escape(id) + '"]');
          if (row) row.classList.add("cc-row-flash");
        });
        changed = {};
        document.dispatchEvent(new CustomEvent("callcare:list-refreshed"));
      })
      .catch(function () { /* the next event tries again */ });
  }
  document.addEventListener("callcare:event", function (e) {
    changed[e.detail.call_id] = true;
    if (!pending) pending = setTimeout(refresh, 300);
  });
})();
