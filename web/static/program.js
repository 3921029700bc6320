/* Program view: the article's warm-up.  Each exercise with how to do it (the
 * device's words, from /api/options), the one the dowel is tagging now, and for
 * the kettlebell ones a form to log a set by hand. */
import { $, $$, el, parseDecimal, plural } from "./dom.js";
import { errorText, request } from "./api.js";
import { labels } from "./labels.js";
import * as stream from "./stream.js";
import * as prefs from "./prefs.js";

const FIELD_LABELS = { reps: "Reps", weight_kg: "Weight", exercise: "Exercise", order: "Order", plan: "Plan" };
const STATE_WORDS = { current: "now", next: "next", done: "done", skipped: "skipped" };

// -- the plan of the day ---------------------------------------------------------------------------
let planShown = "";
let lastPlan = null;

function planNote(text, ok) {
  const note = $("#plan-note");
  note.className = ok ? "note ok" : "note bad";
  note.textContent = text;
}

async function planChange(path, body) {
  const res = await request("POST", `/api/plan/${path}`, body);
  if (!res.ok) { planNote(errorText(res, FIELD_LABELS), false); return null; }
  planNote("", true);
  const plan = res.body.plan || res.body;
  drawPlan(plan);
  return res.body;
}

function move(plan, i, by) {
  const order = plan.steps.map((s) => s.exercise);
  const [step] = order.splice(i, 1);
  order.splice(i + by, 0, step);
  return planChange("order", { order });
}

function doneButton(step) {
  const b = el("button", { type: "button", class: "primary plan-done" }, `Done ${step.reps}`);
  b.addEventListener("click", async () => {
    b.disabled = true;
    const w = $("#plan-weight") ? $("#plan-weight").value.trim() : "";
    const body = { reps: step.reps };
    if (w) {
      const kg = parseDecimal(w);
      if (!Number.isFinite(kg)) { planNote("Weight: type a number, like 16 or 22,5.", false); b.disabled = false; return; }
      body.weight_kg = Math.round(prefs.toKg(kg) * 1000) / 1000;
    }
    const res = await planChange("done", body);
    b.disabled = false;
    if (res) {
      planNote(`Logged ${plural(step.reps, "rep")} of ${step.title}.`, true);
      document.dispatchEvent(new CustomEvent("dowel:history-changed", { detail: res.set }));
    }
  });
  return b;
}

function stepItem(plan, step, i) {
  const current = step.state === "current";
  const li = el("li", { class: `plan-step ${step.state}`, "data-exercise": step.exercise, "data-state": step.state },
    el("div", { class: "plan-step-head" },
      el("span", { class: "plan-step-title", text: step.title || labels.title(step.exercise) }),
      el("span", { class: `tag state-${step.state}`, text: STATE_WORDS[step.state] || step.state })),
    el("p", { class: "plan-step-meta", text: `${step.sets} × ${step.reps} · ${step.sets_done} of ${plural(step.sets, "set")} done · ` +
      (step.tracked ? "the dowel counts it" : "log by hand") }));
  const buttons = el("div", { class: "plan-buttons" });
  if (current && !step.tracked) {
    buttons.append(el("div", { class: "field plan-weight-field" },
      el("label", { for: "plan-weight", text: `Weight (${prefs.unit()})` }),
      el("input", { id: "plan-weight", type: "text", inputmode: "decimal", placeholder: "optional", autocomplete: "off" })),
    doneButton(step));
  }
  if (current) {
    const skip = el("button", { type: "button", class: "plan-skip" }, "Skip");
    skip.addEventListener("click", () => planChange("skip", {}));
    buttons.append(skip);
  }
  if (step.state !== "done" && step.state !== "skipped") {
    const up = el("button", { type: "button", class: "plan-up", "aria-label": `Move ${step.title} earlier`, disabled: i === 0 }, "↑");
    up.addEventListener("click", () => move(plan, i, -1));
    const down = el("button", { type: "button", class: "plan-down", "aria-label": `Move ${step.title} later`,
      disabled: i === plan.steps.length - 1 }, "↓");
    down.addEventListener("click", () => move(plan, i, 1));
    buttons.append(up, down);
  }
  li.append(buttons);
  return li;
}

export function drawPlan(plan) {
  if (!plan || !Array.isArray(plan.steps)) return;
  const key = JSON.stringify(plan) + prefs.unit();
  if (key === planShown) return;
  // keep what is being typed in the weight field across a redraw
  const typed = $("#plan-weight") ? $("#plan-weight").value : "";
  planShown = key;
  lastPlan = plan;
  const current = plan.steps.find((s) => s.state === "current");
  const headline = plan.done ? "Today's plan is done. Well hinged."
    : current ? `Now: ${current.title} · set ${plan.set_index} of ${plan.sets}` : "";
  $("#program-plan").replaceChildren(
    el("div", { class: "card plan" },
      el("h3", { text: "Today's plan" }),
      el("p", { class: "plan-headline", id: "plan-headline", text: headline }),
      el("ol", { class: "plan-steps", id: "plan-steps" }, ...plan.steps.map((s, i) => stepItem(plan, s, i))),
      el("p", { id: "plan-note", class: "note", role: "status" })));
  if ($("#plan-weight")) $("#plan-weight").value = typed;
}

