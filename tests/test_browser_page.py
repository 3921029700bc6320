"""The dashboard page in headless Chromium at a phone viewport: its words come
from /api/options, and (against an in-process app on the fake core) what it
shows for losses, faults, a dead stream, and its tap targets.

Screenshots go to tests/output/.
"""
from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from dowel_page import OUTPUT, PHONE

pytestmark = pytest.mark.browser

TOKEN = "browser-coach-token-0123456789"
TIMEOUT_MS = 15000


def serve(core, port: int = 0, **config):
    from web import create_app
    from web.server import make_server

    server = make_server(create_app(core, {"TOKEN": TOKEN, "STREAM_RETRY_MS": 500, **config}),
                         host="127.0.0.1", port=port, threads=8)
    threading.Thread(target=server.run, daemon=True).start()
    return server


@pytest.fixture
def served(fake_core):
    server = serve(fake_core)
    yield fake_core, server
    server.close()


def open_page(browser, url: str, scheme: str = "dark", view: str = "live", init_script: str = ""):
    # bypass_csp: wait_for_function and the injected axe-core evaluate strings, which the
    # page's CSP forbids (tests/test_web_csp_browser.py checks the page under its CSP)
    context = browser.new_context(viewport=PHONE, device_scale_factor=2, color_scheme=scheme, bypass_csp=True)
    if init_script:
        context.add_init_script(init_script)
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    errors: list = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    return context, page, errors


def go(page, url: str, view: str = "live") -> None:
    page.goto(f"{url.rstrip('/')}/#{view}&token={TOKEN}")
    page.wait_for_selector("html[data-ready=true]")
    page.wait_for_selector('#connection[data-state="live"]')


def test_the_pages_words_come_from_api_options(chromium, served):
    """Serve options whose title, point label and cue are changed: the page says the new words."""
    core, server = served
    from conftest import status_snapshot

    def changed_options(route):
        response = route.fetch()
        doc = response.json()
        for x in doc["exercises"]:
            if x["id"] == "standing_3point":
                x["title"] = "Wall-facing test hinge"
                x["cues"]["head"] = "chin in like a soldier"
        for p in doc["points"]:
            if p["id"] == "head":
                p["label"] = "Crown"
        doc["calibration"]["hold_s"] = 7
        route.fulfill(response=response, json=doc)

    context, page, errors = open_page(chromium, server.url)
    try:
        page.route("**/api/options", changed_options)
        go(page, server.url)
        page.wait_for_function("document.querySelector('#exercise-name').textContent === 'Wall-facing test hinge'")
        assert page.inner_text('.bar-row[data-point="head"] .bar-label') == "Crown"
        # a loss of the head: the changed label and the changed cue
        core.status = status_snapshot(lost=("head",))
        core.publish({"type": "contact_lost", "point": "head", "start": 0.0})
        page.wait_for_selector("#loss-banner:not([hidden])")
        assert page.inner_text("#loss-banner").startswith("Crown lost — chin in like a soldier")
        page.click('a[data-view="program"]')
        assert "Wall-facing test hinge" in page.inner_text("#ex-standing_3point h3")
        page.click('a[data-view="device"]')
        assert "hold still for 7 seconds" in page.inner_text("#calibrate-step")
        assert errors == []
    finally:
        context.close()


# -- accessibility and touch -------------------------------------------------------------------
VIEWS = ("live", "session", "program", "history", "device")


def axe_script() -> str:
    import axe_playwright_python

    return str(Path(axe_playwright_python.__file__).parent / "axe.min.js")


@pytest.fixture
def served_with_history(tmp_path, fake_core):
    from device.history.store import Store

    store = Store(tmp_path / "history.db")
    a = store.current_athlete_id()
    now = time.time()
    for day in (3, 1, 0):                       # three sessions: a trend, a calendar
        start = now - day * 86400 - 900
        set_id = store.start_set(a, "standing_3point", start)
        for i in range(10):
            lost = [{"point": "sacrum", "start": start + 4 * i + 1, "duration_s": 0.4}] if i in (2, 7) else []
            store.add_rep(set_id, {"start": start + 4 * i, "end": start + 4 * i + 3, "depth_deg": 40 + i,
                                   "down_s": 1.3, "up_s": 1.1, "clean": not lost, "losses": lost})
        store.end_set(set_id, start + 45)
        store.add_manual_set(a, "standing_kettlebell", 10, 16, wall=start + 300)
    from web import create_app
    from web.server import make_server

    server = make_server(create_app(fake_core, {"TOKEN": TOKEN}, store=store), host="127.0.0.1", port=0, threads=8)
    threading.Thread(target=server.run, daemon=True).start()
    yield fake_core, server
    server.close()
    store.close()


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_no_wcag_aa_violation_on_any_tab(chromium, served_with_history, scheme):
    """axe-core, the engine behind the browsers' accessibility audits, on every tab."""
    core, server = served_with_history
    context, page, errors = open_page(chromium, server.url, scheme=scheme)
    try:
        go(page, server.url)
        found = {}
        for view in VIEWS:
            page.click(f'a[data-view="{view}"]')
            if view == "history":
                page.wait_for_selector("#history-view[data-loaded=true]")
                page.locator(".hv-session-toggle").first.click()
                page.locator(".hv-session-body .set").first.wait_for()
            if view == "session":
                page.wait_for_selector("#session-view[data-loaded=true]")
            page.add_script_tag(path=axe_script())
            result = page.evaluate("""axe.run(document, {runOnly: {type: 'tag',
                values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}, resultTypes: ['violations']})""")
            bad = [(v["id"], v["impact"], [n["target"] for n in v["nodes"]][:4]) for v in result["violations"]]
            if bad:
                found[view] = bad
        assert found == {}, found
        assert errors == []
    finally:
        context.close()


