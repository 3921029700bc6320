/* History view: progression, trends drawn as SVG, a calendar of training days,
 * the sessions, export, delete.  Fills <section id="history-view"> from
 * /api/history, /api/sessions and /api/athletes.  Charts are inline SVG built
 * here; every user-supplied string goes through textContent. */
import { $, dates, el, isoDay, num, plural, svg } from "./dom.js";
import { download, errorText, get, request, setToken, token } from "./api.js";
import { labels } from "./labels.js";
import * as stream from "./stream.js";
import * as people from "./athletes.js";
import * as prefs from "./prefs.js";
import { lossWords, repTable } from "./sets.js";

const PAGE = 10;
const CHART_SESSIONS = 14;
const CALENDAR_WEEKS = 5;
// The writer commits a rep within milliseconds of the pushed event; look a
// moment later, and once more in case the disk was slow.
const CHECK_AFTER_MS = [300, 1500];

const root = () => document.getElementById("history-view");
const state = { athlete: null, sessions: [], total: 0, loaded: false, loading: false, open: new Set(), latest: "" };
const els = {};

// -- skeleton ------------------------------------------------------------------------------------
function build() {
  els.saving = el("div", { class: "banner warn", role: "alert", hidden: true });
  els.athletes = el("select", { id: "hv-athlete", onchange: onAthleteChange });
  els.progress = el("div", { class: "card hv-progress", id: "hv-progress" });
  els.totals = el("p", { class: "muted hv-totals", id: "hv-totals" });
  els.calendar = el("div", { class: "hv-calendar-box", id: "hv-calendar" });
  els.cleanChart = el("div", { class: "hv-chart", id: "hv-clean-chart" });
  els.depthChart = el("div", { class: "hv-chart", id: "hv-depth-chart" });
  els.lossChart = el("div", { class: "hv-chart", id: "hv-loss-chart" });
  els.list = el("ol", { class: "hv-sessions", id: "hv-sessions" });
  els.more = el("button", { type: "button", class: "hv-more", hidden: true, onclick: loadMore }, "Older sessions");
  els.empty = el("p", { class: "muted", hidden: true, text: "No sessions yet. Put the dowel on and do a set: it is saved here rep by rep." });
  els.error = el("p", { class: "note bad", role: "status" });

  root().replaceChildren(
    el("div", { class: "hv-head" }, el("h2", { text: "History" }),
      el("div", { class: "hv-athlete" }, el("label", { for: "hv-athlete", text: "Athlete" }), els.athletes,
        el("button", { type: "button", class: "hv-small", id: "hv-add", "aria-expanded": "false", onclick: toggleAddForm }, "+ Add"))),
    addForm(),
    els.saving, els.error,
    els.progress,
    els.totals,
    el("div", { class: "card" }, el("h3", { text: "Training days" }), els.calendar),
    el("div", { class: "card" }, el("h3", { text: "Clean reps per session" }), els.cleanChart),
    el("div", { class: "card" }, el("h3", { text: "Depth per session" }), els.depthChart),
    el("div", { class: "card" }, el("h3", { text: "Where contact is lost" }), els.lossChart),
    el("h3", { class: "hv-list-title", text: "Sessions" }),
    els.empty, els.list, els.more,
    el("div", { class: "hv-export" },
      el("a", { class: "button", href: "/api/export?format=csv", download: true, id: "hv-export-csv", onclick: exportClick }, "Download CSV"),
      el("a", { class: "button", href: "/api/export?format=json", download: true, id: "hv-export-json", onclick: exportClick }, "Download JSON")),
    buildDialog());
}

async function exportClick(ev) {
  ev.preventDefault();
  const href = ev.currentTarget.getAttribute("href");
  els.error.textContent = await download(href, "dowel-history");
}

// -- loading ----------------------------------------------------------------------------------
const athleteQuery = () => (state.athlete ? `athlete=${state.athlete}` : "");