function exerciseCard(x) {
  const card = el("div", { class: "card exercise", "data-exercise": x.id, id: "ex-" + x.id },
    el("h3", {}, x.title, el("span", { class: "tag" + (x.tracked ? " ok" : ""),
      text: x.tracked ? "dowel tracks it" : "log by hand" })));
  if (x.text) card.append(el("p", { text: x.text }));
  const pick = el("button", { type: "button", class: "pick" }, "Do this exercise");
  pick.addEventListener("click", () => choose(x.id, card));
  card.append(pick);
  if (!x.tracked) card.append(manualForm(x.id));
  card.append(el("p", { class: "note pick-result", role: "status" }));
  return card;
}

let active = null;
export function markActive(id) {
  if (id === active) return;
  active = id;
  for (const card of $$("#program-list .card")) {
    const active = card.dataset.exercise === id;
    card.classList.toggle("active", active);
    const b = $(".pick", card);
    b.textContent = active ? "Current exercise" : "Do this exercise";
    b.disabled = active;
  }
}

async function choose(id, card) {
  const note = $(".pick-result", card);
  const res = await request("PUT", "/api/settings", { exercise: id });
  if (res.ok) {
    markActive(id);
    note.className = "note ok pick-result";
    note.textContent = labels.exercise(id).tracked ? "Next sets are tagged with this exercise."
      : "Selected. Log each set below when you finish it.";
  } else {
    note.className = "note bad pick-result";
    note.textContent = errorText(res, FIELD_LABELS);
  }
}

/** Log a kettlebell set: reps, and the weight in the phone's unit (a decimal comma is fine). */
export function manualForm(exercise, { reps = 10, compact = false } = {}) {
  const repsId = `m-reps-${exercise}${compact ? "-plan" : ""}`, kgId = `m-kg-${exercise}${compact ? "-plan" : ""}`;
  const weightLabel = el("label", { for: kgId, text: `Weight (${prefs.unit()})` });
  const form = el("form", { class: "manual", novalidate: true },
    el("div", { class: "row" },
      el("div", { class: "field" }, el("label", { for: repsId, text: "Reps" }),
        el("input", { id: repsId, name: "reps", type: "text", inputmode: "numeric", value: String(reps), autocomplete: "off" }),
        el("p", { class: "field-error", "data-field": "reps", role: "alert" })),
      el("div", { class: "field" }, weightLabel,
        el("input", { id: kgId, name: "weight", type: "text", inputmode: "decimal", placeholder: "optional", autocomplete: "off" }),
        el("p", { class: "field-error", "data-field": "weight_kg", role: "alert" }))),
    el("p", { class: "field-error", "data-field": "form", role: "alert" }),
    el("button", { type: "submit" }, "Log set"));
  const note = el("p", { class: "note", role: "status" });
  form.append(note);
  document.addEventListener("dowel:prefs", () => { weightLabel.textContent = `Weight (${prefs.unit()})`; });
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    $$(".field-error", form).forEach((e) => { e.textContent = ""; });
    note.textContent = "";
    const repsText = form.elements.reps.value.trim();
    const weightText = form.elements.weight.value.trim();
    const body = { exercise, reps: /^\d+$/.test(repsText) ? Number(repsText) : repsText };
    if (weightText) {
      const w = parseDecimal(weightText);
      if (!Number.isFinite(w)) {
        $('.field-error[data-field="weight_kg"]', form).textContent = "Weight: type a number, like 16 or 22,5.";
        return;
      }
      body.weight_kg = Math.round(prefs.toKg(w) * 1000) / 1000;
    }
    const res = await request("POST", "/api/manual-sets", body);
    if (res.ok) {
      note.className = "note ok";
      note.textContent = `Logged ${plural(body.reps, "rep")}.`;
      document.dispatchEvent(new CustomEvent("dowel:history-changed", { detail: res.body }));
      form.dispatchEvent(new CustomEvent("dowel:logged", { bubbles: true, detail: res.body }));
    } else {
      const target = $(`.field-error[data-field="${res.body.field}"]`, form) || $('.field-error[data-field="form"]', form);
      target.textContent = res.status === 404 ? "History is off on this device: nothing was logged."
        : errorText(res, FIELD_LABELS);
    }
  });
  return form;
}

export function setup() {
  $("#program-list").replaceChildren(...labels.exercises().map(exerciseCard));
  stream.on("status", (s) => { markActive(s.exercise); if (s.plan) drawPlan(s.plan); });
  stream.on("plan", (e) => drawPlan(e.plan || e));
  stream.on("settings", (e) => markActive(e.settings.exercise));
  document.addEventListener("dowel:prefs", () => { if (lastPlan) drawPlan(lastPlan); });
}
