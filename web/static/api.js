/* The page's one way to talk to the device.
 *
 * Pairing: the device prints its address with #token=<token> after it.  Opening it
 * moves the token from the address into localStorage ("dowel-token") and off
 * the address bar; every request that changes something sends it in the
 * X-Dowel-Token header.  Watching (status, stream, history pages) needs none. */

const TOKEN_KEY = "dowel-token";

/** Take a token from the address (#token=... or #history&token=...) and keep it. */
export function adoptTokenFromAddress() {
  const hash = location.hash.slice(1);
  if (!hash.includes("token=")) return;
  const parts = hash.split("&");
  const token = new URLSearchParams(parts.filter((p) => p.startsWith("token=")).join("&")).get("token");
  if (token) setToken(token);
  const rest = parts.filter((p) => !p.startsWith("token=")).join("&");
  // replaceState: the token never stays in the address bar or the browser history
  history.replaceState(null, "", location.pathname + location.search + (rest ? "#" + rest : ""));
}

export function token() {
  try { return localStorage.getItem(TOKEN_KEY) || ""; } catch (e) { return ""; }
}
export function setToken(value) {
  try { localStorage.setItem(TOKEN_KEY, value); } catch (e) { /* private mode: this page only */ }
  document.dispatchEvent(new CustomEvent("dowel:paired", { detail: { paired: Boolean(value) } }));
}
export function forgetToken() {
  try { localStorage.removeItem(TOKEN_KEY); } catch (e) { /* nothing kept */ }
  document.dispatchEvent(new CustomEvent("dowel:paired", { detail: { paired: false } }));
}

/**
 * request("PUT", "/api/settings", {debounce_ms: 25}) -> {ok, status, body}.
 * Never throws: a device that does not answer is {ok: false, status: 0}.
 * `opts.token` overrides the kept token (the delete dialog's typed one).
 */
export async function request(method, url, body, opts = {}) {
  const headers = { Accept: "application/json" };
  const init = { method, headers };
  if (method !== "GET") {
    const t = opts.token !== undefined ? opts.token : token();
    if (t) headers["X-Dowel-Token"] = t;
  }
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let r;
  try {
    r = await fetch(url, init);
  } catch (e) {
    return { ok: false, status: 0, body: { error: "the device did not answer: check the Wi-Fi", field: null } };
  }
  let parsed;
  try { parsed = await r.json(); } catch (e) { parsed = { error: `the device answered ${r.status} without details` }; }
  if ((r.status === 401 || r.status === 403) && method !== "GET") {
    document.dispatchEvent(new CustomEvent("dowel:unpaired", { detail: { url } }));
  }
  return { ok: r.ok, status: r.status, body: parsed || {} };
}

export const get = (url) => request("GET", url);

const capital = (s) => (s ? s[0].toUpperCase() + s.slice(1) : s);

/**
 * An error in words for a person: "Weight: must be between 0 and 500", not
 * "weight_kg: ...".  `labels` maps the server's field names to the labels the
 * form shows.
 */
export function errorText(res, labels = {}) {
  if (res.status === 0) return "The device did not answer. Check the Wi-Fi.";
  if (res.status === 401 || res.status === 403) {
    return token()
      ? "The device did not accept this phone's token. Open the pairing link again (run: dowel token)."
      : "This phone is not paired with the dowel. Open the pairing link the device prints (or run: dowel token).";
  }
  const body = res.body || {};
  let message = String(body.error || `the device answered ${res.status}`);
  const label = body.field && labels[body.field];
  // the device's message may start with the field's own name: say the label instead
  if (body.field && message.startsWith(body.field + ": ")) message = message.slice(body.field.length + 2);
  return label ? `${label}: ${message}` : capital(message);
}

/**
 * Save what `url` answers as a file.  The export is personal data: it needs the
 * token, which a plain link cannot send, so fetch it and hand the browser a blob.
 * Returns an error in words, or "".
 */
export async function download(url, fallbackName) {
  let r;
  try {
    r = await fetch(url, { headers: token() ? { "X-Dowel-Token": token() } : {} });
  } catch (e) {
    return errorText({ status: 0 });
  }
  if (!r.ok) {
    let body = {};
    try { body = await r.json(); } catch (e) { /* no details */ }
    return errorText({ status: r.status, body });
  }
  const name = /filename="([^"]+)"/.exec(r.headers.get("Content-Disposition") || "");
  const blob = await r.blob();
  const a = document.createElement("a");
  a.href = URL.createObjectURL(blob);
  a.download = name ? name[1] : fallbackName;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 10000);
  return "";
}