export async function refresh() {
  if (state.loading) return;
  state.loading = true;
  els.error.textContent = "";
  try {
    const [athletes, summary, sessions] = await Promise.all([get("/api/athletes"),
      get(`/api/history?${athleteQuery()}`), get(`/api/sessions?limit=${PAGE}&offset=0&${athleteQuery()}`)]);
    if (athletes.status === 404 || (summary.status === 404 && !summary.body.field)) {
      root().replaceChildren(el("h2", { text: "History" }),
        el("p", { class: "muted", text: "History is off on this device (started with --no-history)." }));
      return;
    }
    if (athletes.ok) renderAthletes(athletes.body);
    if (summary.ok) renderSummary(summary.body);
    else els.error.textContent = errorText(summary);
    if (sessions.ok) {
      state.sessions = sessions.body.sessions;
      state.total = sessions.body.total;
      state.latest = fingerprint(state.sessions[0]);
      renderList();
    }
    state.loaded = true;
    root().dataset.loaded = "true";
  } finally {
    state.loading = false;
  }
}

async function loadMore() {
  els.more.disabled = true;
  const res = await get(`/api/sessions?limit=${PAGE}&offset=${state.sessions.length}&${athleteQuery()}`);
  if (res.ok) {
    state.sessions = state.sessions.concat(res.body.sessions);
    state.total = res.body.total;
    renderList();
  }
  els.more.disabled = false;
}

// -- athletes: browse anyone's history; adding one switches the recorder only when asked ----------
function renderAthletes(body) {
  if (!state.athlete) state.athlete = body.current;
  els.athletes.replaceChildren(...body.athletes.map((a) => el("option", {
    value: String(a.id), text: a.id === body.current ? `${a.name} (recording)` : a.name,
    selected: a.id === state.athlete,
  })));
}

function onAthleteChange() {
  state.athlete = Number(els.athletes.value);
  state.open.clear();
  refresh();
}

function addForm() {
  els.addName = el("input", { id: "hv-add-name", name: "name", type: "text", autocomplete: "off", maxlength: "60" });
  els.addCurrent = el("input", { id: "hv-add-current", name: "current", type: "checkbox" });
  els.addError = el("p", { class: "field-error", role: "alert" });
  els.addForm = el("form", { class: "card hv-add-form", id: "hv-add-form", hidden: true, novalidate: true },
    el("h3", { text: "New athlete" }),
    el("div", { class: "field" }, el("label", { for: "hv-add-name", text: "Name" }), els.addName, els.addError),
    el("div", { class: "field switch" }, el("label", { for: "hv-add-current", text: "Record the next sets for them" }), els.addCurrent),
    el("div", { class: "hv-dialog-buttons" },
      el("button", { type: "button", onclick: toggleAddForm }, "Cancel"),
      el("button", { type: "submit", class: "primary" }, "Add athlete")));
  els.addForm.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const name = els.addName.value.trim();
    if (!name) { els.addError.textContent = "Name: type the athlete's name."; return; }
    const res = await people.add(name, els.addCurrent.checked);
    if (res.error) { els.addError.textContent = res.error; return; }
    els.addName.value = "";
    els.addCurrent.checked = false;
    els.addError.textContent = "";
    toggleAddForm();
    state.athlete = res.athlete.id;      // browse the new athlete's (empty) history
    refresh();
  });
  return els.addForm;
}

function toggleAddForm() {
  const open = els.addForm.hidden;
  els.addForm.hidden = !open;
  $("#hv-add").setAttribute("aria-expanded", String(open));
  if (open) els.addName.focus();
}

// -- summary, progression, charts ---------------------------------------------------------------
const STAGES = { all_four: "Kneeling + standing", standing: "Standing only", deadlift: "Deadlift" };

function renderSummary(doc) {
  els.saving.hidden = !doc.saving || doc.saving === "ok";
  els.saving.textContent = doc.saving && doc.saving !== "ok" ? doc.saving : "";
  const p = doc.progression;
  const children = [
    el("div", { class: "hv-stage" }, el("span", { class: "label", text: "Next step" }),
      el("span", { class: `tag hv-stage-${p.stage}`, text: STAGES[p.stage] || p.stage })),
    el("p", { class: "hv-suggestion", text: p.suggestion }),
    el("p", { class: "muted hv-reason", text: p.reason })];
  if (p.focus) children.push(el("p", { class: "hv-focus" }, el("strong", { text: `${labels.point(p.focus.point)}: ` }), p.focus.cue + "."));
  children.push(el("p", { class: "hint", text: `Rule: ${p.rule}.` }));
  els.progress.replaceChildren(...children);

  els.totals.textContent = doc.sessions
    ? `${plural(doc.sessions, "session")} · ${plural(doc.reps, "rep")} · ${num(doc.clean_pct, 0)} % clean` +
      (doc.manual_reps ? ` · ${plural(doc.manual_reps, "kettlebell rep")}` : "")
    : "";
  const all = doc.trends.sessions;
  els.calendar.replaceChildren(calendar(all));
  const per = all.filter((x) => x.overall.reps > 0).slice(-CHART_SESSIONS);
  els.cleanChart.replaceChildren(cleanChart(per));
  els.depthChart.replaceChildren(depthChart(per));
  els.lossChart.replaceChildren(lossChart(doc.trends.losses_by_point));
}

