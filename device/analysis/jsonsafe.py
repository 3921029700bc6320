"""JSON that every reader accepts: NaN and infinities (a depth or force the
analysis could not know) become null, as browsers, MQTT consumers and export
readers cannot parse bare ``NaN``.  One copy, for the web, MQTT and export."""
from __future__ import annotations

import json
import math


def finite(obj):
    """``obj`` with every non-finite float replaced by None; sets and tuples
    become lists, numpy scalars plain numbers."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple, set, frozenset)):
        return [finite(v) for v in obj]
    if hasattr(obj, "item"):
        return finite(obj.item())
    return obj


def _default(obj):
    # numpy scalars and other number-likes from the analysis
    if hasattr(obj, "item"):
        return obj.item()
    if isinstance(obj, (set, frozenset, tuple)):
        return list(obj)
    raise TypeError(f"{type(obj).__name__} is not JSON serialisable")


def dumps(obj) -> str:
    """Compact JSON with NaN and infinities as null.  The common case (nothing
    non-finite) is one plain ``json.dumps``; only a failure walks the object."""
    try:
        return json.dumps(obj, separators=(",", ":"), allow_nan=False, default=_default)
    except ValueError:
        return json.dumps(finite(obj), separators=(",", ":"), allow_nan=False, default=_default)
