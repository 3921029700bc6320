"""How the web side fails: one error type, one body parser, one JSON writer.

Every answer under ``/api`` is JSON a browser's ``JSON.parse`` accepts (NaN and
infinities are written as ``null``), and every error is
``{"error": "what is wrong", "field": "the field, or null"}`` with a 4xx code
(5xx only when the device itself is in trouble).  Blueprints raise
:class:`ApiError`; :func:`install` registers the app-wide handlers that turn it,
Werkzeug's own errors (404, 405, 413, ...) and anything unexpected into that
shape.
"""
from __future__ import annotations

import json
import logging
import math
import re
from typing import Any, Optional

from flask import Flask, Response, request
from werkzeug.exceptions import HTTPException

from device.analysis.jsonsafe import dumps as to_json

log = logging.getLogger(__name__)

#: Deepest nesting of arrays and objects a body may have.  The deepest real
#: body (settings with a calibration) is 4 levels; Python's parser recurses, so
#: an unbounded depth is a RecursionError instead of a 400.
MAX_JSON_DEPTH = 16
#: Largest magnitude an integer in a body may have: ids are positive 63-bit
#: integers (SQLite's), and nothing else the device takes comes close.
MAX_JSON_INT = 2 ** 63 - 1
#: Digits read before an integer is refused outright (Python's int() of a few
#: thousand digits is slow, and past 4300 it raises).
MAX_INT_DIGITS = 20


class ApiError(HTTPException):
    """An answer with a 4xx/5xx code and ``{"error", "field"}``.

    A Werkzeug :class:`HTTPException`, so it can be raised anywhere a request is
    being handled — in a view, a ``before_request`` rule, or a URL converter
    while the route is matched — and reach the same handler.
    """

    def __init__(self, status: int, message: str, field: Optional[str] = None):
        super().__init__(description=message)
        self.code = status
        self.message = message
        self.field = field

    # older call sites read .status
    @property
    def status(self) -> int:
        return self.code


# -- writing JSON ----------------------------------------------------------------------






def json_response(obj, status: int = 200, headers: Optional[dict] = None) -> Response:
    """``obj`` as a JSON response (NaN-safe: see :func:`device.analysis.jsonsafe.dumps`)."""
    return Response(to_json(obj), status=status, mimetype="application/json", headers=headers)


def error_response(status: int, message: str, field: Optional[str] = None) -> Response:
    return json_response({"error": message, "field": field}, status)


# -- reading JSON ----------------------------------------------------------------------
class _TooLarge:
    """An integer too large for the device, kept until its place in the body is known."""

    def __init__(self, text: str):
        self.text = text


def _parse_int(text: str):
    digits = text.lstrip("-")
    if len(digits) > MAX_INT_DIGITS:
        return _TooLarge(text)
    value = int(text)
    return value if abs(value) <= MAX_JSON_INT else _TooLarge(text)


_SPECIAL = re.compile(r'[\[\]{}"\\]')


def _nesting_depth(text: str) -> int:
    """The deepest nesting of ``[``/``{`` outside strings (for text that may be JSON).

    One pass over the characters that matter, so a hostile body costs linear time.
    """
    depth = deepest = 0
    in_string = False
    escape_at = -2                   # where the backslash escaping the next character is
    for match in _SPECIAL.finditer(text):
        ch, at = match.group(), match.start()
        if in_string:
            if ch == "\\":
                escape_at = -2 if escape_at == at - 1 else at
            elif ch == '"' and escape_at != at - 1:
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "]}":
            depth -= 1
    return deepest


def _field_name(path: list) -> str:
    return ".".join(str(p) for p in path) if path else "body"


def _check_values(value, path: list) -> None:
    """400 naming the first number the device cannot take: NaN, infinity (also a
    literal like 1e400) or an integer beyond 63 bits."""
    if isinstance(value, float) and not math.isfinite(value):
        raise ApiError(400, f"{_field_name(path)}: must be a finite number", _field_name(path))
    if isinstance(value, _TooLarge):
        shown = value.text if len(value.text) <= 24 else value.text[:20] + "..."
        raise ApiError(400, f"{_field_name(path)}: number out of range ({shown})", _field_name(path))
    if isinstance(value, dict):
        for key, item in value.items():
            _check_values(item, path + [key])
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _check_values(item, path + [i])


def parse_json(raw: bytes) -> Any:
    """A JSON document the device can hold: UTF-8, nested at most
    :data:`MAX_JSON_DEPTH` deep, integers within 63 bits, every number finite.
    :class:`ApiError` 400 says what is wrong and where."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ApiError(400, "invalid JSON: body is not UTF-8") from None
    if _nesting_depth(text) > MAX_JSON_DEPTH:
        raise ApiError(400, f"invalid JSON: nested deeper than {MAX_JSON_DEPTH} levels")
    try:
        value = json.loads(text, parse_int=_parse_int)
    except json.JSONDecodeError as exc:
        raise ApiError(400, f"invalid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}") from None
    except RecursionError:               # depth counted above; belt and braces
        raise ApiError(400, "invalid JSON: nested too deep") from None
    _check_values(value, [])
    return value


_ABSENT = object()


def _read_body(required: bool):
    raw = request.get_data(cache=True)
    if not raw.strip():
        if required:
            raise ApiError(400, "expected a JSON body", "body")
        return _ABSENT
    if not request.is_json:
        raise ApiError(415, f"expected Content-Type: application/json, got {request.mimetype or 'none'}",
                       "body")
    return parse_json(raw)


def json_body(required: bool = True) -> Any:
    """The request's JSON body (``None`` when empty and not ``required``).

    415 when the body is not ``application/json``, 400 for bad JSON.
    """
    body = _read_body(required)
    return None if body is _ABSENT else body


def json_object(required: bool = True, name: str = "body") -> Optional[dict]:
    """The body as a JSON object (``None`` when empty and not ``required``;
    400 naming ``name`` when it is anything but an object, ``null`` included)."""
    body = _read_body(required)
    if body is _ABSENT:
        return None
    if not isinstance(body, dict):
        raise ApiError(400, f"{name}: expected a JSON object", name)
    return body


# -- handlers ----------------------------------------------------------------------------
def install(app: Flask) -> None:
    """App-wide handlers: every error under ``/api`` is ``{"error", "field"}`` JSON."""

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        # Routing's 404 and 405 never reach a blueprint's own handlers, so this
        # is registered on the app.  Pages outside /api keep Werkzeug's HTML.
        if not isinstance(exc, ApiError) and not request.path.startswith("/api"):
            return exc
        field = getattr(exc, "field", None)
        message = getattr(exc, "message", None) or exc.description or exc.name
        response = error_response(exc.code or 500, message, field)
        if exc.code == 405 and getattr(exc, "valid_methods", None):
            response.headers["Allow"] = ", ".join(exc.valid_methods)
        if exc.code == 413:
            response.headers["Connection"] = "close"
        return response

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        # Never a traceback or a debugger page on the network: log it here, and
        # tell the phone in words.
        log.exception("error serving %s %s", request.method, request.path)
        return error_response(500, "internal error on the device (it is logged); try again")
