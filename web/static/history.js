/* History view: sessions, trends drawn as SVG, progression, export, delete.
 * Fills <section id="history-view"> from /api/history, /api/sessions, /api/athletes.
 * No library: charts are inline SVG built here.  Every user-supplied string goes
 * through textContent, never innerHTML. */
(function () {
  "use strict";
  const root = document.getElementById("history-view");
  if (!root) return;

  const SVGNS = "http://www.w3.org/2000/svg";
  const TOKEN_KEY = "dowel-token";
  const PAGE = 10;
  const CHART_SESSIONS = 14;
  const POINTS = ["head", "upper_back", "sacrum"];
  const POINT_NAMES = { head: "Head", upper_back: "Upper back", sacrum: "Sacrum" };
  const EXERCISE_NAMES = {
    kneeling_3point: "Kneeling 3-point touch", kneeling_kettlebell: "Kneeling kettlebell",
    standing_3point: "Standing 3-point touch", standing_kettlebell: "Standing kettlebell",
  };
  const STAGES = { all_four: "Kneeling + standing", standing: "Standing only", deadlift: "Deadlift" };

  const state = { athlete: null, sessions: [], total: 0, loaded: false, loading: false,
    open: new Set(), latest: "" };
  // The writer commits a rep within milliseconds of the pushed event; look a
  // moment later, and once more in case the disk was slow.
  const CHECK_AFTER_MS = [300, 1500];

  // -- small DOM helpers ---------------------------------------------------------
  function h(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === "text") node.textContent = v;
      else if (k === "class") node.className = v;
      else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
      else node.setAttribute(k, v === true ? "" : v);
    }
    for (const c of children) if (c !== null && c !== undefined) node.append(c);
    return node;
  }
  function s(tag, attrs, ...children) {
    const node = document.createElementNS(SVGNS, tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "text") node.textContent = v; else node.setAttribute(k, v);
    }
    for (const c of children) if (c) node.append(c);
    return node;
  }
  function fmt(x, digits) { return x === null || x === undefined ? "–" : Number(x).toFixed(digits); }
  function dayLabel(day) {
    // "2026-11-20" -> "Fri 20 Nov"; parsed as a local date, not UTC midnight
    const [y, m, d] = day.split("-").map(Number);
    return new Date(y, m - 1, d).toLocaleDateString(undefined, { weekday: "short", day: "numeric", month: "short" });
  }
  function shortDay(day) { const p = day.split("-"); return `${Number(p[2])}/${Number(p[1])}`; }
  function clock(wall) {
    return wall ? new Date(wall * 1000).toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit" }) : "";
  }
  function tokenHeader() {
    const token = localStorage.getItem(TOKEN_KEY);
    return token ? { "X-Dowel-Token": token } : {};
  }
  function getJSON(url) {
    return fetch(url, { headers: { Accept: "application/json" } }).then((r) =>
      r.json().catch(() => ({})).then((body) => ({ ok: r.ok, status: r.status, body })));
  }

  // -- skeleton ------------------------------------------------------------------------
  const els = {};
  function build() {
    els.saving = h("div", { class: "banner warn", role: "alert", hidden: true });
    els.athletes = h("select", { id: "hv-athlete", "aria-label": "Athlete", onchange: onAthleteChange });
    els.progress = h("div", { class: "card hv-progress", id: "hv-progress" });
    els.totals = h("p", { class: "muted hv-totals", id: "hv-totals" });
    els.cleanChart = h("div", { class: "hv-chart", id: "hv-clean-chart" });
    els.depthChart = h("div", { class: "hv-chart", id: "hv-depth-chart" });
    els.lossChart = h("div", { class: "hv-chart", id: "hv-loss-chart" });
    els.list = h("ol", { class: "hv-sessions", id: "hv-sessions" });
    els.more = h("button", { type: "button", class: "hv-more", hidden: true, onclick: loadMore }, "Older sessions");
    els.empty = h("p", { class: "muted", hidden: true, text: "No sessions yet. Put the dowel on and do a set: it is saved here rep by rep." });
    els.error = h("p", { class: "note bad", role: "status" });

    root.replaceChildren(
      h("div", { class: "hv-head" }, h("h2", { text: "History" }),
        h("div", { class: "hv-athlete" }, h("label", { for: "hv-athlete", class: "muted", text: "Athlete" }), els.athletes,
          h("button", { type: "button", class: "hv-small", onclick: addAthlete, "aria-label": "Add an athlete" }, "+ Add"))),
      els.saving, els.error,
      els.progress,
      els.totals,
      h("div", { class: "card" }, h("h3", { text: "Clean reps per session" }), els.cleanChart),
      h("div", { class: "card" }, h("h3", { text: "Depth per session" }), els.depthChart),
      h("div", { class: "card" }, h("h3", { text: "Where contact is lost" }), els.lossChart),
      h("h3", { class: "hv-list-title", text: "Sessions" }),
      els.empty, els.list, els.more,
      h("div", { class: "hv-export" },
        h("a", { class: "button", href: "/api/export?format=csv", download: true, id: "hv-export-csv", onclick: download }, "Download CSV"),
        h("a", { class: "button", href: "/api/export?format=json", download: true, id: "hv-export-json", onclick: download }, "Download JSON")),
      buildDialog());
  }

  // The export is personal data: it needs the device token, which a plain link cannot send.
  function download(event) {
    event.preventDefault();
    const link = event.currentTarget;
    fetch(link.getAttribute("href"), { headers: tokenHeader() }).then((r) => {
      if (!r.ok) {
        return r.json().catch(() => ({})).then((b) => {
          els.error.textContent = r.status === 401
            ? "Pair this phone first: open the link that `dowel token` prints." : (b.error || "Could not export.");
        });
      }
      const name = /filename="([^"]+)"/.exec(r.headers.get("Content-Disposition") || "");
      return r.blob().then((blob) => {
        const a = h("a", { href: URL.createObjectURL(blob), download: name ? name[1] : "dowel-history" });
        document.body.append(a);
        a.click();
        a.remove();
        setTimeout(() => URL.revokeObjectURL(a.href), 10000);
      });
    }).catch(() => { els.error.textContent = "The device did not answer."; });
  }

  // -- loading ----------------------------------------------------------------------------
  function athleteQuery() { return state.athlete ? `athlete=${state.athlete}` : ""; }

  function refresh() {
    if (state.loading) return;
    state.loading = true;
    els.error.textContent = "";
    Promise.all([getJSON("/api/athletes"), getJSON(`/api/history?${athleteQuery()}`),
      getJSON(`/api/sessions?limit=${PAGE}&offset=0&${athleteQuery()}`)])
      .then(([athletes, summary, sessions]) => {
        if (athletes.status === 404 || summary.status === 404 && !summary.body.field) {
          root.replaceChildren(h("h2", { text: "History" }),
            h("p", { class: "muted", text: "History is off on this device (started with --no-history)." }));
          return;
        }
        if (athletes.ok) renderAthletes(athletes.body);
        if (summary.ok) renderSummary(summary.body);
        else els.error.textContent = summary.body.error || "Could not load the history.";
        if (sessions.ok) {
          state.sessions = sessions.body.sessions;
          state.total = sessions.body.total;
          state.latest = fingerprint(state.sessions[0]);
          renderList();
        }
        state.loaded = true;
        root.dataset.loaded = "true";
      })
      .catch(() => { els.error.textContent = "The device did not answer. Pull to refresh or try again."; })
      .finally(() => { state.loading = false; });
  }

  function loadMore() {
    els.more.disabled = true;
    getJSON(`/api/sessions?limit=${PAGE}&offset=${state.sessions.length}&${athleteQuery()}`).then(({ ok, body }) => {
      if (ok) {
        state.sessions = state.sessions.concat(body.sessions);
        state.total = body.total;
        renderList();
      }
      els.more.disabled = false;
    });
  }

  // -- athletes ----------------------------------------------------------------------------
  function renderAthletes(body) {
    els.athletes.replaceChildren(...body.athletes.map((a) =>
      h("option", { value: String(a.id), text: a.name, selected: a.id === (state.athlete || body.current) })));
    if (!state.athlete) state.athlete = body.current;
  }
  function onAthleteChange() {
    state.athlete = Number(els.athletes.value);
    // new sets are recorded for the athlete picked here
    fetch("/api/athletes/current", { method: "PUT", headers: { "Content-Type": "application/json", ...tokenHeader() },
      body: JSON.stringify({ id: state.athlete }) }).finally(refresh);
  }
  function addAthlete() {
    const name = window.prompt("Name of the new athlete");
    if (!name) return;
    fetch("/api/athletes", { method: "POST", headers: { "Content-Type": "application/json", ...tokenHeader() },
      body: JSON.stringify({ name, current: true }) })
      .then((r) => r.json().then((b) => ({ ok: r.ok, b })))
      .then(({ ok, b }) => {
        if (!ok) { els.error.textContent = b.error || "Could not add the athlete"; return; }
        state.athlete = b.id;
        refresh();
      });
  }

  // -- summary, progression, charts ------------------------------------------------------------
  function renderSummary(doc) {
    els.saving.hidden = !doc.saving || doc.saving === "ok";
    els.saving.textContent = doc.saving && doc.saving !== "ok" ? doc.saving : "";
    const p = doc.progression;
    const children = [
      h("div", { class: "hv-stage" }, h("span", { class: "label", text: "Next step" }),
        h("span", { class: `tag hv-stage-${p.stage}`, text: STAGES[p.stage] || p.stage })),
      h("p", { class: "hv-suggestion", text: p.suggestion }),
      h("p", { class: "muted hv-reason", text: p.reason })];
    if (p.focus) children.push(h("p", { class: "hv-focus" }, h("strong", { text: `${POINT_NAMES[p.focus.point]}: ` }), p.focus.cue + "."));
    children.push(h("p", { class: "hint", text: `Rule: ${p.rule}.` }));
    els.progress.replaceChildren(...children);

    els.totals.textContent = doc.sessions
      ? `${doc.sessions} session${doc.sessions === 1 ? "" : "s"} · ${doc.reps} reps · ${fmt(doc.clean_pct, 0)} % clean` +
        (doc.manual_reps ? ` · ${doc.manual_reps} kettlebell reps` : "")
      : "";
    const per = doc.trends.sessions.filter((x) => x.overall.reps > 0).slice(-CHART_SESSIONS);
    els.cleanChart.replaceChildren(cleanChart(per));
    els.depthChart.replaceChildren(depthChart(per));
    els.lossChart.replaceChildren(lossChart(doc.trends.losses_by_point));
  }

  const W = 320, H = 170, L = 34, R = 8, T = 12, B = 26;   // chart box and margins (SVG units)

  function frame(label, ymax, ticks, unit) {
    const svg = s("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": label, class: "hv-svg" });
    for (const v of ticks) {
      const y = T + (H - T - B) * (1 - v / ymax);
      svg.append(s("line", { x1: L, x2: W - R, y1: y, y2: y, class: "grid" }),
        s("text", { x: L - 4, y: y + 4, "text-anchor": "end", class: "axis", text: `${v}${unit}` }));
    }
    return svg;
  }
  function noData(text) { return h("p", { class: "muted hv-nodata", text }); }
  // day labels counted back from the newest, so the last one never collides
  function showLabel(i, n) { return (n - 1 - i) % Math.ceil(n / 6) === 0; }
  function xAt(i, n) { const step = (W - L - R) / n; return L + step * (i + 0.5); }

  function cleanChart(per) {
    if (!per.length) return noData("Clean-rep % appears here after your first set.");
    const svg = frame("Clean-rep percentage per session", 100, [0, 50, 90, 100], "%");
    const n = per.length, bw = Math.min(26, (W - L - R) / n * 0.7);
    const y90 = T + (H - T - B) * 0.1;
    svg.append(s("line", { x1: L, x2: W - R, y1: y90, y2: y90, class: "target" }));
    per.forEach((p, i) => {
      const pct = p.overall.clean_pct || 0, x = xAt(i, n);
      const y = T + (H - T - B) * (1 - pct / 100);
      svg.append(s("rect", { x: x - bw / 2, y, width: bw, height: H - B - y, rx: 3,
        class: pct >= 90 ? "bar good" : pct >= 70 ? "bar fair" : "bar poor" },
      s("title", { text: `${p.day}: ${fmt(pct, 0)} % clean (${p.overall.clean_reps}/${p.overall.reps})` })));
      if (p.comfortable) svg.append(s("text", { x, y: y - 3, "text-anchor": "middle", class: "star", text: "★" }));
      if (showLabel(i, n)) {
        svg.append(s("text", { x, y: H - 8, "text-anchor": "middle", class: "axis", text: shortDay(p.day) }));
      }
    });
    return h("div", {}, svg, h("p", { class: "hint", text: "Dashed line: 90 % clean. ★ comfortable session." }));
  }

  function depthChart(per) {
    if (!per.length) return noData("Hinge depth appears here after your first set.");
    const top = Math.max(60, ...per.map((p) => (p.overall.depth_mean_deg || 0) + (p.overall.depth_std_deg || 0)));
    const ymax = Math.ceil(top / 15) * 15;
    const ticks = []; for (let v = 0; v <= ymax; v += 30) ticks.push(v);
    const svg = frame("Hinge depth per session, mean and spread", ymax, ticks, "°");
    const n = per.length, yOf = (v) => T + (H - T - B) * (1 - v / ymax);
    let path = "";
    per.forEach((p, i) => {
      const m = p.overall.depth_mean_deg, sd = p.overall.depth_std_deg || 0, x = xAt(i, n);
      svg.append(s("line", { x1: x, x2: x, y1: yOf(m + sd), y2: yOf(Math.max(0, m - sd)), class: "spread" }));
      path += `${i ? "L" : "M"}${x.toFixed(1)},${yOf(m).toFixed(1)}`;
      if (showLabel(i, n)) {
        svg.append(s("text", { x, y: H - 8, "text-anchor": "middle", class: "axis", text: shortDay(p.day) }));
      }
    });
    svg.append(s("path", { d: path, class: "line" }));
    per.forEach((p, i) => svg.append(s("circle", { cx: xAt(i, n), cy: yOf(p.overall.depth_mean_deg), r: 4.5, class: "dot" },
      s("title", { text: `${p.day}: ${fmt(p.overall.depth_mean_deg, 0)}° ± ${fmt(p.overall.depth_std_deg, 0)}°` }))));
    return h("div", {}, svg, h("p", { class: "hint", text: "Dot: mean depth. Bar: ± one standard deviation (steadier is shorter)." }));
  }

  function lossChart(losses) {
    const total = POINTS.reduce((a, p) => a + (losses[p] || 0), 0);
    if (!total) return noData("No contact lost yet: every rep kept all three points.");
    // The athlete's back with the dowel; each point's circle grows with its share of losses.
    const svg = s("svg", { viewBox: "0 0 320 190", role: "img", class: "hv-svg hv-loss",
      "aria-label": "Contact losses by point: " + POINTS.map((p) => `${POINT_NAMES[p]} ${losses[p] || 0}`).join(", ") });
    svg.append(s("circle", { cx: 70, cy: 30, r: 16, class: "body" }),
      s("path", { d: "M66,48 C58,80 58,110 66,150", class: "spine" }),
      s("line", { x1: 46, y1: 8, x2: 46, y2: 178, class: "dowel" }));
    const ys = { head: 30, upper_back: 74, sacrum: 146 };
    const most = POINTS.reduce((a, p) => ((losses[p] || 0) > (losses[a] || 0) ? p : a), POINTS[0]);
    POINTS.forEach((p) => {
      const n = losses[p] || 0, share = n / total, y = ys[p];
      svg.append(s("circle", { cx: 46, cy: y, r: 5 + 13 * Math.sqrt(share), class: n ? (p === most ? "pt worst" : "pt lost") : "pt ok" }));
      const barX = 110, full = 200, barW = full * share;
      svg.append(s("text", { x: barX, y: y - 8, class: "label", text: POINT_NAMES[p] }),
        s("text", { x: barX + full, y: y - 8, "text-anchor": "end", class: "count", text: `${n} · ${Math.round(share * 100)}%` }),
        s("rect", { x: barX, y: y - 2, width: full, height: 12, rx: 6, class: "track" }),
        s("rect", { x: barX, y: y - 2, width: Math.max(barW, n ? 4 : 0), height: 12, rx: 6, class: p === most ? "fillbar worst" : "fillbar" }));
    });
    return h("div", {}, svg, h("p", { class: "hint", text: `${total} losses in all; you lose the ${POINT_NAMES[most].toLowerCase()} most.` }));
  }

  // -- the session list ---------------------------------------------------------------------
  function renderList() {
    els.empty.hidden = state.total > 0;
    els.list.replaceChildren(...state.sessions.map(sessionItem));
    els.more.hidden = state.sessions.length >= state.total;
  }

  function sessionItem(sess) {
    const meta = [`${sess.set_count} set${sess.set_count === 1 ? "" : "s"}`, `${sess.rep_count} reps`];
    if (sess.clean_pct !== null) meta.push(`${fmt(sess.clean_pct, 0)} % clean`);
    if (sess.manual_reps) meta.push(`${sess.manual_reps} kettlebell reps`);
    const body = h("div", { class: "hv-session-body", hidden: true });
    const toggle = h("button", { type: "button", class: "hv-session-toggle", "aria-expanded": "false",
      "data-session": String(sess.id) },
    h("span", { class: "hv-day", text: dayLabel(sess.day) }),
    h("span", { class: "set-meta", text: meta.join(" · ") }),
    pctBadge(sess.clean_pct));
    function setOpen(open) {
      toggle.setAttribute("aria-expanded", String(open));
      body.hidden = !open;
      if (open) state.open.add(sess.id); else state.open.delete(sess.id);
      if (open && !body.dataset.loaded) loadSession(sess, body);
    }
    toggle.addEventListener("click", () => setOpen(toggle.getAttribute("aria-expanded") !== "true"));
    if (state.open.has(sess.id)) setOpen(true);      // stays open across refreshes
    return h("li", { class: "hv-session", "data-session": String(sess.id) }, toggle, body);
  }

  function pctBadge(pct) {
    if (pct === null || pct === undefined) return h("span", { class: "tag", text: "log" });
    return h("span", { class: "tag " + (pct >= 90 ? "ok" : pct >= 70 ? "fair" : "poor"), text: `${fmt(pct, 0)}%` });
  }

  function loadSession(sess, body) {
    body.replaceChildren(h("p", { class: "muted", text: "Loading…" }));
    getJSON(`/api/sessions/${sess.id}`).then(({ ok, body: doc }) => {
      if (!ok) { body.replaceChildren(h("p", { class: "note bad", text: doc.error || "Could not load" })); return; }
      body.dataset.loaded = "true";
      const d = new Date();
      const today = `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, "0")}-${String(d.getDate()).padStart(2, "0")}`;
      const sets = doc.sets.map((st) => setBlock(st, doc.day === today));
      const del = h("button", { type: "button", class: "danger hv-delete" }, "Delete this session…");
      del.addEventListener("click", () => askDelete(doc));
      body.replaceChildren(h("ol", { class: "sets" }, ...sets), del);
    });
  }

  function setBlock(st, isToday) {
    const title = `Set ${st.number} · ${EXERCISE_NAMES[st.exercise] || st.exercise}`;
    const meta = st.manual
      ? `${st.rep_count} reps${st.weight_kg ? ` · ${st.weight_kg} kg` : ""} · logged by hand`
      : `${st.rep_count} reps · ${st.clean_reps} clean · ${clock(st.start)}${st.end === null ? (isToday ? " · in progress" : " · unfinished") : ""}`;
    const li = h("li", { class: "set" }, h("div", { class: "set-head" }, h("strong", { text: title }),
      h("span", { class: "set-meta", text: meta })));
    if (!st.manual && st.reps.length) {
      li.append(repStrip(st.reps));
      const table = h("table", { class: "reps" }, h("tr", {}, h("th", { text: "#" }), h("th", { text: "Depth" }),
        h("th", { text: "Down/up" }), h("th", { text: "Lost" })));
      st.reps.forEach((r) => table.append(h("tr", { class: r.clean ? "clean" : "dirty" },
        h("td", { text: String(r.rep_index) }), h("td", { text: `${fmt(r.depth_deg, 0)}°` }),
        h("td", { text: `${fmt(r.down_s, 1)}/${fmt(r.up_s, 1)} s` }),
        h("td", { class: r.clean ? "mark-clean" : "mark-dirty",
          text: r.losses.length ? r.losses.map((l) => `${POINT_NAMES[l.point] || l.point} ${fmt(l.duration_s, 1)} s`).join(", ") : "✓" }))));
      li.append(table);
    }
    return li;
  }

  function repStrip(reps) {
    // one column per rep: height = depth, colour = clean or not
    const n = reps.length, w = 300, hgt = 54, step = w / Math.max(n, 10);
    const maxDepth = Math.max(60, ...reps.map((r) => r.depth_deg));
    const svg = s("svg", { viewBox: `0 0 ${w} ${hgt}`, class: "hv-svg hv-strip", role: "img",
      "aria-label": `${n} reps: ${reps.filter((r) => r.clean).length} clean` });
    reps.forEach((r, i) => {
      const bh = Math.max(4, (hgt - 4) * r.depth_deg / maxDepth);
      svg.append(s("rect", { x: i * step + 2, y: hgt - bh, width: step - 4, height: bh, rx: 2, class: r.clean ? "bar good" : "bar poor" },
        s("title", { text: `Rep ${r.rep_index}: ${fmt(r.depth_deg, 0)}°${r.clean ? ", clean" : ", lost " + r.losses.map((l) => POINT_NAMES[l.point]).join(", ")}` })));
    });
    return svg;
  }

  // -- delete with confirmation and the device token ------------------------------------------
  function buildDialog() {
    els.dialog = h("dialog", { class: "hv-dialog", id: "hv-delete-dialog" });
    els.dialogText = h("p", { class: "hv-dialog-text" });
    els.tokenField = h("div", { class: "field" },
      h("label", { for: "hv-token", text: "Device token" }),
      h("input", { id: "hv-token", type: "password", autocomplete: "off", autocapitalize: "off", spellcheck: "false" }),
      h("p", { class: "hint", text: "Printed in the terminal when the device starts (or run: dowel token). Asked once, then kept on this phone." }));
    els.dialogError = h("p", { class: "field-error", role: "alert" });
    els.dialogConfirm = h("button", { type: "submit", class: "danger", value: "delete" }, "Delete");
    const form = h("form", { method: "dialog" }, h("h3", { text: "Delete session?" }), els.dialogText, els.tokenField, els.dialogError,
      h("div", { class: "hv-dialog-buttons" },
        h("button", { type: "button", onclick: () => els.dialog.close() }, "Cancel"), els.dialogConfirm));
    form.addEventListener("submit", (ev) => { ev.preventDefault(); confirmDelete(); });
    els.dialog.append(form);
    return els.dialog;
  }

  let pendingDelete = null;
  function askDelete(doc) {
    pendingDelete = doc;
    els.dialogText.textContent = `${dayLabel(doc.day)}: ${doc.set_count} sets, ${doc.rep_count} reps. ` +
      "This removes them for good.";
    const token = localStorage.getItem(TOKEN_KEY);
    els.tokenField.hidden = Boolean(token);
    els.dialogError.textContent = "";
    els.dialogConfirm.disabled = false;
    els.dialog.showModal();
  }

  function confirmDelete() {
    const doc = pendingDelete;
    const typed = document.getElementById("hv-token").value.trim();
    const token = localStorage.getItem(TOKEN_KEY) || typed;
    if (!token) { els.dialogError.textContent = "Enter the device token."; return; }
    els.dialogConfirm.disabled = true;
    fetch(`/api/sessions/${doc.id}`, { method: "DELETE", headers: { "X-Dowel-Token": token, Accept: "application/json" } })
      .then((r) => r.json().catch(() => ({})).then((b) => ({ status: r.status, b })))
      .then(({ status, b }) => {
        els.dialogConfirm.disabled = false;
        if (status === 401) {
          localStorage.removeItem(TOKEN_KEY);      // a stale or mistyped token: ask again
          els.tokenField.hidden = false;
          els.dialogError.textContent = "That token is not right. Check it and try again.";
          return;
        }
        if (status !== 200 && status !== 404) { els.dialogError.textContent = b.error || "Could not delete."; return; }
        localStorage.setItem(TOKEN_KEY, token);
        els.dialog.close();
        document.getElementById("hv-token").value = "";
        refresh();
      })
      .catch(() => { els.dialogConfirm.disabled = false; els.dialogError.textContent = "The device did not answer."; });
  }

  // -- wiring ------------------------------------------------------------------------------
  function fingerprint(sess) { return sess ? `${sess.id}:${sess.set_count}:${sess.rep_count}:${sess.manual_reps}` : ""; }
  function poll() {
    // one small request; the full refresh only when a set or rep was saved meanwhile
    if (root.hidden || !state.loaded || state.loading) return;
    getJSON(`/api/sessions?limit=1&offset=0&${athleteQuery()}`).then(({ ok, body }) => {
      if (ok && fingerprint(body.sessions[0]) !== state.latest) refresh();
    }).catch(() => {});
  }
  build();
  document.addEventListener("dowel:view", (e) => { if (e.detail && e.detail.view === "history") refresh(); });
  if (location.hash === "#history" || !root.hidden) refresh();
  // Pushed by app.js from the live stream (rep_completed, set_completed, a logged set).
  let checks = [];
  document.addEventListener("dowel:history-changed", () => {
    checks.forEach(clearTimeout);
    checks = CHECK_AFTER_MS.map((ms) => setTimeout(poll, ms));
  });
  window.dowelHistory = { refresh, poll, state };
})();
