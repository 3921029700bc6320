/* Device view: calibration (a countdown to take hold of the dowel, then the
 * hold, both lengths from the device), the device's settings, this phone's
 * preferences, pairing, and the device's health. */
import { $, $$, duration, el, num, plural } from "./dom.js";
import { errorText, forgetToken, get, request, setToken, token } from "./api.js";
import { labels } from "./labels.js";
import * as stream from "./stream.js";
import * as prefs from "./prefs.js";

const FIELDS = ["sensitivity", "debounce_ms", "min_depth_deg", "buzzer", "rep_chirp", "data_rate"];

// -- calibration -------------------------------------------------------------------------------
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function countdown(seconds, words) {
  const big = $("#calibrate-countdown"), out = $("#calibrate-result");
  for (let left = Math.round(seconds); left > 0; left -= 1) {
    big.textContent = String(left);
    out.textContent = `${words} ${left}`;
    await sleep(1000);
  }
}

async function calibrate() {
  const btn = $("#calibrate-button"), out = $("#calibrate-result"), big = $("#calibrate-countdown");
  const { lead_in_s: leadIn, hold_s: hold } = labels.calibration();
  btn.disabled = true;
  out.className = "note";
  $("#device-view").dataset.calibrating = "lead-in";
  // both hands on the dowel before the device starts listening
  if (leadIn > 0) await countdown(leadIn, "Take hold of the dowel, stand tall…");
  $("#device-view").dataset.calibrating = "hold";
  out.textContent = "Hold still…";
  let timer = null;
  if (hold) {
    let left = Math.round(hold);
    big.textContent = String(left);
    out.textContent = `Hold still… ${left}`;
    timer = setInterval(() => {
      left -= 1;
      big.textContent = left > 0 ? String(left) : "";
      out.textContent = left > 0 ? `Hold still… ${left}` : "Hold still… working it out";
    }, 1000);
  }
  const res = await request("POST", "/api/calibrate");
  clearInterval(timer);
  big.textContent = "";
  btn.disabled = false;
  delete $("#device-view").dataset.calibrating;
  if (res.ok) showCalibrated(res.body.calibration);
  else {
    out.className = "note bad";
    out.textContent = res.status === 409 ? `Calibration failed: ${errorText(res)}` : errorText(res);
  }
}

// Used for this page's own request and for a calibration started elsewhere
// (another phone, the button on the dowel): both say the same thing.
function showCalibrated(cal) {
  const out = $("#calibrate-result");
  out.className = "note ok";
  out.textContent = "Calibrated: " + labels.points()
    .map((p) => `${p.label} ${num(cal.points[p.id].rest_v, 2)} V`).join(", ") + ".";
}

// -- settings ------------------------------------------------------------------------------------
function fieldLabels() {
  const out = {};
  for (const f of FIELDS) {
    const label = $(`label[for="f-${f}"]`);
    if (label) out[f] = label.firstChild.textContent.trim();
  }
  return out;
}

function fillDataRates(settings) {
  const select = $("#f-data_rate");
  const rates = labels.dataRates(settings.chip);
  const list = rates.length ? rates : [settings.data_rate];
  if (Array.from(select.options).map((o) => o.value).join(",") !== list.join(",")) {
    select.replaceChildren(...list.map((r) => el("option", { value: String(r), text: String(r) })));
  }
}

function fillSettings(s, force) {
  const form = $("#settings-form");
  if (!force && form.dataset.dirty === "true") return;   // don't overwrite what is being typed
  fillDataRates(s);
  form.elements.sensitivity.value = s.sensitivity;
  $("#out-sensitivity").textContent = num(s.sensitivity, 2);
  form.elements.debounce_ms.value = s.debounce_ms;
  form.elements.min_depth_deg.value = s.min_depth_deg;
  form.elements.buzzer.checked = Boolean(s.buzzer);
  form.elements.rep_chirp.checked = Boolean(s.rep_chirp);
  form.elements.data_rate.value = String(s.data_rate);
}

function clearErrors() {
  $$("#settings-form .field-error").forEach((e) => { e.textContent = ""; });
  $$("#settings-form .field.invalid").forEach((e) => e.classList.remove("invalid"));
}