def test_every_control_is_at_least_44_px(chromium, served_with_history):
    core, server = served_with_history
    context, page, errors = open_page(chromium, server.url)
    try:
        go(page, server.url)
        small = {}
        for view in VIEWS:
            page.click(f'a[data-view="{view}"]')
            if view == "history":
                page.wait_for_selector("#history-view[data-loaded=true]")
            sizes = page.evaluate("""() => [...document.querySelectorAll(
                  'button, a[href], input, select, textarea, summary, [role=button]')]
                .filter((e) => e.getClientRects().length && getComputedStyle(e).visibility !== 'hidden')
                .map((e) => { const r = e.getBoundingClientRect();
                  return [e.id || e.name || e.textContent.trim().slice(0, 20) || e.tagName, Math.round(r.width), Math.round(r.height)]; })
                .filter(([, w, h]) => w < 44 || h < 44)""")
            if sizes:
                small[view] = sizes
        assert small == {}, small
        # the rep count reads from 2 m: at least 96 px tall type on a phone
        page.click('a[data-view="live"]')
        size = page.evaluate("parseFloat(getComputedStyle(document.querySelector('#rep-count')).fontSize)")
        assert size >= 96, size
        assert errors == []
    finally:
        context.close()


# -- honest state --------------------------------------------------------------------------------
def test_values_grey_out_and_say_since_when_while_the_stream_is_down(chromium, fake_core):
    from conftest import status_snapshot

    server = serve(fake_core)
    context, page, errors = open_page(chromium, server.url)
    try:
        go(page, server.url)
        assert page.get_attribute("#live-view", "data-stale") == "false"
        colour = "getComputedStyle(document.querySelector('#rep-count')).color"
        live_colour = page.evaluate(colour)
        server.close()
        page.wait_for_selector('#live-view[data-stale="true"]')
        assert page.evaluate(colour) != live_colour                       # greyed
        assert page.evaluate("getComputedStyle(document.querySelector('#figure')).opacity") != "1"
        note = page.inner_text("#stale-note")
        assert note.startswith("No live data since ") and ":" in note, note
        page.screenshot(path=str(OUTPUT / "live-stream-down.png"))
        # back on the same port: live again, and no set running means no hinge angle
        status = status_snapshot()
        status.update(in_set=False, pitch_deg=None, phase="idle")
        fake_core.status = status
        server = serve(fake_core, port=server.port)
        page.wait_for_selector('#live-view[data-stale="false"]')
        assert page.is_hidden("#stale-note")
        page.wait_for_function("document.querySelector('#angle-value').textContent === '—'")
        assert page.inner_text("#angle-unit") == ""
        assert errors == []
    finally:
        context.close()
        server.close()


# -- people, units, words ------------------------------------------------------------------------
def test_adding_an_athlete_does_not_switch_the_recorder_and_live_can(chromium, served_with_history):
    core, server = served_with_history
    context, page, errors = open_page(chromium, server.url)
    page.on("dialog", lambda d: errors.append(f"a browser dialog opened: {d.message}"))
    try:
        go(page, server.url)
        page.wait_for_function("document.querySelector('#who-select').options.length === 1")
        assert page.inner_text("#who-select option:checked") == "athlete"
        page.click('a[data-view="history"]')
        page.wait_for_selector("#history-view[data-loaded=true]")
        page.click("#hv-add")
        page.click('#hv-add-form button[type="submit"]')
        assert page.inner_text("#hv-add-form .field-error").startswith("Name:")
        page.fill("#hv-add-name", "Sam")
        page.click('#hv-add-form button[type="submit"]')
        page.wait_for_selector("#hv-add-form", state="hidden")
        athletes = page.evaluate("fetch('/api/athletes').then(r => r.json())")
        sam = next(a["id"] for a in athletes["athletes"] if a["name"] == "Sam")
        assert athletes["current"] != sam                    # added, not recording
        page.click('a[data-view="live"]')
        assert page.inner_text("#who-select option:checked") == "athlete"
        page.select_option("#who-select", str(sam))
        page.wait_for_function(f"fetch('/api/athletes').then(r => r.json()).then(a => a.current === {sam})")
        page.click('a[data-view="session"]')
        page.wait_for_function("document.querySelector('#session-summary').textContent.startsWith('Sam: ')")
        assert errors == []
    finally:
        context.close()