/** The last few weeks, Monday first; a day trained is filled, coloured by its clean %. */
function calendar(sessions) {
  const byDay = new Map(sessions.map((s) => [s.day, s]));
  const today = new Date();
  const start = new Date(today.getFullYear(), today.getMonth(), today.getDate() - ((today.getDay() + 6) % 7) - 7 * (CALENDAR_WEEKS - 1));
  const cells = [];
  const weekday = new Intl.DateTimeFormat(undefined, { weekday: "narrow" });
  for (let i = 0; i < 7; i += 1) {
    cells.push(el("li", { class: "hv-cal-head", "aria-hidden": "true", text: weekday.format(new Date(start.getFullYear(), start.getMonth(), start.getDate() + i)) }));
  }
  let trained = 0;
  for (let i = 0; i < CALENDAR_WEEKS * 7; i += 1) {
    const d = new Date(start.getFullYear(), start.getMonth(), start.getDate() + i);
    const key = isoDay(d);
    const s = byDay.get(key);
    const future = d > today;
    const pct = s && s.overall.reps ? s.overall.clean_pct : null;
    const grade = s ? (pct === null ? "log" : pct >= 90 ? "good" : pct >= 70 ? "fair" : "poor") : "";
    if (s) trained += 1;
    cells.push(el("li", {
      class: `hv-cal-day${s ? " trained " + grade : ""}${future ? " future" : ""}${key === isoDay(today) ? " today" : ""}`,
      "data-day": key,
      "aria-label": `${dates.day(d)}: ${s ? (pct === null ? "logged by hand" : `trained, ${num(pct, 0)} % clean`) : "no training"}`,
      text: String(d.getDate()),
    }));
  }
  return el("div", {},
    el("ol", { class: "hv-calendar", "aria-label": `Training days, last ${CALENDAR_WEEKS} weeks` }, ...cells),
    el("p", { class: "hint", text: `${plural(trained, "training day")} in the last ${CALENDAR_WEEKS} weeks. Green: 90 % clean or better.` }));
}

const W = 320, H = 170, L = 34, R = 8, T = 12, B = 26;   // chart box and margins (SVG units)

function frame(label, ymax, ticks, unit) {
  const box = svg("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": label, class: "hv-svg" });
  for (const v of ticks) {
    const y = T + (H - T - B) * (1 - v / ymax);
    box.append(svg("line", { x1: L, x2: W - R, y1: y, y2: y, class: "grid" }),
      svg("text", { x: L - 4, y: y + 4, "text-anchor": "end", class: "axis", text: `${v}${unit}` }));
  }
  return box;
}
const noData = (text) => el("p", { class: "muted hv-nodata", text });
// day labels counted back from the newest, so the last one never collides
const showLabel = (i, n) => (n - 1 - i) % Math.ceil(n / 6) === 0;
const xAt = (i, n) => L + ((W - L - R) / n) * (i + 0.5);
const barWidth = (n) => Math.min(26, ((W - L - R) / n) * 0.7);

function cleanChart(per) {
  if (!per.length) return noData("Clean-rep % appears here after your first set.");
  const box = frame("Clean-rep percentage per session", 100, [0, 50, 90, 100], "%");
  const n = per.length, bw = barWidth(n);
  const y90 = T + (H - T - B) * 0.1;
  box.append(svg("line", { x1: L, x2: W - R, y1: y90, y2: y90, class: "target" }));
  per.forEach((p, i) => {
    const pct = p.overall.clean_pct || 0, x = xAt(i, n);
    const y = T + (H - T - B) * (1 - pct / 100);
    box.append(svg("rect", { x: x - bw / 2, y, width: bw, height: H - B - y, rx: 3,
      class: pct >= 90 ? "bar good" : pct >= 70 ? "bar fair" : "bar poor" },
    svg("title", { text: `${dates.day(p.day)}: ${num(pct, 0)} % clean (${p.overall.clean_reps}/${p.overall.reps})` })));
    if (p.comfortable) box.append(svg("text", { x, y: y - 3, "text-anchor": "middle", class: "star", text: "★" }));
    if (showLabel(i, n)) box.append(svg("text", { x, y: H - 8, "text-anchor": "middle", class: "axis", text: dates.shortDay(p.day) }));
  });
  return el("div", {}, box, el("p", { class: "hint", text: "Dashed line: 90 % clean. ★ comfortable session." }));
}