async function saveSettings(ev) {
  ev.preventDefault();
  const form = $("#settings-form"), out = $("#settings-result");
  clearErrors();
  out.textContent = "";
  const changes = {
    sensitivity: form.elements.sensitivity.value,
    debounce_ms: form.elements.debounce_ms.value.trim().replace(",", "."),
    min_depth_deg: form.elements.min_depth_deg.value.trim().replace(",", "."),
    buzzer: form.elements.buzzer.checked,
    rep_chirp: form.elements.rep_chirp.checked,
    data_rate: form.elements.data_rate.value,
  };
  const res = await request("PUT", "/api/settings", changes);
  if (res.ok) {
    form.dataset.dirty = "false";
    fillSettings(res.body, true);
    out.className = "note ok";
    out.textContent = "Saved.";
    return;
  }
  const field = FIELDS.includes(res.body.field) ? res.body.field : "settings";
  const err = document.getElementById("err-" + field);
  err.textContent = errorText(res, fieldLabels());
  const box = err.closest(".field");
  if (box) box.classList.add("invalid");
  out.className = "note bad";
  out.textContent = "Not saved: nothing was changed.";
}

// -- this phone -----------------------------------------------------------------------------------
function setupPrefs() {
  const form = $("#prefs-form");
  form.elements.units.value = prefs.get("units");
  for (const name of ["silent", "sound", "reduced_motion"]) form.elements[name].checked = Boolean(prefs.get(name));
  form.addEventListener("change", (ev) => {
    const t = ev.target;
    prefs.set(t.name, t.type === "checkbox" ? t.checked : t.value);
  });
  form.addEventListener("submit", (ev) => ev.preventDefault());
}

function drawPairing() {
  const paired = Boolean(token());
  $("#pairing-state").textContent = paired
    ? "This phone is paired: it can change settings, calibrate and delete."
    : "This phone only watches. To change anything, open the pairing link the device prints, or paste its token here.";
  $("#pairing-forget").hidden = !paired;
}

function setupPairing() {
  $("#pairing-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const value = $("#pair-token").value.trim();
    if (value) setToken(value);
    $("#pair-token").value = "";
  });
  $("#pairing-forget").addEventListener("click", forgetToken);
  document.addEventListener("dowel:paired", drawPairing);
  drawPairing();
}

// -- health ---------------------------------------------------------------------------------------
function renderHealth(h) {
  const set = (key, text, cls) => {
    const dd = $(`#health dd[data-key="${key}"]`);
    dd.textContent = text;
    dd.className = cls || "";
  };
  set("fault", h.fault ? "not answering: " + h.fault : "answering", h.fault ? "bad" : "good");
  set("frame_rate_hz", num(h.frame_rate_hz, 0) + " frames/s");
  set("jitter_ms_p95", num(h.jitter_ms_p95, 1) + " ms");
  set("read_errors", h.read_errors === undefined ? "–" : String(h.read_errors), h.read_errors ? "bad" : "");
  set("uptime_s", duration(h.uptime_s));
  set("history", h.history === "ok" ? "saving" : (h.history || "–"), h.history === "ok" ? "good" : "bad");
  set("source", h.source || "–");
  // the core counts every listener; the terminal and the history writer are two of them
  set("subscribers", h.subscribers === undefined ? "–" : String(h.subscribers));
  // the MQTT link (null when no broker is configured): state, broker, what it dropped
  const m = h.mqtt;
  set("mqtt", !m ? "off" : `${m.state} · ${m.broker}` + (m.dropped ? ` · ${m.dropped} dropped` : "") +
      (m.state !== "connected" && m.last_error ? ` · ${m.last_error}` : ""),
  !m ? "" : m.state === "connected" ? "good" : "bad");
  const rate = stream.updateRate();
  set("updates", rate === null ? "–" : num(rate, 0) + " /s");
}

export async function setup() {
  const { hold_s: hold } = labels.calibration();
  $("#calibrate-step").textContent = hold
    ? `Tap Calibrate, take hold of the dowel, and hold still for ${plural(hold, "second")} when asked.`
    : "Tap Calibrate, take hold of the dowel, and hold still when asked.";
  $("#calibrate-button").addEventListener("click", calibrate);
  const form = $("#settings-form");
  form.addEventListener("input", (ev) => {
    form.dataset.dirty = "true";
    if (ev.target.name === "sensitivity") $("#out-sensitivity").textContent = num(ev.target.value, 2);
  });
  form.addEventListener("submit", saveSettings);
  setupPrefs();
  setupPairing();
  stream.on("status", (s) => renderHealth(s.health || {}));
  stream.on("settings", (e) => fillSettings(e.settings, false));
  stream.on("calibrated", (e) => showCalibrated(e.calibration));
  const res = await get("/api/settings");
  if (res.ok) fillSettings(res.body, true);
  return res.ok ? res.body : null;
}
