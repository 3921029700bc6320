"""Every rep and every set answered, against `dowel run --mock` replaying a
scripted athlete, on a phone-sized page: the rep toast and this set's strip,
the set card after the dowel comes off, the screen kept awake during a set,
a vibration on a loss, and a loss banner that moves nothing.

Screenshots of Live during a rep and of the set card go to tests/output/.
"""
from __future__ import annotations

import math

import pytest
from dowel_page import OUTPUT, StreamWatcher, open_phone, running_device

pytestmark = [pytest.mark.browser, pytest.mark.slow]

# One set of three reps, the second loses the sacrum; then the dowel stays off
# for a while so the set card can be read.  Looped.
STEPS = [
    ("idle", 1.0),
    ("place", 0.3),
    ("upright", 2.0),
    ("rep", {"depth_deg": 50, "down_s": 1.0, "up_s": 1.0}),
    ("rep", {"depth_deg": 58, "down_s": 1.2, "up_s": 1.0, "loss": ("sacrum", 0.5, 0.6)}),
    ("rep", {"depth_deg": 44, "down_s": 1.0, "up_s": 1.2}),
    ("upright", 1.0),
    ("remove", 0.3),
    ("idle", 5.0),
]

# Observe what the page asks of the phone: wake locks, vibrations.  The lock is
# a stand-in the test can release, as the browser does when the tab is hidden.
PHONE_OBSERVER = """
window.__wake = [];
window.__vibrations = [];
const sentinels = [];
const wakeLock = { request(type) {
  const s = new EventTarget();
  s.type = type; s.released = false;
  s.release = () => { s.released = true; s.dispatchEvent(new Event('release')); window.__wake.push('release'); return Promise.resolve(); };
  sentinels.push(s);
  window.__wake.push('request:' + type);
  return Promise.resolve(s);
} };
Object.defineProperty(Navigator.prototype, 'wakeLock', { get: () => wakeLock, configurable: true });
Navigator.prototype.vibrate = function (pattern) { window.__vibrations.push({ pattern, at: Date.now() }); return true; };
window.__dropWakeLock = () => sentinels.filter((s) => !s.released).forEach((s) => s.release());
let hidden = false;
Object.defineProperty(Document.prototype, 'visibilityState', { get: () => (hidden ? 'hidden' : 'visible'), configurable: true });
window.__setHidden = (h) => { hidden = h; document.dispatchEvent(new Event('visibilitychange')); };
window.__tones = [];
const RealContext = window.AudioContext;
window.AudioContext = class extends RealContext {
  createOscillator() { const o = super.createOscillator(); const start = o.start.bind(o);
    o.start = (...a) => { window.__tones.push(o.frequency.value); return start(...a); }; return o; }
};
"""


@pytest.fixture(scope="module")
def device(tmp_path_factory):
    with running_device(tmp_path_factory.mktemp("feedback"), STEPS) as (url, token):
        yield url, token


def shown(x: float) -> str:
    """A whole number as the page shows it (Intl rounds halves away from zero)."""
    return str(math.floor(x + 0.5))


def rep_number(e: dict) -> int:
    return e["rep"] if isinstance(e.get("rep"), int) else e["rep_index"]


