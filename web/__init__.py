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

from flask import Flask, jsonify, request
from werkzeug.exceptions import HTTPException

from device.runtime.contract import Core

#: Defaults an app can override through ``config`` (tests shorten the intervals).
DEFAULTS = {
    "STREAM_STATUS_HZ": 15.0,     # status snapshots per second sent to each phone
    "STREAM_QUEUE": 256,          # events buffered per phone before the oldest is dropped
    "STREAM_HEARTBEAT_S": 10.0,   # comment line that keeps proxies and Wi-Fi from idling out
    "STREAM_RETRY_MS": 2000,      # EventSource reconnect delay after a dropped connection
    "MAX_STREAMS": 64,            # make_server lowers this to fit its thread pool
    "CALIBRATE_S": 3.0,           # length of the resting hold
    "CALIBRATE_LEAD_IN_S": 3.0,   # countdown before it: time to get both hands on the dowel
    "MAX_CONTENT_LENGTH": 64 * 1024,   # request bodies are small JSON objects
}


def create_app(core: Core, config: Optional[dict] = None, store=None) -> Flask:
    """The dashboard app serving ``core``; with a history ``store`` it also
    registers the history endpoints (``web.history.bp``)."""
    app = Flask(__name__, static_folder="static", static_url_path="/static")
    app.config.update(DEFAULTS)
    app.config.update(config or {})
    app.config["CORE"] = core
    app.config["STORE"] = store
    app.json.sort_keys = False

    from . import api, pages, plan

    app.register_blueprint(api.bp)
    app.register_blueprint(pages.bp)
    app.register_blueprint(plan.bp)
    app.extensions["dowel_streams"] = api.StreamCounter()
    app.extensions["dowel_calibrating"] = threading.Lock()   # one hold at a time
    if store is not None:
        from .history import bp as history_bp

        app.register_blueprint(history_bp)

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        # Under /api every error is JSON, including routing's 404 and 405,
        # which never reach a blueprint's own handlers.
        if not request.path.startswith("/api"):
            return exc
        response = jsonify({"error": exc.description or exc.name, "field": None})
        response.status_code = exc.code or 500
        if exc.code == 405 and hasattr(exc, "valid_methods") and exc.valid_methods:
            response.headers["Allow"] = ", ".join(exc.valid_methods)
        return response

    return app