def test_weights_in_lb_and_with_a_decimal_comma_and_errors_in_words(chromium, served_with_history):
    core, server = served_with_history
    context, page, errors = open_page(chromium, server.url)
    try:
        go(page, server.url, view="device")
        page.select_option("#p-units", "lb")
        page.click('a[data-view="program"]')
        kb = page.locator("#ex-standing_kettlebell")
        assert kb.locator('label[for$="-standing_kettlebell"]').last.inner_text() == "Weight (lb)"
        kb.locator('input[name="reps"]').fill("0")
        kb.locator('button[type="submit"]').click()
        err = kb.locator('.field-error[data-field="reps"]')
        err.wait_for(state="visible")
        assert err.inner_text().startswith("Reps: "), err.inner_text()     # the label, not "reps:"
        kb.locator('input[name="reps"]').fill("10")
        kb.locator('input[name="weight"]').fill("35")
        kb.locator('button[type="submit"]').click()
        kb.locator(".note.ok").wait_for()
        page.click('a[data-view="session"]')
        page.wait_for_function("document.querySelector('#session-sets').innerText.includes('10 reps · 35 lb · logged by hand')")
        page.click('a[data-view="device"]')
        page.select_option("#p-units", "kg")
        page.click('a[data-view="program"]')
        kb.locator('input[name="weight"]').fill("22,5")
        kb.locator('button[type="submit"]').click()
        page.wait_for_function("document.querySelector('#ex-standing_kettlebell .note.ok').textContent === 'Logged 10 reps.'")
        current = page.evaluate("fetch('/api/sessions/current').then(r => r.json())")
        weights = sorted(round(s["weight_kg"], 2) for s in current["sets"] if s["manual"] and s["weight_kg"] != 16)
        assert weights == [15.88, 22.5]
        kb.locator('input[name="weight"]').fill("lots")
        kb.locator('button[type="submit"]').click()
        assert kb.locator('.field-error[data-field="weight_kg"]').inner_text().startswith("Weight: ")
        assert errors == []
    finally:
        context.close()


# -- the session view stays true -------------------------------------------------------------------
def stored_session(path, sets: int):
    from device.history.store import Store

    store = Store(path)
    a = store.current_athlete_id()
    start = time.time() - 1800
    for n in range(sets):
        set_id = store.start_set(a, "standing_3point", start + n * 120)
        for i in range(10):
            store.add_rep(set_id, {"start": start + n * 120 + 4 * i, "end": start + n * 120 + 4 * i + 3,
                                   "depth_deg": 45.0, "down_s": 1.2, "up_s": 1.1, "clean": True,
                                   "losses": []})
        store.end_set(set_id, start + n * 120 + 45)
    return store


def serve_store(core, store, port: int = 0):
    from web import create_app
    from web.server import make_server

    server = make_server(create_app(core, {"TOKEN": TOKEN, "STREAM_RETRY_MS": 500}, store=store),
                         host="127.0.0.1", port=port, threads=8)
    threading.Thread(target=server.run, daemon=True).start()
    return server


