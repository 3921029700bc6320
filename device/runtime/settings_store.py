"""Settings on disk: ``settings.json`` in the data directory.

Saving is atomic and durable: a temporary file is written, fsynced, renamed
over the old one and the directory fsynced, so a power cut mid-save leaves
either the old or the new settings, never a torn file.  Every save (and every
load that validated) also refreshes ``settings.json.good``, the last settings
known to be good.

Loading comes in two kinds:

- :meth:`SettingsStore.load` is strict: a file that cannot be read or
  validated raises :class:`SettingsError` naming the file and the field.  The
  one-shot commands (``dowel replay``, ``calibrate``...) stop with exit 2 on it.
- :meth:`SettingsStore.load_or_recover` is what the device uses: the device
  always comes up.  A bad file is set aside as ``settings.json.bad-<time>`` and
  the device starts on the last good settings (or the defaults); what happened
  is in :attr:`SettingsStore.warnings` for the log, the status snapshot and
  ``systemctl status``.
"""
from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import time
from pathlib import Path
from typing import List

from device.analysis.settings import Settings, SettingsError
from device.hw import constants

log = logging.getLogger(__name__)

#: Far bigger than any settings file (about 1 KB); a bigger one is not ours.
MAX_SETTINGS_BYTES = 256 * 1024


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


def _non_finite(value, where: str = ""):
    """The dotted key of the first NaN or infinity in ``value`` (None if none).
    json.loads takes NaN and Infinity; a settings file never means them, and a
    NaN threshold would quietly switch loss detection off."""
    if isinstance(value, float) and not math.isfinite(value):
        return where or "settings"
    items = value.items() if isinstance(value, dict) else \
        enumerate(value) if isinstance(value, list) else ()
    for key, item in items:
        found = _non_finite(item, f"{where}.{key}" if where else str(key))
        if found:
            return found
    return None


