"""The dashboard page itself: one static HTML file, every asset served by the app."""
from __future__ import annotations

from flask import Blueprint, current_app, send_from_directory

bp = Blueprint("pages", __name__)


@bp.get("/")
def index():
    response = send_from_directory(current_app.static_folder, "index.html", max_age=0)
    # The page is tiny and changes with the software; always revalidate.
    response.headers["Cache-Control"] = "no-cache"
    return response


@bp.get("/favicon.ico")
def favicon():
    return send_from_directory(current_app.static_folder, "icon.svg", mimetype="image/svg+xml")
