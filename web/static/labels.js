/* The domain's words, as the device says them in GET /api/options: the contact
 * points, the exercises (title, whether the dowel tracks them, how to do them),
 * the coaching cue for each point, data rates, calibration timing.  The page
 * keeps no copy of its own; a word the device did not send is shown as its id
 * made readable, never replaced by a second table here. */
import { get } from "./api.js";

const vocabulary = {
  points: [],          // [{id, label, where}]
  exercises: [],       // [{id, title, tracked, text, kneeling, cues: {point: cue}}]
  warmup: null,        // {sets, reps}
  dataRates: {},       // {chip: [rates]}
  gains: [],
  calibration: { lead_in_s: 0, hold_s: null },   // until the device says
  units: [],
  raw: {},
};

const readable = (id) => {
  const s = String(id).replace(/_/g, " ");
  return s ? s[0].toUpperCase() + s.slice(1) : s;
};

function normalisePoint(p) {
  if (typeof p === "string") return { id: p, label: readable(p), where: p };
  return { ...p, label: p.label || readable(p.id) };
}

function normaliseExercise(x) {
  if (typeof x === "string") x = { id: x };
  return {
    ...x,
    title: x.title || readable(x.id),
    tracked: x.tracked !== false,
    text: x.instructions || "",
    kneeling: x.stance === "kneeling",
    cues: x.cues || {},
  };
}

/** Fetch the vocabulary once at start; the page renders with it. */
export async function loadLabels() {
  const res = await get("/api/options");
  if (!res.ok) return false;
  const o = res.body;
  vocabulary.raw = o;
  vocabulary.points = (o.points || []).map(normalisePoint);
  vocabulary.exercises = (o.exercises || []).map(normaliseExercise);
  vocabulary.dataRates = o.data_rates || {};
  vocabulary.gains = o.gains || [];
  vocabulary.units = o.units || [];
  vocabulary.warmup = o.warmup || null;
  if (o.calibration) vocabulary.calibration = { ...vocabulary.calibration, ...o.calibration };
  return true;
}

export const labels = {
  points: () => vocabulary.points,
  pointIds: () => vocabulary.points.map((p) => p.id),
  point: (id) => (vocabulary.points.find((p) => p.id === id) || normalisePoint(String(id))).label,
  /** What to do when `point` comes off, in the words for `exercise`. */
  cue: (point, exercise) => labels.exercise(exercise).cues[point] || "",
  exercises: () => vocabulary.exercises,
  exercise: (id) => vocabulary.exercises.find((x) => x.id === id) || normaliseExercise(String(id || "")),
  title: (id) => (id ? labels.exercise(id).title : "–"),
  dataRates: (chip) => vocabulary.dataRates[chip] || [],
  calibration: () => vocabulary.calibration,
  warmup: () => vocabulary.warmup,
  raw: () => vocabulary.raw,
};
