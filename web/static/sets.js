/* How a rep and a set are drawn, once, for Live, Session and History. */
import { el, listWords, num, plural } from "./dom.js";
import { labels } from "./labels.js";

/** The rep's number in its set, whatever the source (live event or store). */
export const repNumber = (r, i) => r.rep ?? r.rep_index ?? i + 1;

export function lossWords(losses) {
  if (!losses || !losses.length) return "";
  const points = [...new Set(losses.map((l) => l.point))];
  return "lost " + listWords(points.map((p) => labels.point(p).toLowerCase()));
}

/** "48° · down 1.2 s · up 1.0 s" */
export function repNumbers(r) {
  return `${num(r.depth_deg, 0)}° · down ${num(r.down_s, 1)} s · up ${num(r.up_s, 1)} s`;
}

/** The table of a set's reps: #, depth, down/up, what was lost. */
export function repTable(reps) {
  const head = el("thead", {}, el("tr", {},
    el("th", { scope: "col", text: "Rep" }), el("th", { scope: "col", text: "Depth" }),
    el("th", { scope: "col", text: "Down / up" }), el("th", { scope: "col", text: "Contact" })));
  const body = el("tbody");
  reps.forEach((r, i) => {
    const losses = r.losses || [];
    body.append(el("tr", { class: r.clean ? "clean" : "dirty" },
      el("td", { text: String(repNumber(r, i)) }),
      el("td", { text: `${num(r.depth_deg, 0)}°` }),
      el("td", { text: `${num(r.down_s, 1)} / ${num(r.up_s, 1)} s` }),
      el("td", { class: r.clean ? "mark-clean" : "mark-dirty",
        text: losses.length
          ? losses.map((l) => `${labels.point(l.point)} ${num(l.duration_s, 1)} s`).join(", ")
          : "✓ clean" })));
  });
  return el("table", { class: "reps" }, head, body);
}

/** One dot per rep (clean or lost), then hollow ones up to the target. */
export function repStripItems(reps, target) {
  const items = reps.map((r, i) => el("li", {
    class: r.clean ? "dot clean" : "dot lost",
    title: `Rep ${repNumber(r, i)}: ${r.clean ? "clean" : lossWords(r.losses)}`,
    "aria-label": `Rep ${repNumber(r, i)}: ${r.clean ? "clean" : lossWords(r.losses)}`,
  }));
  for (let i = reps.length; i < (target || 0); i += 1) {
    items.push(el("li", { class: "dot todo", "aria-label": `Rep ${i + 1}: to do` }));
  }
  return items;
}

/** A set's summary from its reps, in the shape of set_completed's `summary`. */
export function summarise(reps) {
  const depths = reps.map((r) => r.depth_deg).filter(Number.isFinite);
  const mean = (xs) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : null);
  const clean = reps.filter((r) => r.clean).length;
  const byPoint = {};
  for (const p of labels.pointIds()) byPoint[p] = 0;
  for (const r of reps) for (const l of r.losses || []) byPoint[l.point] = (byPoint[l.point] || 0) + 1;
  return {
    reps: reps.length, clean_reps: clean, clean_pct: reps.length ? (100 * clean) / reps.length : null,
    depth_max_deg: depths.length ? Math.max(...depths) : null, depth_mean_deg: mean(depths),
    down_mean_s: mean(reps.map((r) => r.down_s).filter(Number.isFinite)),
    up_mean_s: mean(reps.map((r) => r.up_s).filter(Number.isFinite)),
    losses_by_point: byPoint, cue: null,
  };
}

/** The card after a set: reps, clean %, depth, tempo, where contact went, the cue for next time. */
export function setCardChildren(setNumber, exercise, summary) {
  const s = summary;
  const stat = (label, value, id) => el("div", { class: "stat" },
    el("span", { class: "stat-value", id, text: value }), el("span", { class: "stat-label", text: label }));
  const lost = Object.entries(s.losses_by_point || {}).filter(([, n]) => n > 0).sort((a, b) => b[1] - a[1]);
  const lostText = lost.length
    ? "Contact lost: " + lost.map(([p, n]) => `${labels.point(p).toLowerCase()} ${n}×`).join(", ")
    : "All three points kept on every rep.";
  const children = [
    el("h2", { id: "set-card-title", text: `${setNumber ? `Set ${setNumber} of today` : "Set"} done · ${labels.title(exercise)}` }),
    el("div", { class: "stats" },
      stat(s.reps === 1 ? "rep" : "reps", String(s.reps), "card-reps"),
      stat("clean", s.clean_pct === null || s.clean_pct === undefined ? "–" : `${num(s.clean_pct, 0)}\u00a0%`, "card-clean"),
      stat("deepest", `${num(s.depth_max_deg, 0)}°`, "card-depth-max"),
      stat("mean depth", `${num(s.depth_mean_deg, 0)}°`, "card-depth-mean")),
    el("p", { class: "tempo", id: "card-tempo", text: `Tempo: ${num(s.down_mean_s, 1)} s down · ${num(s.up_mean_s, 1)} s up` }),
    el("p", { class: lost.length ? "lost" : "clean", id: "card-losses", text: lostText }),
  ];
  if (s.cue && s.cue.text) {
    children.push(el("p", { class: "cue", id: "card-cue" },
      el("strong", { text: "Next set: " }), s.cue.text));
  }
  children.push(el("p", { class: "hint", text: `${plural(s.clean_reps ?? 0, "clean rep")} of ${s.reps}. This card stays until the next set starts.` }));
  return children;
}
