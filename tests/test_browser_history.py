"""The history view in headless Chromium on a 360 px phone: charts, sessions, delete, export.

Screenshots land in tests/output/ (history-light.png, history-dark.png).
"""
import threading
import time
from pathlib import Path

import pytest
from dowel_page import CHROMIUM, CHROMIUM_ARGS

from device.history import export
from device.history.store import Store

pytestmark = pytest.mark.browser

OUTPUT = Path(__file__).parent / "output"
TOKEN = "browser-test-token-0123456789"
DAY = 86400.0
TIMEOUT_MS = 20000          # generous: the machine is shared


def fill(store: Store, n_sessions: int = 12) -> None:
    """n_sessions days ending today: form improves, the sacrum is lost most."""
    a = store.current_athlete_id()
    today = time.time()
    for k in range(n_sessions):
        base = today - (n_sessions - 1 - k) * DAY
        if k == n_sessions - 1:
            base -= 600                 # today's session started ten minutes ago
        dirty = max(0, 5 - k // 2)
        for n, exercise in enumerate(("kneeling_3point", "standing_3point", "standing_3point")):
            start = base + n * 120
            set_id = store.start_set(a, exercise, start)
            for i in range(10):
                lost = []
                if i < dirty and n > 0:
                    lost = [{"point": ("sacrum", "sacrum", "head", "upper_back", "sacrum")[i % 5],
                             "start": start + 4 * i + 1, "duration_s": 0.3 + 0.1 * i}]
                store.add_rep(set_id, {"start": start + 4 * i, "end": start + 4 * i + 3,
                                       "depth_deg": 35 + k + (i % 4) * 3, "down_s": 1.4, "up_s": 1.2,
                                       "clean": not lost, "losses": lost})
            if not (k == n_sessions - 1 and n == 2):        # today's last set is still going
                store.end_set(set_id, start + 45)
        store.add_manual_set(a, "standing_kettlebell", 10, 16, wall=base + 500)


@pytest.fixture
def served(tmp_path, fake_core):
    from web import create_app
    from web.server import make_server

    store = Store(tmp_path / "history.db")
    fill(store)
    app = create_app(fake_core, {"TOKEN": TOKEN}, store=store)
    server = make_server(app, host="127.0.0.1", port=0, threads=8)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    yield server.url, store
    server.close()
    store.close()


def open_page(browser, url, scheme):
    context = browser.new_context(viewport={"width": 360, "height": 780}, device_scale_factor=2,
                                  color_scheme=scheme, accept_downloads=True,
                                  bypass_csp=True)   # wait_for_function evaluates strings
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(url + "#history")
    page.wait_for_selector("#history-view[data-loaded=true]", timeout=TIMEOUT_MS)
    return context, page, errors


def test_history_view_on_a_phone(served):
    url, store = served
    OUTPUT.mkdir(exist_ok=True)
    import playwright.sync_api as playwright_api   # here: collecting the module stays cheap

    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            context, page, errors = open_page(browser, url, "light")
            page.set_default_timeout(TIMEOUT_MS)
            view = page.locator("#history-view")
            assert view.is_visible()

            # progression: suggestion and reason in words
            progress = page.locator("#hv-progress")
            assert "Next step" in progress.text_content()
            assert page.locator(".hv-reason").inner_text().strip()
            # pictures, not tables: one bar per session (12), depth dots, the loss figure
            assert page.locator("#hv-clean-chart svg rect.bar").count() == 12
            assert page.locator("#hv-depth-chart svg circle.dot").count() == 12
            loss_label = page.locator("#hv-loss-chart svg").get_attribute("aria-label")
            assert "Sacrum" in loss_label
            assert page.locator("#hv-loss-chart svg circle.pt.worst").count() == 1
            assert "sacrum most" in page.locator("#hv-loss-chart").inner_text()

            # the phone layout fits: no sideways scrolling at 360 px
            assert page.evaluate("document.documentElement.scrollWidth") <= 360
            page.screenshot(path=str(OUTPUT / "history-light.png"), full_page=True)
            page.screenshot(path=str(OUTPUT / "history-top.png"))
            page.locator("#hv-loss-chart").screenshot(path=str(OUTPUT / "history-losses.png"))

            # sessions page by 10; the rest come with "Older sessions"
            assert page.locator(".hv-session").count() == 10
            page.locator(".hv-more").click()
            page.wait_for_function("document.querySelectorAll('.hv-session').length === 12")
            assert page.locator(".hv-more").is_hidden()

            # open today's session: its sets with reps (rep strip and table)
            first = page.locator(".hv-session").first
            first.locator(".hv-session-toggle").click()
            first.locator(".hv-session-body .set").first.wait_for()
            assert first.locator(".set").count() == 4                   # 3 dowel sets + 1 logged
            assert "in progress" in first.inner_text()
            assert first.locator("svg.hv-strip rect").count() == 30
            assert "logged by hand" in first.inner_text()
            first.screenshot(path=str(OUTPUT / "history-session.png"))

            # a rep saved while the view is open shows up when the live stream says so
            # (app.js turns rep_completed into this DOM event); the session stays open
            today = int(first.get_attribute("data-session"))
            running = [st for st in store.get_session(today)["sets"] if st["end"] is None][0]
            now = time.time()
            store.add_rep(running["id"], {"start": now - 3, "end": now, "depth_deg": 50.0, "down_s": 1.5,
                                          "up_s": 1.5, "clean": True, "losses": []})
            page.evaluate("document.dispatchEvent(new CustomEvent('dowel:history-changed'))")
            page.wait_for_function(
                f"document.querySelector('.hv-session[data-session=\"{today}\"] .set-meta').textContent.includes('31 reps')")
            first = page.locator(f".hv-session[data-session='{today}']")
            first.locator("svg.hv-strip rect").nth(30).wait_for()
            assert first.locator(".hv-session-toggle").get_attribute("aria-expanded") == "true"

            # delete the last session listed: confirmation, the token asked once
            target_id = int(page.locator(".hv-session").last.get_attribute("data-session"))
            last = page.locator(".hv-session").last
            last.locator(".hv-session-toggle").click()
            last.locator(".hv-delete").click()
            dialog = page.locator("#hv-delete-dialog")
            assert dialog.is_visible() and page.locator("#hv-token").is_visible()
            page.fill("#hv-token", "not-the-token")
            dialog.locator("button[type=submit]").click()
            page.wait_for_function("document.querySelector('#hv-delete-dialog .field-error').textContent.length > 0")
            page.screenshot(path=str(OUTPUT / "history-delete.png"))
            assert store.get_session(target_id) is not None
            page.fill("#hv-token", TOKEN)
            dialog.locator("button[type=submit]").click()
            page.wait_for_function(f"!document.querySelector('.hv-session[data-session=\"{target_id}\"]')")
            assert store.get_session(target_id) is None
            assert page.evaluate("localStorage.getItem('dowel-token')") == TOKEN
            # the second delete does not ask for the token again
            second = page.locator(".hv-session").last
            second_id = int(second.get_attribute("data-session"))
            second.locator(".hv-session-toggle").click()
            second.locator(".hv-delete").click()
            assert page.locator("#hv-token").is_hidden()
            dialog.locator("button[type=submit]").click()
            page.wait_for_function(f"!document.querySelector('.hv-session[data-session=\"{second_id}\"]')")

            # the export button downloads every rep
            with page.expect_download() as info:
                page.locator("#hv-export-csv").click()
            text = Path(info.value.path()).read_text()
            assert export.read_csv(text) == export.records(store)
            assert errors == []
            context.close()

            context, page, errors = open_page(browser, url, "dark")
            page.screenshot(path=str(OUTPUT / "history-dark.png"), full_page=True)
            bg = page.evaluate("getComputedStyle(document.body).backgroundColor")
            assert bg == "rgb(17, 20, 24)"                           # the dashboard's dark theme
            assert errors == []
            context.close()
        finally:
            browser.close()