function depthChart(per) {
  if (!per.length) return noData("Hinge depth appears here after your first set.");
  const top = Math.max(60, ...per.map((p) => (p.overall.depth_mean_deg || 0) + (p.overall.depth_std_deg || 0)));
  const ymax = Math.ceil(top / 15) * 15;
  const ticks = []; for (let v = 0; v <= ymax; v += 30) ticks.push(v);
  const box = frame("Hinge depth per session, mean and spread", ymax, ticks, "°");
  const n = per.length, yOf = (v) => T + (H - T - B) * (1 - v / ymax);
  const tip = (p) => svg("title", { text: `${dates.day(p.day)}: ${num(p.overall.depth_mean_deg, 0)}° ± ${num(p.overall.depth_std_deg, 0)}°` });
  if (n === 1) {
    // one session: a bar from the floor, not a lone dot floating in the box
    const p = per[0], x = xAt(0, 1), bw = barWidth(1), m = p.overall.depth_mean_deg || 0;
    box.append(svg("rect", { x: x - bw / 2, y: yOf(m), width: bw, height: H - B - yOf(m), rx: 3, class: "bar depth" }, tip(p)),
      svg("text", { x, y: H - 8, "text-anchor": "middle", class: "axis", text: dates.shortDay(p.day) }));
    return el("div", {}, box, el("p", { class: "hint", text: `Mean depth ${num(m, 0)}°. A line appears from the second session on.` }));
  }
  let path = "";
  per.forEach((p, i) => {
    const m = p.overall.depth_mean_deg, sd = p.overall.depth_std_deg || 0, x = xAt(i, n);
    box.append(svg("line", { x1: x, x2: x, y1: yOf(m + sd), y2: yOf(Math.max(0, m - sd)), class: "spread" }));
    path += `${i ? "L" : "M"}${x.toFixed(1)},${yOf(m).toFixed(1)}`;
    if (showLabel(i, n)) box.append(svg("text", { x, y: H - 8, "text-anchor": "middle", class: "axis", text: dates.shortDay(p.day) }));
  });
  box.append(svg("path", { d: path, class: "line" }));
  per.forEach((p, i) => box.append(svg("circle", { cx: xAt(i, n), cy: yOf(p.overall.depth_mean_deg), r: 4.5, class: "dot" }, tip(p))));
  return el("div", {}, box, el("p", { class: "hint", text: "Dot: mean depth. Bar: ± one standard deviation (steadier is shorter)." }));
}

function lossChart(losses) {
  const points = labels.pointIds();
  const total = points.reduce((a, p) => a + (losses[p] || 0), 0);
  if (!total) return noData("No contact lost yet: every rep kept all three points.");
  // The athlete's back with the dowel; each point's circle grows with its share of losses.
  const box = svg("svg", { viewBox: "0 0 320 190", role: "img", class: "hv-svg hv-loss",
    "aria-label": "Contact losses by point: " + points.map((p) => `${labels.point(p)} ${losses[p] || 0}`).join(", ") });
  box.append(svg("circle", { cx: 70, cy: 30, r: 16, class: "body" }),
    svg("path", { d: "M66,48 C58,80 58,110 66,150", class: "spine" }),
    svg("line", { x1: 46, y1: 8, x2: 46, y2: 178, class: "dowel" }));
  const ys = [30, 74, 146];
  const most = points.reduce((a, p) => ((losses[p] || 0) > (losses[a] || 0) ? p : a), points[0]);
  points.forEach((p, i) => {
    const n = losses[p] || 0, share = n / total, y = ys[i] ?? 30 + 44 * i;
    box.append(svg("circle", { cx: 46, cy: y, r: 5 + 13 * Math.sqrt(share), class: n ? (p === most ? "pt worst" : "pt lost") : "pt ok" }));
    const barX = 110, full = 200, barW = full * share;
    box.append(svg("text", { x: barX, y: y - 8, class: "label", text: labels.point(p) }),
      svg("text", { x: barX + full, y: y - 8, "text-anchor": "end", class: "count", text: `${n} · ${Math.round(share * 100)}%` }),
      svg("rect", { x: barX, y: y - 2, width: full, height: 12, rx: 6, class: "track" }),
      svg("rect", { x: barX, y: y - 2, width: Math.max(barW, n ? 4 : 0), height: 12, rx: 6, class: p === most ? "fillbar worst" : "fillbar" }));
  });
  return el("div", {}, box, el("p", { class: "hint", text: `${plural(total, "loss", "losses")} in all; you lose the ${labels.point(most).toLowerCase()} most.` }));
}

