/* Who is recording: the athletes the device knows and the one new sets are
 * saved for.  Live shows and switches it; History adds athletes and browses
 * anyone's sessions (browsing does not switch who is recording). */
import { errorText, get, request } from "./api.js";

export const athletes = { list: [], current: null, available: false };

function changed() {
  document.dispatchEvent(new CustomEvent("dowel:athletes", { detail: { ...athletes } }));
}

export async function load() {
  const res = await get("/api/athletes");
  athletes.available = res.ok;
  if (res.ok) {
    athletes.list = res.body.athletes || [];
    athletes.current = res.body.current;
  }
  changed();
  return res.ok;
}

export const name = (id) => (athletes.list.find((a) => a.id === id) || {}).name || "";

/** Record new sets for this athlete. Returns an error in words, or "". */
export async function select(id) {
  const res = await request("PUT", "/api/athletes/current", { id });
  if (!res.ok) return errorText(res, { id: "Athlete" });
  athletes.current = id;
  changed();
  return "";
}

/** Add an athlete; recording switches to them only when asked. */
export async function add(newName, makeCurrent) {
  const res = await request("POST", "/api/athletes", { name: newName, current: Boolean(makeCurrent) });
  if (!res.ok) return { error: errorText(res, { name: "Name" }) };
  await load();
  return { athlete: res.body };
}
