"""The phone dashboard: a Flask app that serves the live page and its JSON API.

``create_app(core, config, store)`` builds the app around anything that keeps
the core's contract, :class:`device.runtime.contract.Core` (the running
:class:`device.runtime.core.DowelCore`, or the tests' fake); the status snapshot
it serves is :class:`device.runtime.contract.Status`.  The core never imports
Flask: the web side only calls what that Protocol declares.  The endpoints are
documented in docs/api.md.
"""
from __future__ import annotations

import threading
from typing import Optional

from flask import Flask

from device.runtime.contract import Core

#: Defaults an app can override through ``config`` (tests shorten the intervals).
DEFAULTS = {
    "STREAM_STATUS_HZ": 15.0,     # status snapshots per second sent to each phone
    "STREAM_QUEUE": 256,          # events buffered per phone before the oldest is dropped
    "STREAM_HEARTBEAT_S": 10.0,   # comment line that keeps proxies and Wi-Fi from idling out
    "STREAM_RETRY_MS": 2000,      # EventSource reconnect delay after a dropped connection
    "MAX_STREAMS": 64,            # make_server lowers this to fit its thread pool
    "STREAMS_PER_CLIENT": 4,      # live streams one address may hold (tabs, a phone and a laptop)
    "CALIBRATE_S": 3.0,           # length of the resting hold
    "CALIBRATE_LEAD_IN_S": 3.0,   # countdown before it: time to get both hands on the dowel
    "MAX_CONTENT_LENGTH": 64 * 1024,   # request bodies are small JSON objects
    "TOKEN": None,                # the device token; without one every change is refused
    "ALLOWED_HOSTS": (),          # names the device answers to besides its own (a DNS name, a proxy)
}


def create_app(core: Core, config: Optional[dict] = None, store=None) -> Flask:
    """The dashboard app serving ``core``; with a history ``store`` it also
    registers the history endpoints (``web.history.bp``).

    ``config["TOKEN"]`` is the device token every change needs (docs/api.md,
    "Who may do what"); ``config["ALLOWED_HOSTS"]`` adds names to the ones
    the device answers to.
    """
    app = Flask(__name__, static_folder="static", static_url_path="/static")
    app.config.update(DEFAULTS)
    app.config.update(config or {})
    # Never Werkzeug's interactive debugger, whatever FLASK_DEBUG or the config
    # say: on a 500 it would hand a shell to anyone on the Wi-Fi.
    app.config["DEBUG"] = False
    app.debug = False
    app.config["CORE"] = core
    app.config["STORE"] = store
    app.json.sort_keys = False

    from . import api, auth, errors, pages, plan, security
    from .validate import IdConverter

    # Converters are looked up when routes are added: before any blueprint.
    app.url_map.converters["id"] = IdConverter
    errors.install(app)
    security.install(app)          # the Host rule runs first
    auth.install(app)
    app.register_blueprint(api.bp)
    app.register_blueprint(pages.bp)
    app.register_blueprint(plan.bp)
    app.extensions["dowel_streams"] = api.StreamCounter()
    app.extensions["dowel_calibrating"] = threading.Lock()   # one hold at a time
    if store is not None:
        from .history import bp as history_bp

        app.register_blueprint(history_bp)

    from device.runtime.core_proxy import CoreUnavailable

    @app.errorhandler(CoreUnavailable)
    def _device_down(exc: CoreUnavailable):
        # The core runs in its own process (device/cli/supervisor.py); while it is
        # down or restarting, a change from the page is a 503 that says so.
        return errors.error_response(503, str(exc))
    return app