// -- the session list ---------------------------------------------------------------------------
function renderList() {
  els.empty.hidden = state.total > 0;
  els.list.replaceChildren(...state.sessions.map(sessionItem));
  els.more.hidden = state.sessions.length >= state.total;
}

function pctBadge(pct) {
  if (pct === null || pct === undefined) return el("span", { class: "tag", text: "log" });
  return el("span", { class: "tag " + (pct >= 90 ? "ok" : pct >= 70 ? "fair" : "poor"), text: `${num(pct, 0)}%` });
}

function sessionItem(sess) {
  const meta = [plural(sess.set_count, "set"), plural(sess.rep_count, "rep")];
  if (sess.clean_pct !== null) meta.push(`${num(sess.clean_pct, 0)} % clean`);
  if (sess.manual_reps) meta.push(plural(sess.manual_reps, "kettlebell rep"));
  const body = el("div", { class: "hv-session-body", hidden: true });
  const toggle = el("button", { type: "button", class: "hv-session-toggle", "aria-expanded": "false", "data-session": String(sess.id) },
    el("span", { class: "hv-day", text: dates.day(sess.day) }),
    el("span", { class: "set-meta", text: meta.join(" · ") }),
    pctBadge(sess.clean_pct));
  function setOpen(open) {
    toggle.setAttribute("aria-expanded", String(open));
    body.hidden = !open;
    if (open) state.open.add(sess.id); else state.open.delete(sess.id);
    if (open && !body.dataset.loaded) loadSession(sess, body);
  }
  toggle.addEventListener("click", () => setOpen(toggle.getAttribute("aria-expanded") !== "true"));
  if (state.open.has(sess.id)) setOpen(true);      // stays open across refreshes
  return el("li", { class: "hv-session", "data-session": String(sess.id) }, toggle, body);
}

async function loadSession(sess, body) {
  body.replaceChildren(el("p", { class: "muted", text: "Loading…" }));
  const res = await get(`/api/sessions/${sess.id}`);
  if (!res.ok) { body.replaceChildren(el("p", { class: "note bad", text: errorText(res) })); return; }
  const doc = res.body;
  body.dataset.loaded = "true";
  const sets = doc.sets.map((st) => setBlock(st, doc.day === dates.today()));
  const del = el("button", { type: "button", class: "danger hv-delete" }, "Delete this session…");
  del.addEventListener("click", () => askDelete(doc));
  body.replaceChildren(el("ol", { class: "sets" }, ...sets), del);
}

function setBlock(st, isToday) {
  const title = `Set ${st.number} · ${labels.title(st.exercise)}`;
  const unfinished = st.end === null ? (isToday ? " · in progress" : " · unfinished") : "";
  const meta = st.manual
    ? `${plural(st.rep_count, "rep")}${st.weight_kg ? ` · ${prefs.weightText(st.weight_kg)}` : ""} · logged by hand`
    : `${plural(st.rep_count, "rep")} · ${st.clean_reps} clean · ${dates.clock(st.start)}${unfinished}`;
  const li = el("li", { class: "set" }, el("div", { class: "set-head" }, el("strong", { text: title }),
    el("span", { class: "set-meta", text: meta })));
  if (!st.manual && st.reps.length) li.append(repBars(st.reps), repTable(st.reps));
  return li;
}

function repBars(reps) {
  // one column per rep: height = depth, colour = clean or not
  const n = reps.length, w = 300, hgt = 54, step = w / Math.max(n, 10);
  const maxDepth = Math.max(60, ...reps.map((r) => r.depth_deg || 0));
  const box = svg("svg", { viewBox: `0 0 ${w} ${hgt}`, class: "hv-svg hv-strip", role: "img",
    "aria-label": `${plural(n, "rep")}: ${reps.filter((r) => r.clean).length} clean` });
  reps.forEach((r, i) => {
    const bh = Math.max(4, ((hgt - 4) * (r.depth_deg || 0)) / maxDepth);
    box.append(svg("rect", { x: i * step + 2, y: hgt - bh, width: step - 4, height: bh, rx: 2, class: r.clean ? "bar good" : "bar poor" },
      svg("title", { text: `Rep ${r.rep_index}: ${num(r.depth_deg, 0)}°, ${r.clean ? "clean" : lossWords(r.losses)}` })));
  });
  return box;
}

