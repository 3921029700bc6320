/* Smart dowel live dashboard.  Plain JavaScript, no build step, no libraries.
 *
 * One EventSource on /api/stream carries the status snapshot (~15/s) and every
 * discrete event (contact_lost, rep_completed, ...).  Discrete events update the
 * page at once; a status snapshot older than the last contact event is ignored
 * so a point never flickers back to green after it was reported lost.
 */
"use strict";
(function () {
  // Pairing: the link `dowel token` prints opens /#token=...; keep the token on
  // this phone (history.js reads the same key) and take it out of the address bar.
  const TOKEN_KEY = "dowel-token";
  const paired = /^#token=([^&]+)/.exec(location.hash);
  if (paired) {
    try { localStorage.setItem(TOKEN_KEY, decodeURIComponent(paired[1])); } catch (e) { /* storage off */ }
    history.replaceState(null, "", location.pathname + location.search);
  }
  function tokenHeader() {
    let token = null;
    try { token = localStorage.getItem(TOKEN_KEY); } catch (e) { /* storage off */ }
    return token ? { "X-Dowel-Token": token } : {};
  }

  const POINTS = ["head", "upper_back", "sacrum"];
  const POINT_NAMES = { head: "Head", upper_back: "Upper back", sacrum: "Sacrum" };
  // Coaching per point, from the hip hinge article.
  const COACHING = {
    head: "tuck the chin, keep the back of your head on the dowel",
    upper_back: "shoulders back, squeeze the shoulder blades, keep the dowel on",
    sacrum: "push hips back, keep the dowel on",
  };
  const EXERCISES = {
    kneeling_3point: {
      title: "Kneeling 3-point touch hinge", tracked: true,
      text: "On your knees, dowel behind your back touching the back of your head, your upper back and your sacrum (right above the glutes). Push your hips back towards your heels, keep all three points on the whole time, then come back up. If the spine bends, the dowel comes off a point.",
    },
    kneeling_kettlebell: {
      title: "Kneeling kettlebell hinge", tracked: false,
      text: "On your knees, kettlebell or dumbbell behind your back. Shoulders back (squeeze the shoulder blades, don't overdo it) and use your butt to push the kettlebell back towards your heels.",
    },
    standing_3point: {
      title: "Standing 3-point touch hinge", tracked: true,
      text: "Same three points: back of the head, upper back, sacrum. Push your butt back and hinge at the hip; the shins stay nearly vertical. A stretch in the hamstrings means you are doing it right.",
    },
    standing_kettlebell: {
      title: "Standing kettlebell hinge", tracked: false,
      text: "Push the kettlebell back with your butt, as in the kneeling version. The shins stay nearly vertical; feel the stretch in the hamstrings.",
    },
  };
  const SVG_NS = "http" + "://www.w3.org/2000/svg";
  const HIP = [120, 120];
  const FORCE_FULL_N = 8;        // a bar is full at this force
  const STALE_AFTER_MS = 2500;   // no status for this long: say so
  const SILENT_RECONNECT_MS = 30000;  // no message at all: the connection is dead

  const $ = (sel, root) => (root || document).querySelector(sel);
  const el = (tag, attrs, ...children) => {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "class") node.className = v;
      else if (k === "text") node.textContent = v;
      else node.setAttribute(k, v);
    }
    for (const c of children) node.append(c);
    return node;
  };
  const fmt = (x, digits) => (x === null || x === undefined || Number.isNaN(x)) ? "–" : Number(x).toFixed(digits);
  const pointList = (points) => {
    const names = points.map((p, i) => i === 0 ? POINT_NAMES[p] : POINT_NAMES[p].toLowerCase());
    return names.length > 1 ? names.slice(0, -1).join(", ") + " and " + names[names.length - 1] : names[0];
  };

  const state = {
    status: null,
    lastContactEventT: -Infinity,
    lost: new Set(),
    settings: null,
    options: null,
    updates: [],          // arrival times of status messages, for the rate shown
    lastMessageAt: 0,
    lastStatusAt: 0,
    source: null,
  };
  // For tests and the curious: the page's own measurements.
  window.dowel = { state, lossSeenAt: {} };

  // -- tabs ------------------------------------------------------------------
  function showView(name) {
    const views = document.querySelectorAll("main > .view");
    let found = false;
    views.forEach((v) => { if (v.dataset.view === name) found = true; });
    if (!found) name = "live";
    views.forEach((v) => { v.hidden = v.dataset.view !== name; });
    document.querySelectorAll(".tabs a").forEach((a) => {
      a.setAttribute("aria-selected", a.dataset.view === name ? "true" : "false");
    });
    document.dispatchEvent(new CustomEvent("dowel:view", { detail: { view: name } }));
  }
  window.addEventListener("hashchange", () => showView(location.hash.slice(1)));

  // -- live view -------------------------------------------------------------------
  const figure = {
    torso: $("#torso"), arc: $("#angle-arc"), body: $("#fig-body"),
    standing: $("#legs-standing"), kneeling: $("#legs-kneeling"),
  };

  function drawPitch(pitch) {
    const deg = Math.max(-20, Math.min(100, pitch || 0));
    figure.torso.setAttribute("transform", `rotate(${deg.toFixed(1)} ${HIP[0]} ${HIP[1]})`);
    const r = 58, a = deg * Math.PI / 180;
    const x = HIP[0] + r * Math.sin(a), y = HIP[1] - r * Math.cos(a);
    figure.arc.setAttribute("d", Math.abs(deg) < 1 ? "" :
      `M ${HIP[0]} ${HIP[1] - r} A ${r} ${r} 0 0 ${deg > 0 ? 1 : 0} ${x.toFixed(1)} ${y.toFixed(1)}`);
    $("#angle-value").textContent = Math.round(pitch || 0);
  }

  function drawLegs(exercise) {
    const kneeling = (exercise || "").startsWith("kneeling");
    // SVG elements have no `hidden` property: use the display attribute.
    figure.standing.setAttribute("display", kneeling ? "none" : "inline");
    figure.kneeling.setAttribute("display", kneeling ? "inline" : "none");
    // Kneeling: the hips sit lower; the torso hinges about the same drawn hip.
    figure.body.setAttribute("transform", kneeling ? "translate(0 32)" : "");
  }

  function pointState(p, info) {
    if (state.lost.has(p)) return "lost";
    if (info && info.contact) return "on";
    return "off";
  }

  function drawPoints() {
    const s = state.status;
    for (const p of POINTS) {
      const info = s && s.points ? s.points[p] : null;
      const st = pointState(p, info);
      const dot = document.getElementById("pt-" + p);
      if (dot.dataset.state !== st) {
        dot.dataset.state = st;
        if (st === "lost") window.dowel.lossSeenAt[p] = Date.now();
      }
      const row = $(`.bar-row[data-point="${p}"]`);
      row.dataset.state = st;
      const force = info ? info.force_n : null;
      const frac = force ? Math.min(1, force / FORCE_FULL_N) : 0;
      $(".fill", row).style.width = (frac * 100).toFixed(1) + "%";
      $(".bar-value", row).textContent = force === null || force === undefined ? "–" : fmt(force, 1) + " N";
    }
    const banner = $("#loss-banner");
    const lost = POINTS.filter((p) => state.lost.has(p));
    if (lost.length) {
      banner.replaceChildren(...lost.map((p) =>
        el("p", { text: `${POINT_NAMES[p]} lost — ${COACHING[p]}` })));
      banner.hidden = false;
    } else {
      banner.hidden = true;
    }
  }

  const PHASES = { idle: "Put the dowel on the back to start a set", upright: "Upright: hinge when ready",
    down: "Hinging down", up: "Coming up" };

  function renderStatus() {
    const s = state.status;
    if (!s) return;
    drawLegs(s.exercise);
    drawPitch(s.in_set ? s.pitch_deg : s.pitch_deg);
    drawPoints();
    $("#set-number").textContent = s.set_index ? s.set_index : "–";
    $("#rep-count").textContent = s.in_set ? (s.rep_count || 0) : (s.rep_count || 0);
    $("#phase").textContent = PHASES[s.phase] || "";
    const ex = EXERCISES[s.exercise];
    $("#exercise-name").textContent = ex ? ex.title : (s.exercise || "–");
    markActiveExercise(s.exercise);
    renderHealth(s.health || {});
  }

  function renderFault(message) {
    const b = $("#fault-banner");
    if (message) {
      b.textContent = "Sensor fault: " + message + ". Check the dowel's cable; it will reconnect by itself.";
      b.hidden = false;
    } else {
      b.hidden = true;
    }
  }

  function renderHealth(h) {
    const set = (key, text, cls) => {
      const dd = $(`#health dd[data-key="${key}"]`);
      dd.textContent = text;
      dd.className = cls || "";
    };
    set("fault", h.fault ? "not answering: " + h.fault : "answering", h.fault ? "bad" : "good");
    set("frame_rate_hz", fmt(h.frame_rate_hz, 0) + " frames/s");
    set("jitter_ms_p95", fmt(h.jitter_ms_p95, 1) + " ms");
    set("read_errors", h.read_errors === undefined ? "–" : String(h.read_errors), h.read_errors ? "bad" : "");
    set("uptime_s", formatDuration(h.uptime_s));
    set("history", h.history === "ok" ? "saving" : (h.history || "–"), h.history === "ok" ? "good" : "bad");
    set("source", h.source || "–");
    // the core counts every listener; the terminal and the history writer are two of them
    set("subscribers", h.subscribers === undefined ? "–" : String(h.subscribers));
    // the MQTT link (null when no broker is configured): state, broker, what it dropped
    const m = h.mqtt;
    set("mqtt", !m ? "off" : m.state + " · " + m.broker + (m.dropped ? " · " + m.dropped + " dropped" : "") +
        (m.state !== "connected" && m.last_error ? " · " + m.last_error : ""),
        !m ? "" : m.state === "connected" ? "good" : "bad");
    renderFault(h.fault);
  }

  function formatDuration(s) {
    if (s === undefined || s === null) return "–";
    s = Math.floor(s);
    const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
    return (h ? h + " h " : "") + (h || m ? m + " min " : "") + sec + " s";
  }

  // -- the live connection ---------------------------------------------------------------
  function setConnection(st, text) {
    const c = $("#connection");
    c.dataset.state = st;
    c.textContent = text;
  }

  function connect() {
    if (state.source) state.source.close();
    const es = new EventSource("/api/stream");
    state.source = es;
    es.onopen = () => { setConnection("live", "Live"); };
    es.onerror = () => {
      if (es.readyState === EventSource.CLOSED) {
        // The server refused the stream (e.g. too many phones): try again later.
        setConnection("offline", "Offline");
        setTimeout(() => { if (state.source === es) connect(); }, 3000);
      } else {
        setConnection("connecting", "Reconnecting…");
      }
    };
    const on = (type, fn) => es.addEventListener(type, (msg) => {
      state.lastMessageAt = Date.now();
      let data;
      try { data = JSON.parse(msg.data); } catch (e) { return; }
      fn(data);
    });
    on("status", onStatus);
    on("contact_lost", (e) => {
      state.lastContactEventT = Math.max(state.lastContactEventT, e.t);
      state.lost.add(e.point);
      drawPoints();
    });
    on("contact_restored", (e) => {
      state.lastContactEventT = Math.max(state.lastContactEventT, e.t);
      state.lost.delete(e.point);
      drawPoints();
    });
    on("set_started", (e) => { session.setStarted(e); $("#set-number").textContent = e.set_index; $("#rep-count").textContent = 0; });
    on("rep_completed", (e) => { session.repCompleted(e); $("#rep-count").textContent = e.rep_index; historyChanged(e); });
    on("set_completed", (e) => { session.setCompleted(e); historyChanged(e); });
    on("fault", (e) => renderFault(e.active ? e.message : null));
    on("settings", (e) => { state.settings = e.settings; fillSettings(e.settings, false); markActiveExercise(e.settings.exercise); });
    on("calibrated", (e) => { showCalibrated(e.calibration); });
  }

  // The history view listens for this instead of polling: a pushed rep or set
  // (or a set logged by hand) is the moment the stored history changes.
  function historyChanged(detail) {
    document.dispatchEvent(new CustomEvent("dowel:history-changed", { detail }));
  }

  function onStatus(s) {
    const now = Date.now();
    state.lastStatusAt = now;
    state.updates.push(now);
    while (state.updates.length && now - state.updates[0] > 2000) state.updates.shift();
    if (s.t < state.lastContactEventT) return;   // older than what a contact event told us
    applyStatus(s);
    const dd = $('#health dd[data-key="updates"]');
    const u = state.updates;
    const span_s = u.length > 1 ? (u[u.length - 1] - u[0]) / 1000 : 0;
    dd.textContent = span_s > 0.5 ? ((u.length - 1) / span_s).toFixed(0) + " /s" : "–";
  }

  function applyStatus(s) {
    state.status = s;
    state.lost = new Set(POINTS.filter((p) => s.points && s.points[p] && s.points[p].lost));
    renderStatus();
  }

  setInterval(() => {
    const now = Date.now();
    const c = $("#connection");
    if (c.dataset.state === "live" && state.lastStatusAt && now - state.lastStatusAt > STALE_AFTER_MS) {
      setConnection("stale", "No data");
    } else if (c.dataset.state === "stale" && now - state.lastStatusAt <= STALE_AFTER_MS) {
      setConnection("live", "Live");
    }
    // A phone that walked out of Wi-Fi keeps a dead socket open; start over.
    if (state.lastMessageAt && now - state.lastMessageAt > SILENT_RECONNECT_MS) {
      state.lastMessageAt = now;
      connect();
    }
  }, 500);

  // -- session view ----------------------------------------------------------------------
  const session = (function () {
    const list = $("#session-sets");
    const sets = [];       // {key, setIndex, exercise, reps: [], open, manual, weight_kg, node}

    function find(setIndex) { return sets.find((s) => s.setIndex === setIndex && !s.fromStore); }

    function ensure(e) {
      let s = find(e.set_index);
      if (!s) {
        // A set that was already running when the page loaded came from the store: continue it.
        const open = sets.filter((x) => x.fromStore && x.open && !x.claimed);
        if (open.length) {
          s = open[open.length - 1];
          s.claimed = true;
          s.fromStore = false;
          s.setIndex = e.set_index;
        } else {
          s = { setIndex: e.set_index, exercise: e.exercise || (state.status && state.status.exercise), reps: [], open: true };
          sets.push(s);
        }
      }
      return s;
    }

    function setStarted(e) { const s = ensure(e); s.open = true; if (e.exercise) s.exercise = e.exercise; render(); }
    function repCompleted(e) {
      const s = ensure(e);
      const rep = typeof e.rep === "object" ? e.rep : e;   // the rep's fields are in the event
      s.reps = s.reps.filter((r) => Math.abs(r.start - rep.start) > 1e-3);
      s.reps.push(Object.assign({ index: e.rep_index }, rep));
      render();
    }
    function setCompleted(e) {
      const s = ensure(e);
      s.open = false;
      if (e.exercise) s.exercise = e.exercise;
      if (e.set && Array.isArray(e.set.reps)) s.reps = e.set.reps.map((r, i) => Object.assign({ index: i + 1 }, r));
      render();
    }
    function addManual(m) {
      sets.push({ manual: true, exercise: m.exercise, manualReps: m.reps, weight_kg: m.weight_kg, open: false });
      render();
    }

    function load(data) {
      const stored = Array.isArray(data && data.sets) ? data.sets : [];
      for (const st of stored) {
        if (!st.manual && Array.isArray(st.reps)) {
          sets.push({ fromStore: true, exercise: st.exercise, open: st.end === null || st.end === undefined,
            reps: st.reps.map((r, i) => Object.assign({ index: r.rep_index || r.index || i + 1 }, r)) });
        } else {
          sets.push({ manual: true, exercise: st.exercise, open: false, weight_kg: st.weight_kg,
            manualReps: st.manual_reps !== undefined ? st.manual_reps : st.rep_count });
        }
      }
      render();
    }

    function lossText(losses) {
      if (!losses || !losses.length) return "—";
      return losses.map((l) => `${POINT_NAMES[l.point] || l.point} ${fmt(l.duration_s, 2)} s`).join(", ");
    }

    function render() {
      const nodes = [];
      let reps = 0, clean = 0, n = 0;
      sets.forEach((s) => {
        n += 1;
        const ex = EXERCISES[s.exercise];
        const title = ex ? ex.title : (s.exercise || "Exercise");
        const li = el("li", { class: "set" });
        const count = s.manual ? s.manualReps : s.reps.length;
        const cleanCount = s.manual ? null : s.reps.filter((r) => r.clean).length;
        reps += Number(count) || 0;
        clean += cleanCount || 0;
        const meta = s.manual
          ? `${count} reps${s.weight_kg ? " · " + s.weight_kg + " kg" : ""} · logged by hand`
          : `${count} reps · ${cleanCount} clean${s.open ? " · in progress" : ""}`;
        li.append(el("div", { class: "set-head" },
          el("strong", { text: `Set ${n} · ${title}` }), el("span", { class: "set-meta", text: meta })));
        if (!s.manual && s.reps.length) {
          const table = el("table", { class: "reps" });
          table.append(el("tr", {}, el("th", { text: "#" }), el("th", { text: "Depth" }),
            el("th", { text: "Down / up" }), el("th", { text: "Losses" }), el("th", { text: "" })));
          s.reps.forEach((r, i) => {
            table.append(el("tr", { class: r.clean ? "clean" : "dirty" },
              el("td", { text: String(r.index || i + 1) }),
              el("td", { text: fmt(r.depth_deg, 0) + "°" }),
              el("td", { text: `${fmt(r.down_s, 1)} / ${fmt(r.up_s, 1)} s` }),
              el("td", { text: lossText(r.losses) }),
              el("td", { class: r.clean ? "mark-clean" : "mark-dirty", text: r.clean ? "✓ clean" : "✗" })));
          });
          li.append(table);
        }
        nodes.push(li);
      });
      list.replaceChildren(...nodes.reverse());   // newest first
      $("#session-summary").textContent = sets.length
        ? `${sets.length} set${sets.length === 1 ? "" : "s"} · ${reps} reps · ${clean} clean`
        : "No sets yet today.";
    }

    return { setStarted, repCompleted, setCompleted, addManual, load };
  })();

  function loadCurrentSession() {
    fetch("/api/sessions/current", { headers: { Accept: "application/json" } })
      .then((r) => (r.ok ? r.json() : null))
      .then((data) => { if (data) session.load(data); })
      .catch(() => { /* no history store: the session view fills from live events */ });
  }

  // -- program view ------------------------------------------------------------------------
  function buildProgram() {
    const box = $("#program-list");
    for (const [name, ex] of Object.entries(EXERCISES)) {
      const card = el("div", { class: "card", "data-exercise": name, id: "ex-" + name });
      card.append(el("h3", {}, ex.title, el("span", { class: "tag" + (ex.tracked ? " ok" : ""),
        text: ex.tracked ? "dowel tracks it" : "log by hand" })));
      card.append(el("p", { text: ex.text }));
      card.append(el("p", { class: "muted", text: "2 sets × 10 reps" }));
      const pick = el("button", { type: "button", class: "pick" }, "Do this exercise");
      pick.addEventListener("click", () => chooseExercise(name, card));
      card.append(pick);
      if (!ex.tracked) card.append(manualForm(name));
      card.append(el("p", { class: "note pick-result", role: "status" }));
      box.append(card);
    }
  }

  function markActiveExercise(name) {
    document.querySelectorAll("#program-list .card").forEach((c) => {
      const active = c.dataset.exercise === name;
      c.classList.toggle("active", active);
      const b = $(".pick", c);
      b.textContent = active ? "Current exercise" : "Do this exercise";
      b.disabled = active;
    });
  }

  function chooseExercise(name, card) {
    const note = $(".pick-result", card);
    api("PUT", "/api/settings", { exercise: name }).then(({ ok, body }) => {
      if (ok) {
        state.settings = body;
        markActiveExercise(name);
        note.className = "note ok pick-result";
        note.textContent = EXERCISES[name].tracked ? "Next sets are tagged with this exercise."
          : "Selected. Log each set below when you finish it.";
      } else {
        note.className = "note bad pick-result";
        note.textContent = body.error || "Could not change the exercise";
      }
    });
  }

  function manualForm(exercise) {
    const form = el("form", { class: "manual", novalidate: "" });
    const repsId = `m-reps-${exercise}`, kgId = `m-kg-${exercise}`;
    form.append(el("div", { class: "row" },
      el("div", { class: "field" }, el("label", { for: repsId, text: "Reps" }),
        el("input", { id: repsId, name: "reps", type: "text", inputmode: "numeric", value: "10" }),
        el("p", { class: "field-error", "data-field": "reps" })),
      el("div", { class: "field" }, el("label", { for: kgId, text: "Weight (kg)" }),
        el("input", { id: kgId, name: "weight_kg", type: "text", inputmode: "decimal", placeholder: "optional" }),
        el("p", { class: "field-error", "data-field": "weight_kg" }))));
    form.append(el("p", { class: "field-error", "data-field": "form" }));
    form.append(el("button", { type: "submit" }, "Log set"));
    const note = el("p", { class: "note", role: "status" });
    form.append(note);
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      form.querySelectorAll(".field-error").forEach((e) => { e.textContent = ""; });
      const reps = form.elements.reps.value.trim();
      const kg = form.elements.weight_kg.value.trim();
      const body = { exercise, reps: /^\d+$/.test(reps) ? Number(reps) : reps };
      if (kg) body.weight_kg = Number.isFinite(Number(kg)) ? Number(kg) : kg;
      api("POST", "/api/manual-sets", body).then(({ ok, status, body: res }) => {
        if (ok) {
          note.className = "note ok";
          note.textContent = `Logged ${body.reps} reps.`;
          session.addManual(body);
          historyChanged(body);
        } else {
          const target = form.querySelector(`.field-error[data-field="${res.field}"]`) ||
            form.querySelector('.field-error[data-field="form"]');
          target.textContent = status === 404 ? "History is off on this device: nothing was logged."
            : (res.error || "Not logged");
          note.textContent = "";
        }
      });
    });
    return form;
  }

  // -- device view: calibrate, settings ---------------------------------------------------
  function api(method, url, body) {
    const init = { method, headers: { Accept: "application/json" } };
    // every change needs the device token; watching does not
    if (method !== "GET") Object.assign(init.headers, tokenHeader());
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    return fetch(url, init)
      .then((r) => r.json().catch(() => ({ error: `HTTP ${r.status}` }))
        .then((b) => ({ ok: r.ok, status: r.status, body: b })))
      .catch(() => ({ ok: false, status: 0, body: { error: "The device did not answer. Check the Wi-Fi." } }));
  }

  function setupCalibrate() {
    const btn = $("#calibrate-button"), out = $("#calibrate-result");
    btn.addEventListener("click", () => {
      btn.disabled = true;
      out.className = "note";
      let left = 3;
      out.textContent = `Hold still… ${left}`;
      const timer = setInterval(() => {
        left -= 1;
        out.textContent = left > 0 ? `Hold still… ${left}` : "Hold still… working it out";
      }, 1000);
      api("POST", "/api/calibrate").then(({ ok, body }) => {
        clearInterval(timer);
        btn.disabled = false;
        if (ok) {
          showCalibrated(body.calibration);
        } else {
          out.className = "note bad";
          out.textContent = body.error || "Calibration failed";
        }
      });
    });
  }

  // Used for this page's own request and for a calibration started elsewhere
  // (another phone, the button on the dowel): both say the same thing.
  function showCalibrated(cal) {
    const out = $("#calibrate-result");
    out.className = "note ok";
    out.textContent = "Calibrated: " + POINTS.map((p) => `${POINT_NAMES[p]} ${fmt(cal.points[p].rest_v, 2)} V`).join(", ") + ".";
  }

  const FIELDS = ["sensitivity", "debounce_ms", "min_depth_deg", "buzzer", "data_rate"];

  function fillDataRates(settings) {
    const select = $("#f-data_rate");
    const rates = state.options ? state.options.data_rates[settings.chip] || [] : [settings.data_rate];
    const current = Array.from(select.options).map((o) => o.value).join(",");
    if (current !== rates.join(",")) {
      select.replaceChildren(...rates.map((r) => el("option", { value: String(r), text: String(r) })));
    }
  }

  function fillSettings(s, force) {
    const form = $("#settings-form");
    if (!force && form.dataset.dirty === "true") return;   // don't overwrite what is being typed
    fillDataRates(s);
    form.elements.sensitivity.value = s.sensitivity;
    $("#out-sensitivity").textContent = Number(s.sensitivity).toFixed(2);
    form.elements.debounce_ms.value = s.debounce_ms;
    form.elements.min_depth_deg.value = s.min_depth_deg;
    form.elements.buzzer.checked = !!s.buzzer;
    form.elements.data_rate.value = String(s.data_rate);
  }

  function clearErrors() {
    document.querySelectorAll("#settings-form .field-error").forEach((e) => { e.textContent = ""; });
    document.querySelectorAll("#settings-form .field.invalid").forEach((e) => e.classList.remove("invalid"));
  }

  function setupSettings() {
    const form = $("#settings-form"), out = $("#settings-result");
    form.addEventListener("input", (ev) => {
      form.dataset.dirty = "true";
      if (ev.target.name === "sensitivity") $("#out-sensitivity").textContent = Number(ev.target.value).toFixed(2);
    });
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      clearErrors();
      out.textContent = "";
      const changes = {
        sensitivity: form.elements.sensitivity.value,
        debounce_ms: form.elements.debounce_ms.value.trim(),
        min_depth_deg: form.elements.min_depth_deg.value.trim(),
        buzzer: form.elements.buzzer.checked,
        data_rate: form.elements.data_rate.value,
      };
      api("PUT", "/api/settings", changes).then(({ ok, body }) => {
        if (ok) {
          form.dataset.dirty = "false";
          state.settings = body;
          fillSettings(body, true);
          out.className = "note ok";
          out.textContent = "Saved.";
        } else {
          const field = FIELDS.includes(body.field) ? body.field : "settings";
          const err = document.getElementById("err-" + field);
          err.textContent = body.error || "Not saved";
          const box = err.closest(".field");
          if (box) box.classList.add("invalid");
          out.className = "note bad";
          out.textContent = "Not saved: nothing was changed.";
        }
      });
    });
  }

  function loadSettings() {
    Promise.all([api("GET", "/api/options"), api("GET", "/api/settings")]).then(([o, s]) => {
      if (o.ok) state.options = o.body;
      if (s.ok) { state.settings = s.body; fillSettings(s.body, true); markActiveExercise(s.body.exercise); }
    });
  }

  // -- start --------------------------------------------------------------------------------
  buildProgram();
  setupCalibrate();
  setupSettings();
  showView(location.hash.slice(1) || "live");
  fetch("/api/status").then((r) => r.json()).then((s) => { if (!state.status) applyStatus(s); }).catch(() => {});
  loadSettings();
  loadCurrentSession();
  connect();
})();
