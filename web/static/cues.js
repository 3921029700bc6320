/* Cues that reach an athlete who is not looking at the screen:
 * - Screen Wake Lock while a set runs (re-acquired when the tab comes back:
 *   the browser drops the lock whenever the page is hidden);
 * - a vibration on a loss, where the phone can;
 * - a short tone through Web Audio when the user turned it on; browsers only
 *   let a page play sound after a tap, so the first tap unlocks it.
 * Silent mode turns the vibration and the tone off. */
import * as prefs from "./prefs.js";

let wanted = false;          // a set is running
let lock = null;

async function acquire() {
  if (!wanted || lock || document.visibilityState !== "visible" || !("wakeLock" in navigator)) return;
  try {
    lock = await navigator.wakeLock.request("screen");
    lock.addEventListener("release", () => { lock = null; });
  } catch (e) {
    lock = null;            // battery saver or no permission: the screen may sleep
  }
}

/** Keep the screen on while `running` is true. */
export function keepAwake(running) {
  if (running === wanted) return;
  wanted = running;
  if (wanted) acquire();
  else if (lock) { lock.release().catch(() => {}); lock = null; }
}

document.addEventListener("visibilitychange", () => { if (document.visibilityState === "visible") acquire(); });

// -- sound ------------------------------------------------------------------------------------
let audio = null;
function unlockAudio() {
  const Ctx = window.AudioContext || window.webkitAudioContext;
  if (!Ctx) return;
  if (!audio) audio = new Ctx();
  if (audio.state === "suspended") audio.resume().catch(() => {});
}
document.addEventListener("pointerdown", unlockAudio, { capture: true });
document.addEventListener("keydown", unlockAudio, { capture: true });

function tone(freqHz, seconds) {
  if (!audio || audio.state !== "running") return;
  const osc = audio.createOscillator(), gain = audio.createGain();
  const t = audio.currentTime;
  osc.frequency.value = freqHz;
  gain.gain.setValueAtTime(0.0001, t);
  gain.gain.exponentialRampToValueAtTime(0.3, t + 0.01);      // no click at the start
  gain.gain.exponentialRampToValueAtTime(0.0001, t + seconds);
  osc.connect(gain).connect(audio.destination);
  osc.start(t);
  osc.stop(t + seconds + 0.02);
}

/** A point came off: buzz and (if wanted) beep. */
export function lossCue() {
  if (prefs.get("silent")) return;
  if (navigator.vibrate) navigator.vibrate([180, 80, 180]);
  if (prefs.get("sound")) tone(880, 0.25);
}
