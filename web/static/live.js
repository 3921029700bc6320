/* Live view: the three points, the hinge, the counters, the rep just done and
 * this set's reps, the card after a set, who is recording.
 *
 * Discrete events update the page at once; a status snapshot older than the
 * last contact event is ignored so a point never flickers back to green after
 * it was reported lost. */
import { $, dates, el, num, plural } from "./dom.js";
import { labels } from "./labels.js";
import * as stream from "./stream.js";
import * as cues from "./cues.js";
import * as people from "./athletes.js";
import { errorText, request } from "./api.js";
import { lossWords, repNumbers, repStripItems, repTable, setCardChildren, summarise } from "./sets.js";

const HIP = [120, 120];
const FORCE_FULL_N = 8;          // a force bar is full at this force
const TOAST_MS = 4000;           // the rep just done stands out this long

const PHASES = {
  idle: "Put the dowel on the back to start a set", upright: "Upright: hinge when ready",
  down: "Hinging down", up: "Coming up",
};

const state = {
  status: null,
  lost: new Set(),
  lostOrder: [],                 // points in the order they were lost: the first gets the cue
  lastContactEventT: -Infinity,
  set: null,                     // {number, exercise, reps: []} of the set under way or just done
  byHand: false,                 // the plan's step now is logged by hand (kettlebell)
  toastTimer: null,
};

const view = () => $("#live-view");

// -- the figure --------------------------------------------------------------------------------
function drawPitch(pitch) {
  const known = pitch !== null && pitch !== undefined && Number.isFinite(pitch);
  const deg = known ? Math.max(-20, Math.min(100, pitch)) : 0;
  $("#torso").setAttribute("transform", `rotate(${deg.toFixed(1)} ${HIP[0]} ${HIP[1]})`);
  const r = 58, a = deg * Math.PI / 180;
  const x = HIP[0] + r * Math.sin(a), y = HIP[1] - r * Math.cos(a);
  $("#angle-arc").setAttribute("d", Math.abs(deg) < 1 ? "" :
    `M ${HIP[0]} ${HIP[1] - r} A ${r} ${r} 0 0 ${deg > 0 ? 1 : 0} ${x.toFixed(1)} ${y.toFixed(1)}`);
  // No set, no hinge: a dowel lying on the floor is not at 91°.
  $("#angle-value").textContent = known ? String(Math.round(pitch)) : "—";
  $("#angle-unit").textContent = known ? "°" : "";
}

function drawLegs(exercise) {
  const kneeling = labels.exercise(exercise).kneeling;
  // SVG elements have no `hidden` property: use the display attribute.
  $("#legs-standing").setAttribute("display", kneeling ? "none" : "inline");
  $("#legs-kneeling").setAttribute("display", kneeling ? "inline" : "none");
  // Kneeling: the hips sit lower; the torso hinges about the same drawn hip.
  $("#fig-body").setAttribute("transform", kneeling ? "translate(0 32)" : "");
}

function buildBars() {
  $("#force-bars").replaceChildren(...labels.points().map((p) => el("div", { class: "bar-row", "data-point": p.id },
    el("span", { class: "bar-label", text: p.label }),
    el("span", { class: "bar" }, el("span", { class: "fill" })),
    el("span", { class: "bar-value", text: "–" }))));
}

function pointState(p, info) {
  if (state.lost.has(p)) return "lost";
  if (info && info.contact) return "on";
  return "off";
}

function drawPoints() {
  const s = state.status;
  for (const { id } of labels.points()) {
    const info = s && s.points ? s.points[id] : null;
    const st = pointState(id, info);
    const dot = document.getElementById("pt-" + id);
    if (dot && dot.dataset.state !== st) dot.dataset.state = st;
    const row = $(`.bar-row[data-point="${id}"]`);
    if (!row) continue;
    row.dataset.state = st;
    const force = info ? info.force_n : null;
    const frac = force ? Math.min(1, force / FORCE_FULL_N) : 0;
    $(".fill", row).style.width = (frac * 100).toFixed(1) + "%";
    $(".bar-value", row).textContent = force === null || force === undefined ? "–" : num(force, 1) + " N";
  }
  drawSlot();
}

// -- the alert slot: one reserved place for a fault, old data, a loss or the phase ----------------
function drawSlot() {
  const fault = state.status && state.status.health ? state.status.health.fault : null;
  const stale = stream.connection.state !== "live";
  const lost = state.lostOrder.filter((p) => state.lost.has(p));
  const banner = $("#loss-banner");
  if (lost.length) {
    const [first, ...others] = lost;
    const cue = labels.cue(first, state.status && state.status.exercise);
    const lines = [el("p", { text: `${labels.point(first)} lost${cue ? " — " + cue : ""}` })];
    if (others.length) lines.push(el("p", { class: "also", text: others.map((p) => `${labels.point(p)} lost too`).join(" · ") }));
    banner.replaceChildren(...lines);
  }
  banner.hidden = !lost.length || Boolean(fault);
  $("#fault-banner").hidden = !fault;
  if (fault) $("#fault-banner").textContent = `Sensor fault: ${fault}. Check the dowel's cable; it reconnects by itself.`;
  const note = $("#stale-note");
  note.hidden = !stale || Boolean(fault) || Boolean(lost.length);
  if (stale) {
    const since = stream.connection.lastStatusAt;
    note.textContent = since
      ? `No live data since ${dates.clockSeconds(since)}: the values shown are from then.`
      : "Waiting for the device…";
  }
  const s = state.status;
  const busy = !$("#loss-banner").hidden || !$("#fault-banner").hidden || !note.hidden;
  // between sets of a step logged by hand, the slot offers its one-tap "done"
  $("#plan-do").hidden = busy || !state.byHand;
  $("#phase").hidden = busy || state.byHand;
  $("#phase").textContent = s ? (PHASES[s.in_set ? s.phase : "idle"] || "") : "";
}

