"""The page under its own Content-Security-Policy, in headless Chromium: it loads,
goes live, pairs from the #token= link and changes settings and exports with the
token; a phone that was never paired is told so and changes nothing.

The other browser tests bypass the CSP (Playwright's wait_for_function needs
eval); this one never does, and fails on any CSP violation.
"""
from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from conftest import FakeCore
from dowel_page import CHROMIUM, CHROMIUM_ARGS

from device.history import export
from device.history.store import Store

pytestmark = pytest.mark.browser

TOKEN = "csp-browser-token-0123456789"
TIMEOUT_MS = 20000

#: Collects CSP violations the page reports (added before any of its scripts run).
WATCH = """
window.__violations = [];
document.addEventListener('securitypolicyviolation',
  (e) => window.__violations.push(e.violatedDirective + ' ' + e.blockedURI));
"""


@pytest.fixture
def served(tmp_path):
    from web import create_app
    from web.server import make_server

    core = FakeCore()
    store = Store(tmp_path / "history.db")
    now = time.time()
    set_id = store.start_set(store.current_athlete_id(), "standing_3point", now - 60)
    store.add_rep(set_id, {"start": now - 50, "end": now - 47, "depth_deg": 40.0, "down_s": 1.4,
                           "up_s": 1.2, "clean": True, "losses": []})
    store.end_set(set_id, now - 30)
    server = make_server(create_app(core, {"TOKEN": TOKEN}, store=store), host="127.0.0.1", port=0, threads=8)
    threading.Thread(target=server.run, daemon=True).start()
    yield server.url.rstrip("/"), core, store
    server.close()
    store.close()


def open_page(browser, url):
    context = browser.new_context(viewport={"width": 390, "height": 844}, accept_downloads=True)
    page = context.new_page()
    problems = []
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    page.on("console", lambda msg: problems.append(msg.text) if msg.type == "error" else None)
    page.add_init_script(WATCH)
    page.goto(url)
    page.wait_for_selector('#connection[data-state="live"]', timeout=TIMEOUT_MS)
    return context, page, problems


def submit_debounce(page, value: str) -> None:
    page.click('a[data-view="device"]')
    page.wait_for_selector("#f-debounce_ms:not([value=''])", timeout=TIMEOUT_MS)
    page.fill("#f-debounce_ms", value)
    page.click('#settings-form button[type="submit"]')


def test_the_page_works_under_its_csp_and_pairs_from_the_link(served):
    url, core, store = served
    import playwright.sync_api as playwright_api   # here: collecting the module stays cheap

    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            # a phone that was never paired: watching works, changing is refused in words
            context, page, problems = open_page(browser, url + "/")
            submit_debounce(page, "33")
            page.wait_for_selector("#settings-result.bad", timeout=TIMEOUT_MS)
            assert "not paired" in page.inner_text("#settings-form")
            assert core.settings.debounce_ms == 20.0
            assert page.evaluate("window.__violations") == []
            context.close()

            # the pairing link: the token is kept and leaves the address bar
            context, page, problems = open_page(browser, f"{url}/#token={TOKEN}")
            assert page.evaluate("localStorage.getItem('dowel-token')") == TOKEN
            assert "token" not in page.url
            submit_debounce(page, "33")
            page.wait_for_selector("#settings-result.ok", timeout=TIMEOUT_MS)
            assert core.settings.debounce_ms == 33.0
            # the export needs the token too: fetched with it and saved from a blob
            page.click('a[data-view="history"]')
            page.wait_for_selector("#history-view[data-loaded=true]", timeout=TIMEOUT_MS)
            with page.expect_download() as info:
                page.locator("#hv-export-csv").click()
            assert info.value.suggested_filename.startswith("dowel-history-")
            assert export.read_csv(Path(info.value.path()).read_text()) == export.records(store)
            assert page.evaluate("window.__violations") == []
            assert [m for m in problems if "Content Security Policy" in m or "Refused" in m] == []
            context.close()
        finally:
            browser.close()