def read_settings_json(path: Path) -> dict:
    """The JSON object in ``path`` ({} if there is no file).

    :class:`SettingsError` (field ``settings``) names the file and says why it
    cannot be used: a directory, unreadable, too big, not UTF-8, not JSON, NaN,
    or not an object."""
    path = Path(path)
    if not path.exists() and not path.is_symlink():
        return {}
    if path.is_dir():
        raise SettingsError("settings", f"{path}: is a directory, not a settings file")
    try:
        with open(path, "rb") as f:
            raw = f.read(MAX_SETTINGS_BYTES + 1)
    except OSError as exc:
        raise SettingsError("settings", f"{path}: cannot read settings ({exc.strerror or exc})") from None
    if len(raw) > MAX_SETTINGS_BYTES:
        raise SettingsError("settings", f"{path}: over {MAX_SETTINGS_BYTES} bytes, not a settings file")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SettingsError("settings", f"{path}: not UTF-8 text (byte {exc.start})") from None
    if not text.strip():
        raise SettingsError("settings", f"{path}: empty file (a save cut short?)")
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as exc:   # JSONDecodeError is a ValueError
        raise SettingsError("settings", f"{path}: not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise SettingsError("settings", f"{path}: expected a JSON object, got {type(data).__name__}")
    try:
        bad = _non_finite(data)
    except RecursionError:
        raise SettingsError("settings", f"{path}: nested too deeply to be settings") from None
    if bad:
        raise SettingsError(bad.split(".")[0], f"{path}: {bad}: expected a finite number")
    return data


def check_each_change(changes: dict, path: Path) -> dict:
    """``changes`` (stored settings) if each one is valid on its own; else
    :class:`SettingsError` naming the file and the field.

    On its own means against the defaults with either ADC chip, since a data
    rate is only valid with its chip and the chip may come from elsewhere (the
    config file).  A change that is valid but no longer fits the rest is the
    caller's business; an unknown key, a wrong type or a value out of range
    means the file is not what the device wrote."""
    for field, value in changes.items():
        first = None
        for chip, rate in constants.DEFAULT_DATA_RATE.items():
            base = Settings().updated({"chip": chip, "data_rate": rate})
            try:
                base.updated({field: value} if field != "chip" else
                             {"chip": value, "data_rate": constants.DEFAULT_DATA_RATE.get(value, rate)})
                break
            except SettingsError as exc:
                first = first or exc
        else:
            raise SettingsError(first.field, f"{path}: {first.message}")
    return changes


def write_atomic(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` so that a crash or power cut at any moment
    leaves the old file or the new one: write a temporary file, fsync it, rename
    it over ``path``, fsync the directory (which makes the rename durable)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    _fsync_dir(path.parent)


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class SettingsStore:
    """Loads and saves :class:`Settings` as ``settings.json`` in the data directory.

    Subclasses that store something else than the whole settings override
    :meth:`load` and :meth:`save`; :meth:`save` implementations write through
    :meth:`commit` so the file stays durable and the good copy current.
    """

    def __init__(self, path: Path):
        self.path = Path(path)
        #: what :meth:`load_or_recover` had to do, in words (empty when all was well)
        self.warnings: List[str] = []

    @property
    def good_path(self) -> Path:
        """The last settings known to be good (refreshed on every save and good load)."""
        return self.path.with_name(self.path.name + ".good")

    def load(self) -> Settings:
        data = read_settings_json(self.path)
        try:
            return Settings().updated(data)
        except SettingsError as exc:
            raise SettingsError(exc.field, f"{self.path}: {exc.message}") from None

    def save(self, settings: Settings) -> None:
        self.commit(json.dumps(settings.to_dict(), indent=2) + "\n")

    def commit(self, text: str) -> None:
        """Write ``text`` as the settings file and as the last good copy."""
        write_atomic(self.path, text)
        write_atomic(self.good_path, text)

    # -- the device always comes up ---------------------------------------------
    def load_or_recover(self) -> Settings:
        """:meth:`load`, but a file that cannot be used never stops the device: it is
        set aside, the last good copy (or nothing: the defaults) takes its place,
        and :attr:`warnings` says so."""
        try:
            settings = self.load()
        except Exception as exc:      # any failure to read or validate: not only SettingsError
            return self._recover(exc)
        self._remember_good()
        return settings

    def fallback(self) -> Settings:
        """What the device starts on when no file can be used."""
        return Settings()

    def _recover(self, exc: Exception) -> Settings:
        aside = self._set_aside(self.path)
        where = f"set aside as {aside.name}" if aside else "it could not be moved aside"
        settings = self._load_good()
        if settings is not None:
            started = f"the last good settings ({self.good_path.name})"
            try:    # the next start finds them in place
                write_atomic(self.path, self.good_path.read_text(encoding="utf-8-sig"))
            except OSError as write_exc:
                log.warning("cannot put the good settings back: %s", write_exc)
        else:
            settings, started = self.fallback(), "the defaults"
        message = f"settings not used: {exc} ({where}); started on {started}"
        log.warning("%s", message)
        self.warnings.append(message)
        return settings

    def _load_good(self):
        """The settings in the good copy, or None.  Loaded through :meth:`load` with
        the path swapped, so a subclass's own format applies (no write needed)."""
        if not self.good_path.is_file():
            return None
        path, self.path = self.path, self.good_path
        try:
            return self.load()
        except Exception as exc:
            log.warning("the last good settings cannot be used either: %s", exc)
            return None
        finally:
            self.path = path

    def _set_aside(self, path: Path):
        """Rename a bad file to ``<name>.bad-<time>``; the new path, or None."""
        stamp = time.strftime("%Y%m%dT%H%M%S")
        aside = path.with_name(f"{path.name}.bad-{stamp}")
        n = 1
        while aside.exists():
            n += 1
            aside = path.with_name(f"{path.name}.bad-{stamp}-{n}")
        try:
            os.replace(path, aside)
            _fsync_dir(path.parent)
        except OSError as exc:
            log.warning("cannot set %s aside: %s", path, exc)
            return None
        return aside

    def _remember_good(self) -> None:
        """A file that loaded and validated becomes the good copy (if it changed)."""
        try:
            text = self.path.read_text(encoding="utf-8-sig") if self.path.is_file() else None
            if text is None:
                return
            old = self.good_path.read_text(encoding="utf-8-sig") if self.good_path.is_file() else None
            if text != old:
                write_atomic(self.good_path, text)
        except OSError as exc:      # a read-only data directory: the device still runs
            log.info("cannot refresh %s: %s", self.good_path, exc)