// -- counters and the plan ------------------------------------------------------------------------
function planOf(s) {
  const p = s && s.plan;
  if (!p || !p.sets || p.done) return null;
  return p;
}

function drawCounters() {
  const s = state.status;
  if (!s) return;
  const plan = planOf(s);
  // in a set of the plan's exercise: its place in the plan; otherwise the set of today
  const ofPlan = plan && (!s.in_set || s.exercise === plan.exercise);
  const setNo = ofPlan ? plan.set_index : (s.set_number || null);
  $("#set-number").textContent = setNo ? String(setNo) : "–";
  $("#set-of").textContent = ofPlan ? `of ${plan.sets}` : "";
  $("#rep-count").textContent = String(s.in_set ? (s.rep_count || 0) : (state.set ? state.set.reps.length : 0));
  $("#rep-of").textContent = ofPlan && plan.rep_target ? `of ${plan.rep_target}` : "";
  const line = $("#plan-line");
  if (s.plan && s.plan.done) {
    line.textContent = "Today's plan is done.";
  } else if (plan && s.in_set && !ofPlan) {
    line.textContent = `${labels.title(s.exercise)} · set ${s.set_number || "–"} of today · rep ${s.rep_count || 0}`;
  } else if (plan) {
    const reps = s.in_set ? (s.rep_count || 0) : 0;
    line.textContent = (s.in_set ? "" : "Next: ") + `${plan.title || labels.title(plan.exercise)} · set ${plan.set_index} of ${plan.sets}` +
      (s.in_set && plan.rep_target ? ` · rep ${reps} of ${plan.rep_target}` : "");
  } else {
    line.textContent = labels.title(s.exercise);
  }
  const byHand = Boolean(plan && plan.tracked === false && !s.in_set);
  if (byHand !== state.byHand) {
    state.byHand = byHand;
    drawSlot();
  }
  if (byHand) {
    $("#live-plan-done").textContent = `Done ${plan.rep_target}`;
    if (!$("#live-plan-note").dataset.error) $("#live-plan-note").textContent = `${plan.title}: do the set, then tap.`;
  }
}

function applyStatus(s) {
  state.status = s;
  const lostNow = new Set(labels.pointIds().filter((p) => s.points && s.points[p] && s.points[p].lost));
  for (const p of lostNow) if (!state.lostOrder.includes(p)) state.lostOrder.push(p);
  state.lostOrder = state.lostOrder.filter((p) => lostNow.has(p));
  state.lost = lostNow;
  drawLegs(s.exercise);
  drawPitch(s.in_set ? s.pitch_deg : null);
  drawPoints();
  drawCounters();
  $("#exercise-name").textContent = labels.title(s.exercise);
  cues.keepAwake(Boolean(s.in_set));
  // a page opened after a set: its card, until the next set starts
  if (!s.in_set && s.last_set && s.last_set.summary && !state.set && $("#set-card").hidden) {
    showCard(s.last_set.number, s.last_set.exercise, s.last_set.summary);
  }
}

// -- the rep just done, this set's reps, the set card ----------------------------------------------
function drawSetReps() {
  const reps = state.set ? state.set.reps : [];
  const plan = planOf(state.status);
  // hollow dots up to the plan's target, for a set of the plan's exercise
  const target = plan && state.set && state.set.open && state.set.exercise === plan.exercise ? plan.rep_target : 0;
  $("#rep-strip").replaceChildren(...repStripItems(reps, target));
  $("#live-set-title").textContent = state.set && state.set.number && reps.length
    ? `Set ${state.set.number} · ${plural(reps.length, "rep")}` : "This set";
  $("#live-set-empty").hidden = reps.length > 0;
  $("#live-set-reps").replaceChildren(...(reps.length ? [repTable(reps)] : []));
}

function toast(rep) {
  const box = $("#rep-toast");
  const lost = lossWords(rep.losses);
  box.dataset.kind = rep.clean ? "clean" : "lost";
  box.replaceChildren(
    el("strong", { class: "toast-rep", text: `Rep ${rep.rep}` }),
    el("span", { class: "toast-verdict", text: rep.clean ? "✓ clean" : `✗ ${lost}` }),
    el("span", { class: "toast-numbers", text: repNumbers(rep) }));
  clearTimeout(state.toastTimer);
  state.toastTimer = setTimeout(() => { box.dataset.kind = "old"; }, TOAST_MS);
}

