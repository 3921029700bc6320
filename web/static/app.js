/* Smart dowel dashboard: native ES modules, no build step, no libraries.
 *
 *   dom.js      the one DOM builder and the formatters (numbers, plurals, dates in one style)
 *   api.js      the one way to fetch; the pairing token
 *   labels.js   the domain's words, from GET /api/options
 *   stream.js   the live connection (/api/stream), handed out to the views
 *   sets.js     how a rep, a set's reps and a set card are drawn
 *   live.js, session.js, program.js, history.js, device.js   the five views
 *   athletes.js, prefs.js, cues.js   who records, this phone's preferences, wake lock / vibration / tone
 *
 * This file starts them: the words first, then the views, then the stream. */
import { $$ } from "./dom.js";
import { adoptTokenFromAddress, get } from "./api.js";
import { loadLabels } from "./labels.js";
import * as stream from "./stream.js";
import * as prefs from "./prefs.js";
import * as people from "./athletes.js";
import * as live from "./live.js";
import * as session from "./session.js";
import * as program from "./program.js";
import * as history from "./history.js";
import * as device from "./device.js";

const VIEWS = ["live", "session", "program", "history", "device"];

function showView(name) {
  if (!VIEWS.includes(name)) name = "live";
  const current = $$("main > .view").find((v) => !v.hidden);
  if (current && current.dataset.view !== name) window.scrollTo(0, 0);   // a tab opens at its top
  for (const v of $$("main > .view")) v.hidden = v.dataset.view !== name;
  for (const a of $$(".tabs a")) {
    if (a.dataset.view === name) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  document.dispatchEvent(new CustomEvent("dowel:view", { detail: { view: name } }));
}

// The history view and the session view reload when the stream says a rep or set was saved.
function historyChanged(detail) {
  document.dispatchEvent(new CustomEvent("dowel:history-changed", { detail }));
}

const CONNECTION_WORDS = { live: "Live", connecting: "Reconnecting…", offline: "Offline", stale: "No data" };

function showConnection({ state }) {
  const pill = document.getElementById("connection");
  pill.dataset.state = state;
  pill.textContent = CONNECTION_WORDS[state] || state;
}

async function start() {
  adoptTokenFromAddress();
  prefs.apply();
  // the words and the first status together: the page is live one round trip sooner
  const [, status] = await Promise.all([loadLabels(), get("/api/status")]);
  // The stream first, so it is not queued behind the views' first requests; it
  // delivers nothing before this task ends, when every view has subscribed.
  stream.connect();
  live.setup();
  program.setup();
  history.setup();
  session.setup({ openSet: live.seedOpenSet });
  device.setup();
  people.load();
  stream.on("connection", showConnection);
  stream.on("rep_completed", historyChanged);
  stream.on("set_completed", historyChanged);
  window.addEventListener("hashchange", () => showView(location.hash.slice(1)));
  showView(location.hash.slice(1) || "live");
  if (status.ok) live.showStatus({ ...status.body, set_number: stream.setNumber(status.body) });
  document.documentElement.dataset.ready = "true";
}

start();
