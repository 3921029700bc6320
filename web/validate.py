"""Checks shared by the endpoints: ids, whole numbers in query strings, names.

Every check raises :class:`web.errors.ApiError` 400 naming the field, before
anything is converted, stored or applied.
"""
from __future__ import annotations

import re

from werkzeug.routing import BaseConverter

from .errors import ApiError

#: Ids are SQLite row ids: positive 63-bit integers.
MAX_ID = 2 ** 63 - 1
_DIGITS = re.compile(r"^[0-9]{1,19}$")


def check_id(value, field: str = "id") -> int:
    """``value`` (a JSON integer) as an id, else 400 naming ``field``."""
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_ID:
        raise ApiError(400, f"{field}: must be a positive whole number below 2^63", field)
    return value


class IdConverter(BaseConverter):
    """``<id:name>`` in a route: a positive 63-bit integer.

    Matches any run of digits, so an id that is out of range is a 400 naming
    the field instead of an overflow deep in SQLite (or "no such route").
    """

    regex = r"[0-9]+"
    part_isolating = True

    def to_python(self, value: str) -> int:
        # at most 19 digits are converted: 2^63 has 19
        return check_id(int(value) if _DIGITS.match(value) else None, "id")

    def to_url(self, value) -> str:
        return str(int(value))


def whole_number_arg(args, name: str, default, low: int, high: int):
    """Query argument ``name`` as a whole number in ``low..high`` (at most 12 digits
    are read), ``default`` when absent or empty; else 400 naming it."""
    raw = args.get(name)
    if raw is None or raw.strip() == "":
        return default
    text = raw.strip()
    if not re.fullmatch(r"[0-9]{1,12}", text) or not low <= int(text) <= high:
        raise ApiError(400, f"{name}: must be a whole number from {low} to {high}, got {raw[:24]!r}", name)
    return int(text)