def test_the_plan_of_the_day_guides_live_and_program(chromium, device):
    """"set 1 of 2 · rep 2 of 10" on Live advances with the reps; Program skips,
    reorders and logs a kettlebell step with one tap."""
    url, token = device
    context, page, errors = open_phone(chromium, url, token)
    plan = lambda: page.evaluate("fetch('/api/plan').then(r => r.json())")  # noqa: E731
    try:
        # the athlete does what the plan says: its exercise tags the next sets
        now = plan()["exercise"]
        page.click('a[data-view="program"]')
        page.click(f"#ex-{now} button.pick")
        page.wait_for_selector(f"#ex-{now}.active")
        page.click('a[data-view="live"]')
        # the first rep of a set, then the second: the line follows
        page.wait_for_function("/ · set [12] of 2 · rep 1 of 10$/.test(document.querySelector('#plan-line').textContent)",
                               timeout=40000)
        page.wait_for_function("/ · set [12] of 2 · rep 2 of 10$/.test(document.querySelector('#plan-line').textContent)",
                               timeout=20000)
        page.wait_for_selector('#rep-toast[data-kind="lost"]')
        OUTPUT.mkdir(exist_ok=True)
        page.screenshot(path=str(OUTPUT / "live-rep.png"))
        assert page.inner_text("#set-of") == "of 2" and page.inner_text("#rep-of") == "of 10"
        # the set ends: Live says what comes next, as the device's plan has it
        page.wait_for_selector("#set-card:not([hidden])", timeout=30000)
        p = plan()
        page.wait_for_function(f"document.querySelector('#plan-line').textContent === "
                               f"'Next: {p['title']} · set {p['set_index']} of {p['sets']}'")

        page.click('a[data-view="program"]')
        page.wait_for_selector("#plan-steps")
        OUTPUT.mkdir(exist_ok=True)
        # skip until a step logged by hand is the current one, then "done 10" with one tap
        for _ in range(4):
            p = plan()
            if p["tracked"] is False:
                break
            current = p["exercise"]
            page.click(f'#plan-steps li[data-exercise="{current}"] .plan-skip')
            page.wait_for_selector(f'#plan-steps li[data-exercise="{current}"][data-state="skipped"]')
        p = plan()
        assert p["tracked"] is False, p
        page.evaluate("window.scrollTo(0, document.querySelector('#program-plan').offsetTop - 110)")
        page.screenshot(path=str(OUTPUT / "program.png"))
        before = p["steps"][p["step_index"]]["sets_done"]
        page.click(f'#plan-steps li[data-exercise="{p["exercise"]}"] .plan-done')
        page.wait_for_selector("#plan-note.ok")
        after = plan()
        assert after["steps"][p["step_index"]]["sets_done"] == before + 1
        assert "Logged 10 reps" in page.inner_text("#plan-note")
        # move the last step earlier: the device's order changes
        order = [s["exercise"] for s in after["steps"]]
        page.click(f'#plan-steps li[data-exercise="{order[-1]}"] .plan-up')
        page.wait_for_function(f"fetch('/api/plan').then(r => r.json()).then(p => p.steps[{len(order) - 2}].exercise === '{order[-1]}')")
        page.wait_for_selector(f'#plan-steps li:nth-child({len(order) - 1})[data-exercise="{order[-1]}"]')
        page.click('a[data-view="session"]')
        page.wait_for_function("document.querySelector('#session-sets').innerText.includes('10 reps · logged by hand')")
        assert errors == []
    finally:
        context.close()


def test_rep_toast_and_set_card_say_the_numbers(chromium, device):
    url, token = device
    OUTPUT.mkdir(exist_ok=True)
    watcher = StreamWatcher(url)
    context, page, errors = open_phone(chromium, url, token)
    try:
        # wait for a set to start from the beginning, so its three reps are all seen here
        page.wait_for_function("document.querySelectorAll('#rep-strip .dot:not(.todo)').length === 0 && "
                               "document.querySelector('#set-card').hidden", timeout=40000)
        page.wait_for_selector('#rep-toast[data-kind="lost"]', timeout=40000)
        toast = page.inner_text("#rep-toast")
        rep2 = [e for e in watcher.of("rep_completed") if rep_number(e) == 2][-1]
        depth = rep2["depth_deg"] if "depth_deg" in rep2 else rep2["rep"]["depth_deg"]
        assert "Rep 2" in toast and "lost sacrum" in toast and f"{shown(depth)}°" in toast, toast
        assert abs(depth - 58) <= 3
        # this set's strip: a clean dot, then the lost one
        assert page.eval_on_selector_all("#rep-strip .dot.clean, #rep-strip .dot.lost",
                                         "ds => ds.map(d => d.classList.contains('clean'))")[:2] == [True, False]

        # the dowel comes off: the set card
        page.wait_for_selector("#set-card:not([hidden])", timeout=30000)
        done = watcher.of("set_completed")[-1]
        reps = [e for e in watcher.of("rep_completed") if e.get("set_number", e.get("set_index")) ==
                done.get("set_number", done.get("set_index"))]
        depths = [e["depth_deg"] if "depth_deg" in e else e["rep"]["depth_deg"] for e in reps]
        assert page.inner_text("#card-reps") == "3"
        assert page.inner_text("#card-clean") == "67\u00a0%"
        assert page.inner_text("#card-depth-max") == f"{shown(max(depths))}°"
        mean = (done.get("summary") or {}).get("depth_mean_deg") or sum(depths) / len(depths)
        assert abs(mean - sum(depths) / len(depths)) < 0.1
        assert page.inner_text("#card-depth-mean") == f"{shown(mean)}°"
        assert "sacrum 1×" in page.inner_text("#card-losses")
        assert "Tempo: " in page.inner_text("#card-tempo")
        summary = done.get("summary")
        if summary and summary.get("cue"):
            assert summary["cue"]["text"] in page.inner_text("#set-card")
        # on a phone the card takes the figure's place
        assert not page.is_visible("#figure")
        page.screenshot(path=str(OUTPUT / "set-card.png"))
        # the card stays while the dowel is off, and goes when the next set starts
        page.wait_for_timeout(500)
        in_set = page.evaluate("fetch('/api/status').then(r => r.json()).then(s => s.in_set)")
        assert in_set or page.is_visible("#set-card")
        page.wait_for_selector("#set-card[hidden]", state="attached", timeout=30000)
        assert watcher.of("set_started")[-1]["t"] > done["t"]
        assert errors == []
    finally:
        watcher.close()
        context.close()


