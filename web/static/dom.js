/* The page's one DOM builder and its one set of formatters.
 *
 * Every string that came from the device or a user goes through textContent
 * (the `text` attribute of el()), never innerHTML. */

const SVG_NS = "http" + "://www.w3.org/2000/svg";

export const $ = (sel, root = document) => root.querySelector(sel);
export const $$ = (sel, root = document) => Array.from(root.querySelectorAll(sel));

function build(node, attrs, children) {
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "text") node.textContent = v;
    else if (k === "class") node.setAttribute("class", v);
    else if (k.startsWith("on") && typeof v === "function") node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children) if (c !== null && c !== undefined && c !== false) node.append(c);
  return node;
}

/** el("p", {class: "note", text: "Saved."}, child, ...) */
export function el(tag, attrs, ...children) {
  return build(document.createElement(tag), attrs, children);
}

/** The same for SVG elements. */
export function svg(tag, attrs, ...children) {
  return build(document.createElementNS(SVG_NS, tag), attrs, children);
}

const numberFormats = new Map();
/** A number in the phone's locale with a fixed number of decimals; "–" when unknown. */
export function num(x, digits = 0) {
  if (x === null || x === undefined || x === "" || !Number.isFinite(Number(x))) return "–";
  let f = numberFormats.get(digits);
  if (!f) {
    f = new Intl.NumberFormat(undefined, { minimumFractionDigits: digits, maximumFractionDigits: digits });
    numberFormats.set(digits, f);
  }
  return f.format(Number(x));
}

/** Up to `digits` decimals, none when whole: 16 -> "16", 22.5 -> "22.5". */
export function numUpTo(x, digits = 1) {
  if (x === null || x === undefined || !Number.isFinite(Number(x))) return "–";
  const key = "upto" + digits;
  let f = numberFormats.get(key);
  if (!f) {
    f = new Intl.NumberFormat(undefined, { maximumFractionDigits: digits });
    numberFormats.set(key, f);
  }
  return f.format(Number(x));
}

const pluralRules = new Intl.PluralRules("en");
/** "1 rep", "2 reps", "0 reps"; `many` defaults to one + "s". */
export function plural(n, one, many) {
  const word = pluralRules.select(Number(n)) === "one" ? one : (many || one + "s");
  return `${n} ${word}`;
}

/** "head", "upper back and sacrum": a list in words. */
export function listWords(words) {
  if (words.length <= 1) return words.join("");
  return words.slice(0, -1).join(", ") + " and " + words[words.length - 1];
}

/** A decimal typed on a phone: "22,5" and "22.5" are both 22.5; NaN when it is not a number. */
export function parseDecimal(text) {
  const s = String(text).trim().replace(",", ".");
  if (!/^[+-]?(\d+\.?\d*|\.\d+)$/.test(s)) return NaN;
  return Number(s);
}

// -- dates: one style everywhere, in the phone's locale ------------------------------
const DAY = new Intl.DateTimeFormat(undefined, { weekday: "short", day: "numeric", month: "short" });
const SHORT_DAY = new Intl.DateTimeFormat(undefined, { day: "numeric", month: "short" });
const CLOCK = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });
const CLOCK_S = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit", second: "2-digit" });

/** "2026-11-20" as a local date (not UTC midnight). */
export function localDate(day) {
  const [y, m, d] = day.split("-").map(Number);
  return new Date(y, m - 1, d);
}
export function isoDay(date) {
  return `${date.getFullYear()}-${String(date.getMonth() + 1).padStart(2, "0")}-${String(date.getDate()).padStart(2, "0")}`;
}
export const dates = {
  /** "Fri, 20 Nov" (locale order) */
  day: (day) => DAY.format(typeof day === "string" ? localDate(day) : day),
  /** "20 Nov", for chart axes */
  shortDay: (day) => SHORT_DAY.format(typeof day === "string" ? localDate(day) : day),
  /** Unix seconds -> "14:05" */
  clock: (wall) => (wall ? CLOCK.format(new Date(wall * 1000)) : ""),
  /** Unix milliseconds -> "14:05:09" */
  clockSeconds: (ms) => CLOCK_S.format(new Date(ms)),
  today: () => isoDay(new Date()),
};

/** 3725 -> "1 h 2 min 5 s" */
export function duration(s) {
  if (s === undefined || s === null || !Number.isFinite(s)) return "–";
  s = Math.floor(s);
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
  return (h ? h + " h " : "") + (h || m ? m + " min " : "") + sec + " s";
}
