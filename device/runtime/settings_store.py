"""Settings on disk: ``settings.json`` in the data directory."""
from __future__ import annotations

import json
import os
from pathlib import Path

from device.analysis.settings import Settings, SettingsError


def default_data_dir() -> Path:
    """``$DOWEL_DATA_DIR``, else ``/var/lib/smart-dowel`` when it is writable (the Pi
    image), else the user's data directory (``$XDG_DATA_HOME/smart-dowel``)."""
    env = os.environ.get("DOWEL_DATA_DIR")
    if env:
        return Path(env)
    pi_dir = Path("/var/lib/smart-dowel")
    if pi_dir.is_dir() and os.access(pi_dir, os.W_OK):
        return pi_dir
    xdg = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return Path(xdg) / "smart-dowel"


class SettingsStore:
    """Loads and saves :class:`Settings` as ``settings.json`` in the data directory.

    Saving writes a temporary file and renames it over the old one, so a power
    cut mid-save leaves the previous settings intact.
    """

    def __init__(self, path: Path):
        self.path = Path(path)

    def load(self) -> Settings:
        if not self.path.exists():
            return Settings()
        try:
            data = json.loads(self.path.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise SettingsError("settings", f"{self.path}: cannot read settings ({exc})") from None
        try:
            return Settings().updated(data)
        except SettingsError as exc:
            raise SettingsError(exc.field, f"{self.path}: {exc.message}") from None

    def save(self, settings: Settings) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(settings.to_dict(), indent=2) + "\n")
        os.replace(tmp, self.path)
