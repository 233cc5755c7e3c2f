// ven-sim live: polls /api/state every second and draws it; no framework, no external requests.
"use strict";

(() => {
  const POLL_MS = 1000;
  const PENDING_MS = 5000; // how long a control shows the value asked for before telemetry does
  // The token (when the server wants one) comes in the URL fragment, never sent to servers.
  const currentToken = () => new URLSearchParams(location.hash.slice(1)).get("token");
  const $ = (id) => document.getElementById(id);

  let state = null; // the last /api/state
  let clockOffset = 0; // server clock minus this browser's, seconds
  const pendingCircuits = new Map(); // circuit id -> {enabled, until}
  let pendingPanel = null; // {amps, until}

  // -- helpers ------------------------------------------------------------------------
  const kw = (v) => (typeof v === "number" ? v.toFixed(2) : "\u2013");
  const nowS = () => Date.now() / 1000 + clockOffset;
  const clock = (ts) => new Date(ts * 1000).toLocaleTimeString([], { hour12: false });

  function el(tag, attrs = {}, text = "") {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
    if (text) node.textContent = text;
    return node;
  }

  function duration(seconds) {
    const s = Math.max(0, Math.round(seconds));
    const h = Math.floor(s / 3600);
    const m = Math.floor((s % 3600) / 60);
    const pad = (n) => String(n).padStart(2, "0");
    return h ? `${h}:${pad(m)}:${pad(s % 60)}` : `${pad(m)}:${pad(s % 60)}`;
  }

  function say(text, kind = "info") {
    const box = $("message");
    box.textContent = text;
    box.dataset.kind = kind;
    box.hidden = !text;
  }

  // Off loopback the server wants the token on every API request, reads included.
  function authHeaders(headers = {}) {
    const token = currentToken(); // read each time: editing the fragment does not reload
    if (token) headers.Authorization = `Bearer ${token}`;
    return headers;
  }

  async function post(path, body) {
    const token = currentToken();
    const headers = authHeaders({ "Content-Type": "application/json" });
    const res = await fetch(path, { method: "POST", headers, body: JSON.stringify(body || {}) });
    let data = {};
    try { data = await res.json(); } catch { /* not JSON */ }
    if (res.status === 401 && !token) {
      throw new Error("This server needs a token: open the page as /#token=YOUR_TOKEN");
    }
    if (!res.ok) throw new Error(data.error || `${res.status} ${res.statusText}`);
    return data;
  }

  // -- polling ------------------------------------------------------------------------
  async function poll() {
    try {
      const res = await fetch("/api/state", { cache: "no-store", headers: authHeaders() });
      if (res.status === 401) throw new Error("this server needs a token: open /#token=YOUR_TOKEN");
      if (!res.ok) throw new Error(`${res.status} ${res.statusText}`);
      state = await res.json();
      clockOffset = state.now - Date.now() / 1000;
      render();
      if ($("message").dataset.kind === "offline") say("");
    } catch (err) {
      say(`Lost contact with ven-sim (${err.message}); retrying\u2026`, "offline");
      const badge = $("connection");
      badge.textContent = "web UI offline";
      badge.dataset.connected = "unknown";
    } finally {
      setTimeout(poll, POLL_MS);
    }
  }

  function render() {
    const t = state.telemetry || {};
    $("thing-name").textContent = state.thingName;
    document.title = `${state.thingName} \u00b7 ven-sim live`;
    renderPanel(t);
    $("used-kw").textContent = kw(t.usedPowerKw);
    $("baseline-kw").textContent = kw(t.baselinePowerKw);
    renderShed(t);
    $("utilization").textContent = typeof t.currentAmps === "number"
      ? `${t.currentAmps.toFixed(1)} A \u00b7 ${t.panelUtilizationPercent.toFixed(1)} % of panel`
      : "\u2013";
    renderCircuits(t.loads || []);
    renderEvents();
    renderCountdown();
    drawChart($("chart"), state.history || []);
    $("chart-axis").textContent = `time of day, local (${timeZoneLabel()})`;
    $("chart-step").textContent = state.physicsStepS
      ? `power moves in steps: the house physics steps every ${state.physicsStepS} s`
      : "power moves in steps, one per physics step";
    $("updated").textContent = t.timestamp ? clock(t.timestamp) : "never";
  }

  // Estimated shed = what the VEN believes its curtailed circuits shed (their natural draw
  // minus what they draw now); circuits switched off by hand are listed apart, never shed.
  function renderShed(t) {
    const events = state.events || [];
    $("shed-kw").textContent = kw(t.shedPowerKw);
    $("requested-kw").textContent = kw(t.requestedReductionKw);
    $("event-shed-kw").textContent = events.length
      ? kw(events.reduce((sum, e) => sum + (e.actualShedKw || 0), 0)) : kw(0);
    const off = (t.loads || []).filter((l) => !l.enabled).map((l) => l.name);
    $("manual-off").textContent = off.length
      ? `switched off by hand: ${off.join(", ")}` + (events.length ? " (not counted as shed)" : "")
      : "no circuit switched off by hand";
    $("manual-off").dataset.count = String(off.length);
  }

  function timeZoneLabel() {
    const zone = Intl.DateTimeFormat().resolvedOptions().timeZone || "local";
    const offset = -new Date().getTimezoneOffset();
    const sign = offset < 0 ? "-" : "+";
    const hm = `${String(Math.floor(Math.abs(offset) / 60)).padStart(2, "0")}:` +
      String(Math.abs(offset) % 60).padStart(2, "0");
    return zone === "UTC" ? "UTC" : `${zone}, UTC${sign}${hm}`;
  }

  function renderPanel(t) {
    const badge = $("connection");
    badge.dataset.connected = String(Boolean(state.connected));
    badge.textContent = state.connected
      ? "MQTT connected"
      : `MQTT offline${state.linkReason ? ` (${state.linkReason})` : ""}`;
    const select = $("panel-amps");
    if (!select.options.length) { // the sizes come from the server, once
      for (const size of state.panelSizes) {
        select.append(el("option", { value: String(size) }, `${size} A`));
      }
    }
    const settled = pendingPanel && pendingPanel.amps === state.panelAmps;
    if (settled || (pendingPanel && Date.now() > pendingPanel.until)) pendingPanel = null;
    const amps = pendingPanel ? pendingPanel.amps : state.panelAmps;
    if (document.activeElement !== select) select.value = String(amps);
    $("panel-max").textContent = t.panelMaxKw ? `${t.panelMaxKw} kW max` : "\u2013";
  }

  // -- circuits -----------------------------------------------------------------------
  function circuitRow(load) {
    const row = el("tr", { "data-circuit": load.id });
    row.append(
      el("td", { "data-field": "name" }),
      el("td", { "data-field": "role", class: "muted" }),
      el("td", { "data-field": "kw", class: "num" }),
      el("td", { "data-field": "shed", class: "num" }),
      el("td", { "data-field": "priority", class: "num" }),
    );
    const cell = el("td", { "data-field": "enabled" });
    const label = el("label", { class: "switch" });
    const box = el("input", { type: "checkbox", "aria-label": `${load.name} enabled` });
    box.addEventListener("change", () => toggleCircuit(load.id, box));
    label.append(box, el("span", { "aria-hidden": "true" }));
    cell.append(label);
    row.append(cell);
    return row;
  }

  function renderCircuits(loads) {
    const body = $("circuits").tBodies[0];
    if (!loads.length) return;
    body.querySelector("tr.empty")?.remove();
    const seen = new Set();
    for (const load of loads) {
      seen.add(load.id);
      let row = body.querySelector(`tr[data-circuit="${CSS.escape(load.id)}"]`);
      if (!row) row = circuitRow(load);
      body.append(row); // keeps the telemetry's order
      const field = (name) => row.querySelector(`[data-field="${name}"]`);
      field("name").textContent = load.name;
      const roles = state.circuitRoles || {};
      field("role").textContent = roles[load.type] || load.type;
      field("role").title = load.type;
      field("kw").textContent = kw(load.currentPowerKw);
      field("shed").textContent = kw(load.shedCapabilityKw);
      field("priority").textContent = String(load.priority);
      row.dataset.enabled = String(load.enabled);
      row.classList.toggle("off", !load.enabled);
      const wanted = pendingCircuits.get(load.id);
      if (wanted && (wanted.enabled === load.enabled || Date.now() > wanted.until)) {
        pendingCircuits.delete(load.id);
      }
      const box = row.querySelector("input[type=checkbox]");
      box.checked = pendingCircuits.has(load.id) ? pendingCircuits.get(load.id).enabled
        : load.enabled;
    }
    for (const row of body.querySelectorAll("tr[data-circuit]")) {
      if (!seen.has(row.dataset.circuit)) row.remove();
    }
    const on = loads.filter((l) => l.enabled).length;
    $("circuit-count").textContent = `${on} of ${loads.length} enabled`;
  }

  async function toggleCircuit(id, box) {
    const enabled = box.checked;
    pendingCircuits.set(id, { enabled, until: Date.now() + PENDING_MS });
    box.disabled = true;
    try {
      await post(`/api/circuits/${encodeURIComponent(id)}`, { enabled });
    } catch (err) {
      pendingCircuits.delete(id);
      box.checked = !enabled;
      say(`Could not switch ${id}: ${err.message}`, "error");
    } finally {
      box.disabled = false;
    }
  }

  // -- events -------------------------------------------------------------------------
  function eventRow(event) {
    const row = el("tr", { "data-event": event.eventId });
    row.append(
      el("td", { "data-field": "id" }, event.eventId),
      el("td", { "data-field": "requested", class: "num" }),
      el("td", { "data-field": "shed", class: "num" }),
      el("td", { "data-field": "circuits", class: "muted" }),
      el("td", { "data-field": "remaining", class: "num" }),
    );
    const button = el("button", { type: "button", "data-action": "restore", class: "secondary" },
      "Restore");
    button.addEventListener("click", () => restoreEvent(event.eventId, button));
    const cell = el("td");
    cell.append(button);
    row.append(cell);
    return row;
  }

  function renderEvents() {
    const body = $("events").tBodies[0];
    const events = state.events || [];
    const ids = new Set(events.map((e) => e.eventId));
    for (const row of body.querySelectorAll("tr[data-event]")) {
      if (!ids.has(row.dataset.event)) row.remove();
    }
    body.querySelector("tr.empty")?.remove();
    if (!events.length) {
      body.append(el("tr", { class: "empty" }));
      body.lastChild.append(el("td", { colspan: "6" }, "No active event"));
    }
    for (const event of events) {
      let row = body.querySelector(`tr[data-event="${CSS.escape(event.eventId)}"]`);
      if (!row) row = body.appendChild(eventRow(event));
      row.dataset.endTs = event.endTs == null ? "" : String(event.endTs);
      const field = (name) => row.querySelector(`[data-field="${name}"]`);
      field("requested").textContent = kw(event.requestedKw);
      field("shed").textContent = kw(event.actualShedKw);
      const shed = (event.circuits || []).filter((c) => c.curtailed_kw > 0).map((c) => c.name);
      field("circuits").textContent = shed.length ? shed.join(", ") : "none";
    }
    const last = state.lastEvent;
    $("last-event").textContent = last
      ? `Last event ${last.eventId} ended at ${clock(last.endTs)}: delivered ` +
        `${kw(last.deliveredKw)} kW, ${last.deliveredKwh.toFixed(3)} kWh`
      : "";
  }

  function renderCountdown() {
    if (!state) return;
    for (const row of $("events").querySelectorAll("tr[data-event]")) {
      const end = parseFloat(row.dataset.endTs);
      row.querySelector('[data-field="remaining"]').textContent =
        Number.isFinite(end) ? duration(end - nowS()) : "\u2013";
    }
    const events = state.events || [];
    const first = events[0];
    $("active-event").dataset.active = String(Boolean(first));
    $("event-countdown").textContent = !first ? "none"
      : typeof first.endTs === "number" ? duration(first.endTs - nowS()) : "active";
    $("event-name").textContent = !first ? "no active event"
      : `${first.eventId}: ${kw(first.requestedKw)} kW asked` +
        (events.length > 1 ? ` (+${events.length - 1} more)` : "");
  }

  async function restoreEvent(id, button) {
    button.disabled = true;
    try {
      await post(`/api/events/${encodeURIComponent(id)}/restore`);
      say(`Event ${id} restored.`);
    } catch (err) {
      button.disabled = false;
      say(`Could not restore ${id}: ${err.message}`, "error");
    }
  }

  async function triggerEvent(e) {
    e.preventDefault();
    const requestedKw = parseFloat($("event-kw").value);
    const minutes = parseFloat($("event-minutes").value);
    if (!(requestedKw >= 0) || !(minutes > 0)) {
      say("Give the kW to shed (0 or more) and the minutes (more than 0).", "error");
      return;
    }
    const button = $("event-trigger");
    button.disabled = true;
    try {
      const res = await post("/api/events", { requestedKw, durationS: minutes * 60 });
      say(`Event ${res.eventId} started: shed ${requestedKw} kW for ${minutes} min.`);
    } catch (err) {
      say(`Could not start the event: ${err.message}`, "error");
    } finally {
      button.disabled = false;
    }
  }

  async function changePanel() {
    const amps = parseInt($("panel-amps").value, 10);
    pendingPanel = { amps, until: Date.now() + PENDING_MS };
    try {
      await post("/api/panel", { amps });
      say(`Panel set to ${amps} A.`);
    } catch (err) {
      pendingPanel = null;
      say(`Could not change the panel: ${err.message}`, "error");
    }
  }

  // -- chart --------------------------------------------------------------------------
  function niceStep(range, ticks) {
    const raw = range / ticks;
    const mag = 10 ** Math.floor(Math.log10(raw));
    return [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) || raw;
  }

  function drawChart(canvas, history) {
    const css = getComputedStyle(document.documentElement);
    const color = (name) => css.getPropertyValue(name).trim();
    const dpr = window.devicePixelRatio || 1;
    const w = canvas.clientWidth;
    const h = canvas.clientHeight;
    canvas.width = Math.round(w * dpr);
    canvas.height = Math.round(h * dpr);
    const ctx = canvas.getContext("2d");
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, w, h);
    ctx.font = "12px system-ui, sans-serif";
    canvas.dataset.points = String(history.length);
    if (!history.length) {
      ctx.fillStyle = color("--muted");
      ctx.fillText("Waiting for telemetry\u2026", w / 2 - 70, h / 2);
      return;
    }
    const pad = { left: 56, right: 12, top: 10, bottom: 24 }; // room for "12.5 kW"
    const t0 = history[0].ts;
    const t1 = Math.max(history[history.length - 1].ts, t0 + 30);
    const top = Math.max(1, ...history.map((p) => Math.max(p.usedKw, p.baselineKw, p.shedKw)));
    const step = niceStep(top * 1.1, 4);
    const yMax = Math.ceil((top * 1.1) / step) * step;
    const x = (ts) => pad.left + ((ts - t0) / (t1 - t0)) * (w - pad.left - pad.right);
    const y = (v) => h - pad.bottom - (Math.max(0, v) / yMax) * (h - pad.top - pad.bottom);

    ctx.strokeStyle = color("--grid");
    ctx.fillStyle = color("--muted");
    ctx.lineWidth = 1;
    ctx.textAlign = "right";
    ctx.textBaseline = "middle";
    for (let v = 0; v <= yMax + 1e-9; v += step) {
      ctx.beginPath();
      ctx.moveTo(pad.left, Math.round(y(v)) + 0.5);
      ctx.lineTo(w - pad.right, Math.round(y(v)) + 0.5);
      ctx.stroke();
      ctx.fillText(`${+v.toFixed(2)} kW`, pad.left - 6, y(v));
    }
    ctx.textAlign = "center";
    ctx.textBaseline = "top"; // the time labels: this browser's local time (see #chart-axis)
    const labels = Math.max(2, Math.min(6, Math.floor(w / 120)));
    for (let i = 0; i < labels; i++) {
      const ts = t0 + ((t1 - t0) * i) / (labels - 1);
      ctx.fillText(clock(ts), Math.min(Math.max(x(ts), pad.left + 24), w - pad.right - 24),
        h - pad.bottom + 6);
    }

    // Each point is the power of the interval ending at its ts, held since the one before:
    // steps, not slopes, which would invent values between physics steps.
    const line = (key, stroke, dash = []) => {
      ctx.beginPath();
      history.forEach((p, i) => {
        if (i) {
          ctx.lineTo(x(p.ts), y(history[i - 1][key]));
          ctx.lineTo(x(p.ts), y(p[key]));
        } else ctx.moveTo(x(p.ts), y(p[key]));
      });
      ctx.setLineDash(dash);
      ctx.strokeStyle = stroke;
      ctx.lineWidth = 2;
      ctx.stroke();
      ctx.setLineDash([]);
    };
    ctx.beginPath(); // shed as a filled area
    ctx.moveTo(x(t0), y(0));
    history.forEach((p, i) => {
      if (i) ctx.lineTo(x(p.ts), y(history[i - 1].shedKw));
      ctx.lineTo(x(p.ts), y(p.shedKw));
    });
    ctx.lineTo(x(history[history.length - 1].ts), y(0));
    ctx.closePath();
    ctx.fillStyle = color("--shed-fill");
    ctx.fill();
    line("shedKw", color("--shed"));
    line("baselineKw", color("--baseline"), [6, 4]);
    line("usedKw", color("--used"));
  }

  // -- start --------------------------------------------------------------------------
  document.addEventListener("DOMContentLoaded", () => {
    $("event-form").addEventListener("submit", triggerEvent);
    $("panel-amps").addEventListener("change", changePanel);
    window.addEventListener("resize", () => state && drawChart($("chart"), state.history || []));
    setInterval(renderCountdown, 500);
    poll();
  });
})();
