"""Plain-text tables and percentiles shared by the benchmarks."""
from __future__ import annotations

from typing import Iterable, List, Optional, Sequence

import numpy as np


def table(headers: Sequence[str], rows: Iterable[Sequence], title: str = "") -> str:
    """A plain-text table with right-aligned numbers."""
    rows = [[_fmt(v) for v in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h)
              for i, h in enumerate(headers)]
    line = "  ".join(h.ljust(w) for h, w in zip(headers, widths))
    out = [title] if title else []
    out += [line, "  ".join("-" * w for w in widths)]
    for r in rows:
        out.append("  ".join(v.rjust(w) if _numeric(v) else v.ljust(w) for v, w in zip(r, widths)))
    return "\n".join(out)


def _fmt(v) -> str:
    if isinstance(v, float):
        return f"{v:.3g}" if abs(v) < 0.01 and v != 0 else f"{v:,.2f}".rstrip("0").rstrip(".")
    return str(v)


def _numeric(s: str) -> bool:
    return s.replace(",", "").replace(".", "").replace("-", "").replace("%", "").rstrip("x").isdigit()


def pct(values, qs=(50, 95, 99)) -> list:
    arr = np.asarray(list(values), dtype=float)
    if arr.size == 0:
        return [float("nan")] * len(qs)
    return [float(np.percentile(arr, q)) for q in qs]




class Row:
    """One line of the ``dowel bench`` summary: a figure beside its target."""

    def __init__(self, what: str, measured: str, target: str = "", ok: Optional[bool] = None,
                 virtual: bool = False) -> None:
        self.what, self.measured, self.target, self.ok, self.virtual = \
            what, measured, target, ok, virtual

    @property
    def verdict(self) -> str:
        return "" if self.ok is None else ("ok" if self.ok else "below")

    def to_dict(self) -> dict:
        return {"what": self.what, "measured": self.measured, "target": self.target,
                "verdict": self.verdict, "virtual_time": self.virtual}


class BenchResult:
    """What one benchmark gives the runner: its own table, summary rows, raw data."""

    def __init__(self, name: str, text: str, rows: List[Row], data: dict) -> None:
        self.name, self.text, self.rows, self.data = name, text, rows, data
