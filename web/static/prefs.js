/* Preferences of this phone (not the device's settings): weight unit, silent,
 * a tone on a loss, reduced motion.  Kept in localStorage. */
import { numUpTo } from "./dom.js";

const KEY = "dowel-prefs";
const DEFAULTS = { units: "kg", silent: false, sound: false, reduced_motion: false };
const LB_PER_KG = 2.20462262;

let prefs = { ...DEFAULTS };
try { prefs = { ...DEFAULTS, ...JSON.parse(localStorage.getItem(KEY) || "{}") }; } catch (e) { /* defaults */ }

export const get = (name) => prefs[name];

export function set(name, value) {
  prefs = { ...prefs, [name]: value };
  try { localStorage.setItem(KEY, JSON.stringify(prefs)); } catch (e) { /* this page only */ }
  apply();
  document.dispatchEvent(new CustomEvent("dowel:prefs", { detail: { ...prefs } }));
}

/** Reduced motion: the phone's own setting or this page's switch. */
export function reducedMotion() {
  return prefs.reduced_motion || window.matchMedia("(prefers-reduced-motion: reduce)").matches;
}

export function apply() {
  document.documentElement.dataset.motion = reducedMotion() ? "reduced" : "full";
}
window.matchMedia("(prefers-reduced-motion: reduce)").addEventListener("change", apply);

// -- weights: stored in kg, shown and typed in the phone's unit ----------------------------
export const unit = () => (prefs.units === "lb" ? "lb" : "kg");
export const toKg = (value) => (unit() === "lb" ? value / LB_PER_KG : value);
export const fromKg = (kg) => (unit() === "lb" ? kg * LB_PER_KG : kg);
/** "16 kg" or "35.3 lb" */
export const weightText = (kg) => `${numUpTo(fromKg(kg), 1)} ${unit()}`;
