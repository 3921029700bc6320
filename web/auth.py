"""Who may do what: watching is open, changing needs the device token.

One rule for the whole app (:func:`install` registers it as a
``before_request``), so every blueprint gets it without doing anything:

* every ``POST``, ``PUT``, ``PATCH`` and ``DELETE`` needs the device token in
  the ``X-Dowel-Token`` header (401 without it or with a wrong one, checked
  before the body is read, so nothing changes);
* a ``GET`` that hands out personal history (the export) or the token itself
  (the pairing QR code) is marked with :func:`needs_token`;
* a mutation's body is ``application/json`` or nothing (415 otherwise).  With
  the custom header that means a page on another site cannot send one from a
  visitor's phone without a CORS preflight, and the app answers no CORS.

The token is compared in constant time (:func:`device.runtime.token.token_matches`).
"""
from __future__ import annotations

from flask import Flask, current_app, request

from device.runtime.token import token_matches

from .errors import ApiError

TOKEN_HEADER = "X-Dowel-Token"
MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def needs_token(view):
    """Mark a view that only a paired phone may call, whatever its method."""
    view.dowel_needs_token = True
    return view


def _view_needs_token() -> bool:
    if request.method in MUTATING:
        return True
    view = current_app.view_functions.get(request.endpoint) if request.endpoint else None
    return bool(getattr(view, "dowel_needs_token", False))


def check_token() -> None:
    """401 unless the request carries the device token."""
    given = request.headers.get(TOKEN_HEADER)
    if token_matches(current_app.config.get("TOKEN"), given):
        return
    if not given:
        message = ("token: this phone is not paired with the dowel: open the pairing link "
                   "(`dowel token` prints it, with a QR code)")
    else:
        message = "token: wrong device token: pair this phone again (`dowel token`)"
    raise ApiError(401, message, "token")


def check_json_content_type() -> None:
    """415 for a mutation whose body is anything but JSON."""
    has_body = bool(request.content_length) or "chunked" in request.headers.get("Transfer-Encoding", "")
    if (has_body or request.mimetype) and not request.is_json:
        raise ApiError(415, f"expected Content-Type: application/json, got {request.mimetype or 'none'}",
                       "body")


def install(app: Flask) -> None:
    @app.before_request
    def _who_may_do_what():
        if _view_needs_token():
            check_token()
        if request.method in MUTATING:
            check_json_content_type()
