/* The live connection: one EventSource on /api/stream, handed out to the views.
 *
 * The stream carries the status snapshot (~15/s) and every discrete event
 * (contact_lost, rep_completed, ...).  Views subscribe with on(type, fn).
 * "connection" reports {state, since}: state is live, connecting, offline or
 * stale (open but silent), since the time (ms) the last status arrived.
 * "reconnected" fires when the stream comes back after being down, so views
 * that show stored data reload it (the device may have restarted meanwhile). */

const STALE_AFTER_MS = 2500;          // no status for this long: the values are old
const SILENT_RECONNECT_MS = 30000;    // no message at all: the socket is dead, start over

const handlers = new Map();
export const connection = { state: "connecting", lastStatusAt: 0, lastMessageAt: 0, updates: [], wasDown: false };
let source = null;

export function on(type, fn) {
  if (!handlers.has(type)) handlers.set(type, []);
  handlers.get(type).push(fn);
}

export function emit(type, data) {
  for (const fn of handlers.get(type) || []) {
    try { fn(data); } catch (e) { console.error(`handling ${type}:`, e); }
  }
}

function setState(state) {
  if (connection.state === state) return;
  const before = connection.state;
  connection.state = state;
  if (state !== "live") connection.wasDown = connection.wasDown || before === "live" || before === "stale";
  emit("connection", { state, since: connection.lastStatusAt });
}

// -- events in one shape -------------------------------------------------------------------------
// The set number is per session ("Set 2 of today"); `rep` is the rep's number in its set.
export function setNumber(e) {
  if (e.set_number !== undefined && e.set_number !== null) return e.set_number;
  if (e.set && typeof e.set === "object" && e.set.number !== undefined) return e.set.number;
  return e.set_index;
}

function repEvent(e) {
  const rep = e.rep && typeof e.rep === "object" ? { ...e.rep, rep: e.rep_index } : { ...e };
  rep.type = e.type;
  rep.t = e.t;
  rep.set_number = setNumber(e);
  rep.losses = rep.losses || [];
  return rep;
}

function setEvent(e) {
  const out = { ...e, set_number: setNumber(e) };
  if (!out.reps && e.set && Array.isArray(e.set.reps)) out.reps = e.set.reps;
  return out;
}

function statusEvent(s) {
  return { ...s, set_number: setNumber(s) };
}

const SHAPERS = { rep_completed: repEvent, set_started: setEvent, set_completed: setEvent, status: statusEvent };

export function connect() {
  if (source) source.close();
  const es = new EventSource("/api/stream");
  source = es;
  es.onopen = () => {
    const back = connection.wasDown;
    connection.wasDown = false;
    connection.lastMessageAt = Date.now();
    setState("live");
    if (back) emit("reconnected", {});
  };
  es.onerror = () => {
    if (source !== es) return;
    if (es.readyState === EventSource.CLOSED) {
      // The server refused the stream (e.g. too many phones): try again later.
      setState("offline");
      setTimeout(() => { if (source === es) connect(); }, 3000);
    } else {
      setState("connecting");
    }
  };
  const types = ["status", "contact_lost", "contact_restored", "set_started", "rep_started", "rep_completed",
    "set_completed", "alert", "fault", "settings", "calibrated", "calibration", "plan", "athlete"];
  for (const type of types) {
    es.addEventListener(type, (msg) => {
      connection.lastMessageAt = Date.now();
      let data;
      try { data = JSON.parse(msg.data); } catch (e) { return; }
      if (type === "status") noteStatus();
      emit(type, (SHAPERS[type] || ((x) => x))(data));
    });
  }
}

function noteStatus() {
  const now = Date.now();
  connection.lastStatusAt = now;
  const u = connection.updates;
  u.push(now);
  while (u.length && now - u[0] > 2000) u.shift();
  if (connection.state === "stale") setState("live");
}

/** Status messages per second over the last two seconds, or null. */
export function updateRate() {
  const u = connection.updates;
  const span = u.length > 1 ? (u[u.length - 1] - u[0]) / 1000 : 0;
  return span > 0.5 ? (u.length - 1) / span : null;
}

setInterval(() => {
  const now = Date.now();
  if (connection.state === "live" && connection.lastStatusAt && now - connection.lastStatusAt > STALE_AFTER_MS) {
    setState("stale");
  }
  // A phone that walked out of Wi-Fi keeps a dead socket open; start over.
  if (connection.lastMessageAt && now - connection.lastMessageAt > SILENT_RECONNECT_MS) {
    connection.lastMessageAt = now;
    connection.wasDown = true;
    connect();
  }
}, 500);