def test_session_view_after_a_restart_and_a_delete(chromium, fake_core, tmp_path):
    first = stored_session(tmp_path / "first.db", sets=6)
    server = serve_store(fake_core, first)
    context, page, errors = open_page(chromium, server.url)
    second = None
    try:
        go(page, server.url, view="session")
        page.wait_for_function("document.querySelectorAll('#session-sets > li').length === 6")
        # it opens at the top, even after being scrolled
        page.mouse.wheel(0, 3000)
        page.wait_for_function("window.scrollY > 0")
        page.click('a[data-view="live"]')
        page.click('a[data-view="session"]')
        assert page.evaluate("window.scrollY") == 0
        # a set under way, from the stream
        fake_core.publish({"type": "set_started", "set_number": 7, "set_index": 1, "exercise": "standing_3point"})
        fake_core.publish({"type": "rep_completed", "set_number": 7, "set_index": 1, "rep": 1, "rep_index": 1,
                           "depth_deg": 50.0, "down_s": 1.0, "up_s": 1.0, "clean": True, "losses": []})
        page.wait_for_function("document.querySelectorAll('#session-sets > li').length === 7")
        # the device restarts with another history: the page shows that one, nothing of the old run
        server.close()
        page.wait_for_selector('#connection:not([data-state="live"])')
        second = stored_session(tmp_path / "second.db", sets=2)
        server = serve_store(fake_core, second, port=server.port)
        page.wait_for_selector('#connection[data-state="live"]')
        page.wait_for_function("document.querySelectorAll('#session-sets > li').length === 2")
        assert page.inner_text("#session-summary").endswith("2 sets · 20 reps · 20 clean")
        # today's session deleted from History: the Session view empties
        page.click('a[data-view="history"]')
        page.wait_for_selector("#history-view[data-loaded=true]")
        page.locator(".hv-session-toggle").first.click()
        page.locator(".hv-delete").click()
        page.locator("#hv-delete-dialog button[type=submit]").click()
        page.wait_for_selector("#hv-delete-dialog", state="hidden")
        page.click('a[data-view="session"]')
        page.wait_for_function("document.querySelector('#session-summary').textContent.endsWith('No sets yet today.')")
        assert page.locator("#session-sets > li").count() == 0
        assert errors == []
    finally:
        context.close()
        server.close()
        first.close()
        if second is not None:
            second.close()


def test_pairing_link_and_reduced_motion(chromium, served):
    core, server = served
    context, page, errors = open_page(chromium, server.url)
    try:
        go(page, server.url, view="device")
        # the token moved from the address into this phone's storage
        assert page.evaluate("localStorage.getItem('dowel-token')") == TOKEN
        assert "token" not in page.url and page.url.endswith("#device")
        assert "paired" in page.inner_text("#pairing-state")
        page.click("#pairing-forget")
        assert page.evaluate("localStorage.getItem('dowel-token')") is None
        assert "only watches" in page.inner_text("#pairing-state")
        # reduced motion from this page's switch, and from the phone's own setting
        moving = "getComputedStyle(document.querySelector('#fig-body')).transitionDuration"
        assert page.evaluate(moving) != "0s"
        page.check("#p-reduced_motion")
        assert page.evaluate(moving) == "0s"
        page.uncheck("#p-reduced_motion")
        page.emulate_media(reduced_motion="reduce")
        page.reload()
        page.wait_for_selector("html[data-ready=true]")
        assert page.evaluate(moving) == "0s"
        assert errors == []
    finally:
        context.close()


def test_one_session_is_a_bar_and_the_calendar_marks_training_days(chromium, fake_core, tmp_path):
    store = stored_session(tmp_path / "one.db", sets=1)
    server = serve_store(fake_core, store)
    context, page, errors = open_page(chromium, server.url)
    try:
        go(page, server.url, view="history")
        page.wait_for_selector("#history-view[data-loaded=true]")
        # one session: a bar from the floor, not a lone dot
        assert page.locator("#hv-depth-chart rect.bar.depth").count() == 1
        assert page.locator("#hv-depth-chart circle.dot").count() == 0
        assert page.locator("#hv-clean-chart rect.bar").count() == 1
        # the calendar: today trained, the other days not
        trained = page.eval_on_selector_all(".hv-cal-day.trained", "ds => ds.map(d => d.dataset.day)")
        today = page.evaluate("(() => { const d = new Date(); return d.getFullYear() + '-' + "
                              "String(d.getMonth() + 1).padStart(2, '0') + '-' + String(d.getDate()).padStart(2, '0'); })()")
        assert trained == [today]
        assert "100 % clean" in page.get_attribute(f'.hv-cal-day[data-day="{today}"]', "aria-label")
        page.locator("#hv-clean-chart").screenshot(path=str(OUTPUT / "history-one-session.png"))
        assert errors == []
    finally:
        context.close()
        server.close()
        store.close()


def test_a_laptop_shows_the_live_view_beside_the_sets_reps(chromium, served):
    core, server = served
    context = chromium.new_context(viewport={"width": 1280, "height": 800}, bypass_csp=True)
    page = context.new_page()
    try:
        go(page, server.url)
        main = page.locator(".live-main").bounding_box()
        side = page.locator(".live-side").bounding_box()
        assert side["x"] >= main["x"] + main["width"] and abs(side["y"] - main["y"]) < 40
        assert main["width"] + side["width"] > 900          # the width is used, not a 536 px column
        page.screenshot(path=str(OUTPUT / "live-desktop.png"))
    finally:
        context.close()
