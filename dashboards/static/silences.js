// Silences panel: GET /api/silences every 5 s; author, comment and time left per silence.
// Kept apart from app.js so the page's own script can change freely around it.
(function () {
  "use strict";
  const list = document.getElementById("silences");
  const state = document.getElementById("silences-state");
  if (!list) return;

  function left(seconds) {
    const s = Math.max(0, Math.floor(seconds));
    const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60);
    return h ? `${h}h${String(m).padStart(2, "0")}m` : `${m}m${String(s % 60).padStart(2, "0")}s`;
  }

  function row(silence) {
    const item = document.createElement("li");
    item.className = `silence ${silence.state}`;
    const what = document.createElement("code");
    what.textContent = silence.match.join(" ");
    const when = document.createElement("span");
    when.className = "left";
    when.textContent = silence.state === "pending" ? `from ${silence.starts_at_local}` : `${left(silence.remaining_s)} left`;
    const who = document.createElement("p");
    who.className = "sub";
    who.textContent = `${silence.created_by}: ${silence.comment} (until ${silence.ends_at_local})`;
    item.append(what, " ", when, who);
    return item;
  }

  async function poll() {
    try {
      const response = await fetch("/api/silences", { credentials: "same-origin" });
      const body = await response.json();
      if (!response.ok) { state.textContent = body.message || response.statusText; return; }
      list.replaceChildren(...body.silences.map(row));
      state.textContent = `${body.active} active${body.pending ? `, ${body.pending} pending` : ""}`;
    } catch (error) {
      state.textContent = String(error);
    }
  }

  poll();
  setInterval(poll, 5000);
})();