def test_screen_awake_during_a_set_and_a_vibration_on_a_loss(chromium, device):
    url, token = device
    context, page, errors = open_phone(chromium, url, token, init_script=PHONE_OBSERVER)
    try:
        # a set runs: the page asks to keep the screen on
        page.wait_for_function("window.__wake.includes('request:screen')", timeout=40000)
        # the tab is hidden (the browser drops the lock) and comes back mid-set: asked again
        page.evaluate("window.__dropWakeLock(); window.__setHidden(true); window.__setHidden(false)")
        page.wait_for_function("window.__wake.filter(w => w.startsWith('request')).length === 2", timeout=5000)
        # the sacrum comes off: the phone vibrates at that moment
        page.wait_for_selector("#loss-banner:not([hidden])", timeout=40000)
        page.wait_for_function("window.__vibrations.length > 0")
        assert page.evaluate("window.__vibrations[0].pattern.length") >= 1
        # the set ends: the lock is let go
        page.wait_for_selector("#set-card:not([hidden])", timeout=30000)
        page.wait_for_function("window.__wake[window.__wake.length - 1] === 'release'")
        assert errors == []
    finally:
        context.close()


def test_silent_mode_does_not_vibrate(chromium, device):
    url, token = device
    context, page, errors = open_phone(chromium, url, token, init_script=PHONE_OBSERVER, view="device")
    try:
        page.check("#p-silent")
        page.click('a[data-view="live"]')
        page.wait_for_selector("#loss-banner:not([hidden])", timeout=40000)
        page.wait_for_timeout(300)
        assert page.evaluate("window.__vibrations.length") == 0
        assert errors == []
    finally:
        context.close()


# Where the counters, the rep toast and the figure are on every frame the page
# draws; kept for the first frame that shows the loss banner and the frame just
# before it.  Two frames apart, so nothing but the loss itself (a rep ending, the
# set card) can have moved them - however late a loaded machine draws them.
BANNER_FRAMES = """
window.__bannerFrames = null;
(function watch(last) {
  requestAnimationFrame(() => {
    const banner = document.querySelector('#loss-banner');
    let now = last;
    if (banner) {
      const boxes = ['.counters', '#rep-toast', '#figure'].map((s) => {
        const r = document.querySelector(s).getBoundingClientRect(); return [r.top, r.height]; });
      now = { shown: !banner.hidden, inSet: /^[0-9-]+$/.test(document.querySelector('#angle-value').textContent), boxes };
      if (last && !last.shown && last.inSet && now.shown && window.__bannerFrames === null)
        window.__bannerFrames = { before: last.boxes, during: now.boxes };
    }
    watch(now);
  });
})(null);
"""


def test_the_loss_banner_moves_nothing(chromium, device):
    url, token = device
    context, page, errors = open_phone(chromium, url, token, init_script=BANNER_FRAMES)
    try:
        # a loss in a set (the hinge reads a number): the frame before it and the first with its banner
        page.wait_for_function("window.__bannerFrames !== null", timeout=40000)
        frames = page.evaluate("window.__bannerFrames")
        assert frames["during"] == frames["before"], frames
        assert errors == []
    finally:
        context.close()


def test_a_tone_on_a_loss_once_a_tap_unlocked_audio(chromium, device):
    url, token = device
    context, page, errors = open_phone(chromium, url, token, init_script=PHONE_OBSERVER, view="device")
    try:
        page.check("#p-sound")                 # the tap that turns the tone on also unlocks audio
        page.click('a[data-view="live"]')
        page.wait_for_selector("#loss-banner:not([hidden])", timeout=40000)
        page.wait_for_function("window.__tones.length > 0")
        assert page.evaluate("window.__vibrations.length") > 0
        assert errors == []
    finally:
        context.close()
