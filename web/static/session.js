/* Session view: today's sets, newest first, from the store; the set under way
 * from the live stream until the store has it.
 *
 * It reloads from the store when the stream says a rep or set was saved, when
 * the stream comes back after being down (the device may have restarted: a
 * new run must not be mixed with the old one's live sets), after a session is
 * deleted and when the athlete changes.  Without a history store it shows the
 * live sets of this run only. */
import { $, el, plural } from "./dom.js";
import { get } from "./api.js";
import { labels } from "./labels.js";
import * as stream from "./stream.js";
import * as prefs from "./prefs.js";
import { repStripItems, repTable } from "./sets.js";

const RELOAD_AFTER_MS = [300, 1500];   // the writer commits within ms; look again in case the disk was slow

const state = {
  stored: null,        // the store's session doc, or null
  historyOff: false,
  live: new Map(),     // set_number -> {number, exercise, reps, open}, this run's sets not yet in the store
  timers: [],
  loading: null,
};
let onOpenSet = () => {};

export async function reload() {
  const res = await get("/api/sessions/current");
  if (res.status === 404) {
    state.historyOff = true;
  } else if (res.ok) {
    state.historyOff = false;
    state.stored = res.body;
    // what the store now has replaces what the stream told us
    const numbers = new Set((res.body.sets || []).map((s) => s.number));
    for (const n of [...state.live.keys()]) if (numbers.has(n)) state.live.delete(n);
    const open = (res.body.sets || []).find((s) => !s.manual && (s.end === null || s.end === undefined));
    if (open) onOpenSet(open.number, open.exercise, open.reps || []);
  }
  render();
  $("#session-view").dataset.loaded = "true";
}

function reloadSoon() {
  state.timers.forEach(clearTimeout);
  state.timers = RELOAD_AFTER_MS.map((ms) => setTimeout(reload, ms));
}

function liveSet(n, exercise) {
  if (!state.live.has(n)) state.live.set(n, { number: n, exercise, reps: [], open: true, live: true });
  return state.live.get(n);
}

function allSets() {
  const stored = state.stored ? (state.stored.sets || []) : [];
  const numbers = new Set(stored.map((s) => s.number));
  const live = [...state.live.values()].filter((s) => !numbers.has(s.number));
  return stored.concat(live);
}

function setItem(s) {
  const title = `Set ${s.number ?? ""} · ${labels.title(s.exercise)}`;
  const li = el("li", { class: "set", "data-set": String(s.number ?? "") });
  let meta;
  if (s.manual) {
    const count = s.rep_count ?? s.manual_reps;
    meta = `${plural(count, "rep")}${s.weight_kg ? " · " + prefs.weightText(s.weight_kg) : ""} · logged by hand`;
  } else {
    const clean = s.reps.filter((r) => r.clean).length;
    const open = s.end === null || s.end === undefined ? s.open !== false : false;
    meta = `${plural(s.reps.length, "rep")} · ${clean} clean${open ? " · in progress" : ""}`;
  }
  li.append(el("div", { class: "set-head" }, el("h3", { text: title }), el("span", { class: "set-meta", text: meta })));
  if (!s.manual && s.reps.length) {
    li.append(el("ol", { class: "rep-strip small", "aria-label": `Set ${s.number} reps` }, ...repStripItems(s.reps, 0)));
    li.append(repTable(s.reps));
  }
  return li;
}

function render() {
  const sets = allSets();
  $("#session-sets").replaceChildren(...sets.map(setItem).reverse());    // newest first
  let reps = 0, clean = 0;
  for (const s of sets) {
    if (s.manual) reps += Number(s.rep_count ?? s.manual_reps) || 0;
    else { reps += s.reps.length; clean += s.reps.filter((r) => r.clean).length; }
  }
  const who = state.stored && state.stored.athlete ? `${state.stored.athlete}: ` : "";
  $("#session-summary").textContent = sets.length
    ? `${who}${plural(sets.length, "set")} · ${plural(reps, "rep")} · ${clean} clean`
    : `${who}No sets yet today.`;
}

export function setup({ openSet } = {}) {
  if (openSet) onOpenSet = openSet;
  stream.on("set_started", (e) => { liveSet(e.set_number, e.exercise); render(); });
  stream.on("rep_completed", (r) => {
    const s = liveSet(r.set_number, null);
    s.reps = s.reps.filter((x) => x.rep !== r.rep).concat([r]);
    if (state.stored && (state.stored.sets || []).some((x) => x.number === r.set_number)) {
      // the store already has this set: show the new rep in it until the reload
      const st = state.stored.sets.find((x) => x.number === r.set_number);
      st.reps = st.reps.filter((x) => (x.rep ?? x.rep_index) !== r.rep).concat([r]);
    }
    render();
    reloadSoon();
  });
  stream.on("set_completed", (e) => {
    const s = state.live.get(e.set_number);
    if (e.discarded) state.live.delete(e.set_number);
    else if (s) { s.open = false; if (e.reps) s.reps = e.reps; }
    render();
    reloadSoon();
  });
  stream.on("reconnected", () => { state.live.clear(); reload(); });
  document.addEventListener("dowel:history-changed", (e) => {
    const logged = e.detail;
    if (logged && logged.manual && state.stored) {
      // a set logged by hand on this phone: show it now, the reload confirms it
      state.stored.sets = (state.stored.sets || []).filter((x) => x.id !== logged.id).concat([logged]);
      render();
    }
    reloadSoon();
  });
  document.addEventListener("dowel:history-deleted", reload);
  let recording = null;
  document.addEventListener("dowel:athletes", (e) => {
    if (recording !== null && e.detail.current !== recording) reload();    // sets now go to someone else
    recording = e.detail.current;
  });
  document.addEventListener("dowel:prefs", render);
  document.addEventListener("dowel:view", (e) => {
    if (e.detail.view === "session") { window.scrollTo(0, 0); reload(); }
  });
  return reload();
}