function startSet(number, exercise) {
  state.set = { number, exercise, reps: [], open: true };
  $("#set-card").hidden = true;
  view().dataset.card = "hidden";
  $("#rep-toast").dataset.kind = "none";
  $("#rep-toast").replaceChildren();
  drawSetReps();
}

function onSetStarted(e) {
  startSet(e.set_number, e.exercise || (state.status && state.status.exercise));
  $("#rep-count").textContent = "0";
  cues.keepAwake(true);
}

function onRep(rep) {
  if (!state.set || (rep.set_number && state.set.number && rep.set_number !== state.set.number) || !state.set.open) {
    startSet(rep.set_number, state.status && state.status.exercise);
  }
  state.set.reps = state.set.reps.filter((r) => r.rep !== rep.rep);
  state.set.reps.push(rep);
  $("#rep-count").textContent = String(rep.rep);
  toast(rep);
  drawSetReps();
}

function onSetCompleted(e) {
  cues.keepAwake(false);
  const exercise = e.exercise || (state.set && state.set.exercise) || (state.status && state.status.exercise);
  if (state.set) state.set.open = false;
  if (e.discarded) {          // no reps: not a set, nothing to sum up
    state.set = null;
    drawSetReps();
    return;
  }
  const reps = e.reps || (state.set ? state.set.reps : []);
  if (state.set) state.set.reps = reps.map((r, i) => ({ rep: r.rep ?? r.rep_index ?? i + 1, ...r }));
  showCard(e.set_number, exercise, e.summary || summarise(reps));
  drawSetReps();
}

function showCard(number, exercise, summary) {
  const card = $("#set-card");
  card.replaceChildren(...setCardChildren(number, exercise, summary));
  card.hidden = false;
  view().dataset.card = "shown";
}

/** A page opened mid-set takes the set's reps saved so far (from the Session data). */
export function seedOpenSet(number, exercise, reps) {
  if (state.set || !state.status || !state.status.in_set) return;
  state.set = { number, exercise, open: true, reps: reps.map((r, i) => ({ ...r, rep: r.rep ?? r.rep_index ?? i + 1 })) };
  drawSetReps();
}

// -- who is recording --------------------------------------------------------------------------
function drawWho() {
  const box = $(".who");
  const sel = $("#who-select");
  box.hidden = !people.athletes.available || !people.athletes.list.length;
  sel.replaceChildren(...people.athletes.list.map((a) => el("option", {
    value: String(a.id), text: a.name, selected: a.id === people.athletes.current,
  })));
}

async function onWhoChange() {
  const sel = $("#who-select");
  const error = await people.select(Number(sel.value));
  $("#who-note").textContent = error;
  if (error) drawWho();
}

async function planDone() {
  const btn = $("#live-plan-done");
  btn.disabled = true;
  const plan = planOf(state.status);
  const res = await request("POST", "/api/plan/done", { reps: plan ? plan.rep_target : undefined });
  btn.disabled = false;
  const note = $("#live-plan-note");
  note.textContent = res.ok ? "" : errorText(res, { reps: "Reps", plan: "Plan" });
  if (res.ok) delete note.dataset.error; else note.dataset.error = "true";
  if (res.ok) document.dispatchEvent(new CustomEvent("dowel:history-changed", { detail: res.body.set }));
}

export function setup() {
  buildBars();
  $("#live-plan-done").addEventListener("click", planDone);
  const who = $(".who");
  who.append(el("p", { id: "who-note", class: "field-error", role: "alert" }));
  $("#who-select").addEventListener("change", onWhoChange);
  document.addEventListener("dowel:athletes", drawWho);
  stream.on("status", (s) => { if (s.t >= state.lastContactEventT) applyStatus(s); });
  stream.on("plan", (e) => { if (state.status) { state.status.plan = e.plan; drawCounters(); } });
  stream.on("contact_lost", (e) => {
    state.lastContactEventT = Math.max(state.lastContactEventT, e.t);
    if (!state.lost.has(e.point)) cues.lossCue();
    state.lost.add(e.point);
    if (!state.lostOrder.includes(e.point)) state.lostOrder.push(e.point);
    drawPoints();
  });
  stream.on("contact_restored", (e) => {
    state.lastContactEventT = Math.max(state.lastContactEventT, e.t);
    state.lost.delete(e.point);
    drawPoints();
  });
  stream.on("set_started", onSetStarted);
  stream.on("rep_completed", onRep);
  stream.on("set_completed", onSetCompleted);
  stream.on("fault", (e) => {
    if (state.status) state.status.health = { ...(state.status.health || {}), fault: e.active ? e.message : null };
    drawSlot();
  });
  stream.on("connection", ({ state: st }) => {
    view().dataset.stale = st === "live" ? "false" : "true";
    drawSlot();
  });
  drawSlot();
}

export function showStatus(s) { if (!state.status) applyStatus(s); }
