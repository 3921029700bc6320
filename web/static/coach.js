/* The coach's room: one tile per dowel on the broker, kept live over one
 * EventSource on /api/stream (a "room" snapshot, then "dowel", "loss",
 * "restored" and "broker" events).  It keeps no history: a tile opens that
 * dowel's own dashboard. */
(function () {
  "use strict";
  const POINTS = ["head", "upper_back", "sacrum"];
  const LABELS = { head: "head", upper_back: "upper back", sacrum: "sacrum" };
  const SILENT_RECONNECT_MS = 30000;   // the server sends a heartbeat every 10 s
  const $ = (sel, root) => (root || document).querySelector(sel);
  const dowels = new Map();             // id -> tile state from the server
  const tiles = new Map();              // id -> element
  let source = null;
  let lastMessageAt = 0;
  // Twenty dowels send ~100 updates a second: tiles are drawn once per animation
  // frame with their newest state, and only what changed is touched.
  const pending = new Set();
  let frameAsked = false;

  function setText(el, text) { if (el.textContent !== text) el.textContent = text; }
  function setData(el, key, value) { if (el.dataset[key] !== value) el.dataset[key] = value; }

  function setConnection(st, text) {
    const c = $("#connection");
    c.dataset.state = st;
    c.textContent = text;
  }

  // Columns and rows that make the tiles as large as the screen allows.
  function layout() {
    const grid = $("#grid");
    const n = Math.max(1, tiles.size);
    const w = grid.clientWidth || window.innerWidth, h = grid.clientHeight || window.innerHeight;
    const want = 1.35;                  // a tile reads best a bit wider than tall
    let best = { cols: 1, rows: n, score: 0 };
    for (let cols = 1; cols <= n; cols++) {
      const rows = Math.ceil(n / cols);
      const tw = w / cols, th = h / rows;
      const score = Math.min(tw, th * want);
      if (score > best.score) best = { cols, rows, score };
    }
    grid.style.setProperty("--cols", best.cols);
    grid.style.setProperty("--rows", best.rows);
  }

  function tileFor(id) {
    let el = tiles.get(id);
    if (el) return el;
    el = $("#tile-template").content.firstElementChild.cloneNode(true);
    el.dataset.id = id;
    tiles.set(id, el);
    const grid = $("#grid");
    // Sorted by name, so a dowel keeps its place on the screen.
    const name = (d) => String((d && d.name) || "").toLowerCase();
    const mine = dowels.get(id);
    const after = [...grid.children].find((other) => {
      const o = dowels.get(other.dataset.id);
      return name(o) > name(mine) || (name(o) === name(mine) && other.dataset.id > id);
    });
    grid.insertBefore(el, after || null);
    $("#empty").hidden = true;
    layout();
    return el;
  }

  function draw(d) {
    const el = tileFor(d.id);
    const lost = new Set(d.lost_points || []);
    setText($(".tile-alert", el), lost.size ? [...lost].map((p) => LABELS[p] || p).join(" + ") + " lost" :
      (d.problem ? d.fault || "" : ""));
    for (const p of POINTS) {
      const point = (d.points && d.points[p]) || {};
      setData($('.dot[data-point="' + p + '"]', el), "state", lost.has(p) ? "lost" : point.contact ? "on" : "off");
    }
    setData(el, "online", d.online ? "true" : "false");
    setData(el, "alert", d.online && (lost.size || d.alert) ? "on" : "off");
    setData(el, "problem", d.problem ? "on" : "off");
    setData(el, "inSet", d.in_set ? "true" : "false");
    if (d.dashboard_url) { if (el.getAttribute("href") !== d.dashboard_url) el.href = d.dashboard_url; }
    else el.removeAttribute("href");
    setText($(".tile-name", el), d.name || d.id);
    setText($(".tile-state", el), !d.online ? "offline" : d.problem ? "problem" :
      d.in_set ? (d.set_number ? "set " + d.set_number : "in a set") : "idle");
    setText($(".tile-athlete", el), d.athlete || "–");
    setText($(".tile-exercise", el), d.exercise_title || (d.exercise || "").replace(/_/g, " "));
    const target = d.rep_target || 10;
    setText($(".tile-rep", el), d.in_set ? "Rep " + (d.rep || 0) + " of " + target : "–");
    const pct = d.last_set_clean_pct;
    setText($(".tile-last", el), pct === null || pct === undefined ? "no set yet" :
      "last set " + Math.round(pct) + "% clean");
    const title = (d.name || d.id) + (d.dashboard_url ? " — open its dashboard" : "");
    if (el.title !== title) el.title = title;
  }

  function summary() {
    let online = 0, inSet = 0;
    for (const d of dowels.values()) { if (d.online) online++; if (d.online && d.in_set) inSet++; }
    setText($("#summary"), dowels.size ? online + " of " + dowels.size + " online, " + inSet + " in a set" : "");
  }

  function put(d) {
    dowels.set(d.id, d);
    pending.add(d.id);
    if (!frameAsked) {
      frameAsked = true;
      requestAnimationFrame(flush);
    }
  }

  function flush() {
    frameAsked = false;
    for (const id of pending) draw(dowels.get(id));
    pending.clear();
    summary();
  }

  function onBroker(b) {
    if (!b.connected) setConnection("offline", "Broker offline");
    else if ($("#connection").dataset.state !== "live") setConnection("live", "Live");
  }

  function connect() {
    if (source) source.close();
    const es = new EventSource("/api/stream");
    source = es;
    es.onopen = () => setConnection("live", "Live");
    es.onerror = () => {
      if (es.readyState === EventSource.CLOSED) {
        setConnection("offline", "Offline");
        setTimeout(() => { if (source === es) connect(); }, 3000);
      } else {
        setConnection("connecting", "Reconnecting…");
      }
    };
    const on = (type, fn) => es.addEventListener(type, (msg) => {
      lastMessageAt = Date.now();
      let data;
      try { data = JSON.parse(msg.data); } catch (e) { return; }
      fn(data);
    });
    on("room", (r) => {
      for (const d of r.dowels) put(d);
      onBroker(r.broker);
    });
    on("dowel", (e) => put(e.dowel));
    on("loss", (e) => {
      const d = dowels.get(e.id) || { id: e.id, online: true };
      d.lost_points = [...new Set([...(d.lost_points || []), e.point])];
      d.alert = true;
      put(d);
    });
    on("restored", (e) => {
      const d = dowels.get(e.id);
      if (!d) return;
      d.lost_points = (d.lost_points || []).filter((p) => p !== e.point);
      d.alert = d.lost_points.length > 0;
      put(d);
    });
    on("broker", onBroker);
  }

  window.addEventListener("resize", layout);
  setInterval(() => {
    if (lastMessageAt && Date.now() - lastMessageAt > SILENT_RECONNECT_MS) {
      lastMessageAt = Date.now();
      connect();
    }
  }, 1000);
  connect();
})();