// -- delete with confirmation and the device token ------------------------------------------------
let pendingDelete = null;

function buildDialog() {
  els.dialog = el("dialog", { class: "hv-dialog", id: "hv-delete-dialog", "aria-labelledby": "hv-delete-title" });
  els.dialogText = el("p", { class: "hv-dialog-text" });
  els.tokenField = el("div", { class: "field" },
    el("label", { for: "hv-token", text: "Device token" }),
    el("input", { id: "hv-token", type: "password", autocomplete: "off", autocapitalize: "off", spellcheck: "false" }),
    el("p", { class: "hint", text: "Printed in the terminal when the device starts (or run: dowel token). Asked once, then kept on this phone." }));
  els.dialogError = el("p", { class: "field-error", role: "alert" });
  els.dialogConfirm = el("button", { type: "submit", class: "danger", value: "delete" }, "Delete");
  const form = el("form", { method: "dialog" }, el("h3", { id: "hv-delete-title", text: "Delete session?" }), els.dialogText,
    els.tokenField, els.dialogError,
    el("div", { class: "hv-dialog-buttons" },
      el("button", { type: "button", onclick: () => els.dialog.close() }, "Cancel"), els.dialogConfirm));
  form.addEventListener("submit", (ev) => { ev.preventDefault(); confirmDelete(); });
  els.dialog.append(form);
  return els.dialog;
}

function askDelete(doc) {
  pendingDelete = doc;
  els.dialogText.textContent = `${dates.day(doc.day)}: ${plural(doc.set_count, "set")}, ${plural(doc.rep_count, "rep")}. ` +
    "This removes them for good.";
  els.tokenField.hidden = Boolean(token());
  els.dialogError.textContent = "";
  els.dialogConfirm.disabled = false;
  els.dialog.showModal();
}

async function confirmDelete() {
  const doc = pendingDelete;
  const typed = $("#hv-token").value.trim();
  const useToken = token() || typed;
  if (!useToken) { els.dialogError.textContent = "Device token: enter it to delete."; return; }
  els.dialogConfirm.disabled = true;
  const res = await request("DELETE", `/api/sessions/${doc.id}`, undefined, { token: useToken });
  els.dialogConfirm.disabled = false;
  if (res.status === 401 || res.status === 403) {
    els.tokenField.hidden = false;      // a stale or mistyped token: ask again
    els.dialogError.textContent = "That token is not right. Check it and try again.";
    return;
  }
  if (!res.ok && res.status !== 404) { els.dialogError.textContent = errorText(res); return; }
  setToken(useToken);
  els.dialog.close();
  $("#hv-token").value = "";
  state.open.delete(doc.id);
  document.dispatchEvent(new CustomEvent("dowel:history-deleted", { detail: { id: doc.id } }));
  refresh();
}

// -- wiring -------------------------------------------------------------------------------------
const fingerprint = (s) => (s ? `${s.id}:${s.set_count}:${s.rep_count}:${s.manual_reps}` : "");

async function poll() {
  // one small request; the full refresh only when a set or rep was saved meanwhile
  if (root().hidden || !state.loaded || state.loading) return;
  const res = await get(`/api/sessions?limit=1&offset=0&${athleteQuery()}`);
  if (res.ok && fingerprint(res.body.sessions[0]) !== state.latest) refresh();
}

export function setup() {
  build();
  document.addEventListener("dowel:view", (e) => { if (e.detail.view === "history") refresh(); });
  let checks = [];
  // Pushed from the live stream (rep_completed, set_completed) and by a set logged by hand.
  document.addEventListener("dowel:history-changed", () => {
    checks.forEach(clearTimeout);
    checks = CHECK_AFTER_MS.map((ms) => setTimeout(poll, ms));
  });
  stream.on("reconnected", () => { if (!root().hidden) refresh(); });
  document.addEventListener("dowel:prefs", () => { if (state.loaded) { renderList(); } });
  window.dowelHistory = { refresh, poll, state };
}
