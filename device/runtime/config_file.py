"""The config file (TOML) and how it combines with the environment, flags and the page.

Where each value comes from, lowest to highest:

1. the defaults (the one copy in :class:`device.analysis.settings.Settings` and
   :mod:`device.hw.constants`);
2. the config file: ``/etc/smart-dowel/config.toml``, or ``--config FILE``, or
   ``$DOWEL_CONFIG``;
3. changes made on the dashboard page, kept in ``settings.json`` in the data
   directory: they survive restarts and win over the file (the program never
   rewrites the file).  Setting a value on the page back to the file's value
   drops the page's change, so the file governs that key again;
4. the environment: ``DOWEL_<SECTION>_<KEY>`` (``DOWEL_DASHBOARD_PORT=8081``;
   the data directory is ``$DOWEL_DATA_DIR`` or ``--data-dir``, not a key);
5. flags on the command line (``--port 8081``).

Environment and flags set the value this start begins with; they are not
stored, so the next start without them goes back to the page's or the file's.
Only the keys that are also dashboard settings (ADC chip, data rate, gain,
sensitivity, debounce, minimum depth, buzzer) can be changed on the page.

An unknown key, a value of the wrong type or out of range raises
:class:`ConfigError` naming the key and where it came from (the file's line,
the environment variable or the flag); the command line turns it into exit 2.
"""
from __future__ import annotations

import dataclasses
import json
import logging
import os
import re
import sys
from pathlib import Path
from typing import Any, Callable, Mapping, Optional

from device.analysis.settings import Settings, SettingsError
from device.hw import constants
from device.runtime.settings_store import SettingsStore, check_each_change, read_settings_json

log = logging.getLogger(__name__)

DEFAULT_PATH = Path("/etc/smart-dowel/config.toml")

#: Gains the ADS1x15 knows; 2/3 is written 0.667 in the file (TOML has no fractions).
_GAINS = (2 / 3, 1, 2, 4, 8, 16)
_DEFAULTS = Settings()


class ConfigError(ValueError):
    """A bad config value: ``key`` is the dotted key, ``where`` says where it came from."""

    def __init__(self, key: str, where: str, message: str):
        super().__init__(f"{where}: {key}: {message}" if where else f"{key}: {message}")
        self.key = key
        self.where = where
        self.message = message


@dataclasses.dataclass(frozen=True)
class Key:
    """One config key: its type, default, check and the dashboard setting it seeds."""

    section: str
    name: str
    kind: type                        # str, int, float or bool
    default: Any
    help: str
    check: Optional[Callable[[Any], Optional[str]]] = None   # returns what is wrong, or None
    setting: Optional[str] = None     # the Settings field it is the start value of
    env: Optional[str] = None         # environment variable, if not DOWEL_<SECTION>_<KEY>

    @property
    def dotted(self) -> str:
        return f"{self.section}.{self.name}"

    @property
    def env_name(self) -> str:
        return self.env or f"DOWEL_{self.section.upper()}_{self.name.upper()}"


def _one_of(choices) -> Callable[[Any], Optional[str]]:
    return lambda v: None if v in choices else f"must be one of {', '.join(map(str, choices))}"


def _between(lo, hi, unit: str = "") -> Callable[[Any], Optional[str]]:
    return lambda v: None if lo <= v <= hi else f"must be between {lo} and {hi}{unit}"


def _gpio(v: int) -> Optional[str]:
    if v in (constants.PIN_SDA, constants.PIN_SCL):
        return f"GPIO{v} is the I2C bus (SDA GPIO2, SCL GPIO3)"
    return None if 0 <= v <= 27 else "must be a BCM GPIO number between 0 and 27"


def _gain(v: float) -> Optional[str]:
    return None if any(abs(v - g) < 1e-3 for g in _GAINS) else "must be one of 0.667 (2/3), 1, 2, 4, 8, 16"


def _broker(v: str) -> Optional[str]:
    if v == "":
        return None
    from device.runtime.mqtt import MqttConfigError, parse_broker_url   # the one copy of the rule

    try:
        parse_broker_url(v)
    except MqttConfigError as exc:
        return str(exc)
    return None


#: Every key, in the order the file and ``dowel config`` show them.
KEYS = (
    Key("adc", "chip", str, _DEFAULTS.chip, 'ADC model: "ADS1115" (16-bit, 860 SPS) or "ADS1015" (12-bit, 3300 SPS)',
        _one_of(tuple(constants.DEFAULT_DATA_RATE)), setting="chip"),
    Key("adc", "address", int, constants.ADS_ADDRESS,
        "I2C address: 0x48 with ADDR to GND, 0x49 VDD, 0x4A SDA, 0x4B SCL", _between(0x48, 0x4B)),
    Key("adc", "data_rate", int, _DEFAULTS.data_rate,
        "samples per second, shared by the four channels (default: the chip's fastest)", setting="data_rate"),
    Key("adc", "gain", float, float(_DEFAULTS.gain), "PGA gain: 1 = +-4.096 V full scale (the FSRs reach 3.3 V)",
        _gain, setting="gain"),
    Key("adc", "alert_rdy", bool, True,
        "ALERT/RDY is wired to pins.alert_rdy (false: poll the chip over I2C instead)"),
    Key("pins", "led", int, constants.PIN_LED, "status LED (BCM number)", _gpio),
    Key("pins", "buzzer", int, constants.PIN_BUZZER, "buzzer transistor's base resistor (BCM number)", _gpio),
    Key("pins", "button", int, constants.PIN_BUTTON, "push button to GND (BCM number)", _gpio),
    Key("pins", "alert_rdy", int, constants.PIN_ALERT_RDY, "ADS1115 ALERT/RDY (BCM number)", _gpio),
    Key("detection", "sensitivity", float, _DEFAULTS.sensitivity,
        "contact thresholds, 0..1: higher = a smaller drop in force counts as a loss",
        setting="sensitivity"),
    Key("detection", "debounce_ms", float, _DEFAULTS.debounce_ms,
        "a point must read below its threshold this long to count as lost", setting="debounce_ms"),
    Key("detection", "min_depth_deg", float, _DEFAULTS.min_depth_deg,
        "shallower hinges are wobbles, not reps", setting="min_depth_deg"),
    Key("alerts", "buzzer", bool, _DEFAULTS.buzzer, "the buzzer sounds with the LED (false: LED only)",
        setting="buzzer"),
    Key("dashboard", "host", str, "0.0.0.0", 'address to serve the dashboard on ("127.0.0.1": this machine only)'),
    Key("dashboard", "port", int, 8080, "dashboard port (0: any free port)", _between(0, 65535)),
    Key("mqtt", "broker", str, "", 'MQTT broker: "host", "host:port" or mqtt[s]://[user[:password]@]host[:port]'
                                  '[?ca=FILE] (mqtts: TLS); empty: no MQTT', _broker),
)
BY_DOTTED = {k.dotted: k for k in KEYS}
SECTIONS = tuple(dict.fromkeys(k.section for k in KEYS))


@dataclasses.dataclass
class Config:
    """The effective values (``values["dashboard.port"]``) and where each came from."""

    values: dict
    sources: dict                       # dotted key -> "default", "file config.toml:12", ...
    path: Optional[Path]                # the file read, or None
    file_values: dict                   # what the file said (dotted key -> value)

    def __getitem__(self, dotted: str) -> Any:
        return self.values[dotted]

    def start_settings(self) -> Settings:
        """The dashboard settings this start begins with, before the page's changes."""
        changes = {k.setting: self.values[k.dotted] for k in KEYS if k.setting}
        try:
            return _DEFAULTS.updated(changes)
        except SettingsError as exc:
            key = next(k for k in KEYS if k.setting == exc.field)
            raise ConfigError(key.dotted, _where(self.sources[key.dotted]), exc.message) from None

    def pinned_settings(self) -> set:
        """Settings fields set by the environment or a flag: they win over the page."""
        return {k.setting for k in KEYS if k.setting and self.sources[k.dotted].startswith(("env ", "flag "))}

    def settings_with_page(self, stored: Mapping) -> "tuple[Settings, dict]":
        """Start settings with the page's stored changes (``settings.json``) on top;
        environment and flags win over the page for this start.  Returns the
        settings and {field: value} of the page changes that took effect."""
        base = self.start_settings()
        pinned = self.pinned_settings()
        page = {f: v for f, v in stored.items() if f not in pinned}
        while True:
            try:
                return base.updated(page), page
            except SettingsError as exc:
                # A stored change that no longer fits (the file now names another
                # chip, say) is dropped rather than stopping the start.
                if exc.field not in page:
                    raise
                log.warning("page setting %s=%r no longer fits the config (%s): not used",
                            exc.field, page.pop(exc.field), exc.message)


class PageSettingsStore(SettingsStore):
    """``settings.json`` holding only what the page changed.

    The core saves its whole :class:`Settings` on every change; this store keeps
    just the fields that differ from the start settings (defaults, file,
    environment, flags), so an edit of the config file still takes effect for
    every key the page never touched.  A stored change to a field pinned by the
    environment or a flag is kept for the starts without them.
    """

    def __init__(self, path: Path, config: Config):
        super().__init__(path)
        self.config = config
        self.base = config.start_settings()
        self.pinned = config.pinned_settings()
        self._current: Optional[Settings] = None     # what was last loaded or saved

    def load_changes(self) -> dict:
        """The page's stored changes as saved ({} if there are none)."""
        return check_each_change(read_settings_json(self.path), self.path)

    def load(self) -> Settings:
        changes = self.load_changes()      # its errors already name the file
        try:
            settings = self.config.settings_with_page(changes)[0]
        except SettingsError as exc:
            raise SettingsError(exc.field, f"{self.path}: {exc.message}") from None
        self._current = settings
        return settings

    def save(self, settings: Settings) -> None:
        new, base = settings.to_dict(), self.base.to_dict()
        current = (self._current or self.base).to_dict()
        changes = {f: v for f, v in new.items() if v != base.get(f)}
        try:
            old = self.load_changes()
        except SettingsError:
            old = {}
        for field in self.pinned:
            if new.get(field) != current.get(field):
                changes[field] = new[field]       # chosen on the page now: kept for later starts
            elif field not in changes and field in old:
                changes[field] = old[field]
        self.commit(json.dumps(changes, indent=2) + "\n")
        self._current = settings

    def fallback(self) -> Settings:
        return self.base


# -- reading -----------------------------------------------------------------------
def _toml_loads(text: str) -> dict:
    if sys.version_info >= (3, 11):
        import tomllib
    else:
        import tomli as tomllib
    return tomllib.loads(text)


_HEADER = re.compile(r"^\s*\[\s*([A-Za-z0-9_.\-\"' ]+?)\s*\]\s*(#.*)?$")
_ASSIGN = re.compile(r"^\s*([A-Za-z0-9_.\-\"' ]+?)\s*=")


def key_lines(text: str) -> dict:
    """1-based line of each table and key in a TOML text: {"adc": 3, "adc.chip": 4}.

    tomllib reports no positions, so the lines are found here; good enough for
    the tables, dotted keys and ``key = value`` lines a config file has (a key
    inside an inline table gets its table's line)."""
    lines: dict = {}
    table = ""
    for number, line in enumerate(text.splitlines(), start=1):
        header = _HEADER.match(line)
        if header and not line.lstrip().startswith("[["):
            table = _unquote(header.group(1))
            lines.setdefault(table, number)
            continue
        assign = _ASSIGN.match(line)
        if assign and not line.lstrip().startswith("#"):
            key = _unquote(assign.group(1))
            full = f"{table}.{key}" if table else key
            lines.setdefault(full, number)
            if "." in key and not table:
                lines.setdefault(key.split(".")[0], number)
    return lines


def _unquote(dotted: str) -> str:
    return ".".join(part.strip().strip("\"'") for part in dotted.split("."))


def read_file(path: Path) -> "tuple[dict, dict]":
    """(values, sources) from a config file, every key checked; ConfigError otherwise."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError("config", str(path), f"cannot read the config file ({exc.strerror or exc})") from None
    try:
        data = _toml_loads(text)
    except Exception as exc:                       # tomllib.TOMLDecodeError names line and column
        raise ConfigError("config", str(path), f"not valid TOML: {exc}") from None
    lines = key_lines(text)

    def where(dotted: str) -> str:
        line = lines.get(dotted) or lines.get(dotted.split(".")[0])
        return f"{path}:{line}" if line else str(path)

    values, sources = {}, {}
    for section, table in data.items():
        if section not in SECTIONS:
            raise ConfigError(section, where(section), f"unknown section (known: {', '.join(SECTIONS)})")
        if not isinstance(table, dict):
            raise ConfigError(section, where(section), f"must be a table: [{section}]")
        for name, raw in table.items():
            dotted = f"{section}.{name}"
            key = BY_DOTTED.get(dotted)
            if key is None:
                known = ", ".join(k.name for k in KEYS if k.section == section)
                raise ConfigError(dotted, where(dotted), f"unknown key (known in [{section}]: {known})")
            values[dotted] = _checked(key, _typed(key, raw, where(dotted)), where(dotted))
            sources[dotted] = f"file {where(dotted)}"
    return values, sources


def _typed(key: Key, raw: Any, where: str) -> Any:
    """A TOML value checked against the key's type (an int is a fine float)."""
    ok = {
        bool: isinstance(raw, bool),
        int: isinstance(raw, int) and not isinstance(raw, bool),
        float: isinstance(raw, (int, float)) and not isinstance(raw, bool),
        str: isinstance(raw, str),
    }[key.kind]
    if not ok:
        raise ConfigError(key.dotted, where, f"expected {_kind_name(key.kind)}, got {_toml_repr(raw)}")
    return float(raw) if key.kind is float else raw


def _parse_text(key: Key, text: str, where: str) -> Any:
    """A value given as text (an environment variable or a flag)."""
    text = text.strip()
    try:
        if key.kind is bool:
            low = text.lower()
            if low in ("1", "true", "yes", "on"):
                return True
            if low in ("0", "false", "no", "off"):
                return False
            raise ValueError
        if key.kind is int:
            return int(text, 0)              # 0x48 as well as 72
        if key.kind is float:
            value = float(text)
            if value != value or value in (float("inf"), float("-inf")):
                raise ValueError
            return value
    except ValueError:
        raise ConfigError(key.dotted, where, f"expected {_kind_name(key.kind)}, got {text!r}") from None
    return text


def _checked(key: Key, value: Any, where: str) -> Any:
    if key.kind is float and value != value:
        raise ConfigError(key.dotted, where, "expected a finite number")
    problem = key.check(value) if key.check else None
    if problem:
        raise ConfigError(key.dotted, where, problem)
    if key.dotted == "adc.gain":
        value = next(g for g in _GAINS if abs(value - g) < 1e-3)
    return value


def _kind_name(kind: type) -> str:
    return {bool: "true or false", int: "a whole number", float: "a number", str: "a string"}[kind]


def _toml_repr(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "an array"
    return repr(value)


def config_path(flag: Optional[str], env: Mapping) -> "tuple[Optional[Path], bool]":
    """The file to read and whether it must exist (named by a flag or the environment)."""
    if flag:
        return Path(flag), True
    if env.get("DOWEL_CONFIG"):
        return Path(env["DOWEL_CONFIG"]), True
    return DEFAULT_PATH, False


def load(config_flag: Optional[str] = None, env: Optional[Mapping] = None,
         flags: Optional[Mapping] = None) -> Config:
    """The effective config: defaults < file < environment < flags.

    ``flags`` maps dotted keys to (value, flag name) for the flags that were
    given; values already have the key's type (argparse parsed them) or are text.
    """
    env = os.environ if env is None else env
    values = {k.dotted: k.default for k in KEYS}
    sources = {k.dotted: "default" for k in KEYS}
    path, required = config_path(config_flag, env)
    file_values: dict = {}
    if path is not None and (required or path.exists()):
        if not path.exists():
            raise ConfigError("config", str(path), "no such config file")
        file_values, file_sources = read_file(path)
        values.update(file_values)
        sources.update(file_sources)
    else:
        path = None
    for key in KEYS:
        if key.env_name in env:
            where = f"env {key.env_name}"
            values[key.dotted] = _checked(key, _parse_text(key, env[key.env_name], where), where)
            sources[key.dotted] = where
    for dotted, (value, flag) in (flags or {}).items():
        key = BY_DOTTED[dotted]
        where = f"flag {flag}"
        if isinstance(value, str) and key.kind is not str:
            value = _parse_text(key, value, where)
        values[dotted] = _checked(key, value, where)
        sources[dotted] = where
    # The data rate's default is the chip's fastest, whichever chip was chosen.
    if sources["adc.data_rate"] == "default":
        values["adc.data_rate"] = constants.DEFAULT_DATA_RATE.get(values["adc.chip"], values["adc.data_rate"])
    _check_pins(values, sources)
    config = Config(values, sources, path, file_values)
    config.start_settings()                  # cross-key checks (data rate for the chip)
    return config


def _where(source: str) -> str:
    """A source as an error prefix: ``config.toml:3`` like a compiler, ``env DOWEL_...``."""
    return source[len("file "):] if source.startswith("file ") else source


def _check_pins(values: dict, sources: dict) -> None:
    seen: dict = {}
    for key in KEYS:
        if key.section != "pins":
            continue
        if key.name == "alert_rdy" and not values["adc.alert_rdy"]:
            continue
        pin = values[key.dotted]
        if pin in seen:
            # Blame the key that was set, not the default it collides with.
            blamed, other = key.dotted, seen[pin]
            if sources[blamed] == "default":
                blamed, other = other, blamed
            raise ConfigError(blamed, _where(sources[blamed]), f"GPIO{pin} is already {other}")
        seen[pin] = key.dotted


# -- writing the commented file ------------------------------------------------------
def template() -> str:
    """The config file the installer writes: every key commented out at its default."""
    out = [
        "# Smart dowel configuration (TOML). Every key is shown at its default, commented out:",
        "# remove the '#' in front of a key to change it, then: sudo systemctl restart smart-dowel",
        "#",
        "# Lowest to highest: these defaults < this file < changes made on the dashboard page",
        "# (kept in settings.json in the data directory) < environment DOWEL_<SECTION>_<KEY>",
        "# < command-line flags. The program never rewrites this file; `dowel config` shows",
        "# every value in effect and where it came from.",
    ]
    for section in SECTIONS:
        out += ["", f"[{section}]"]
        for key in (k for k in KEYS if k.section == section):
            page = "; the page can change it" if key.setting else ""
            out.append(f"# {key.help}{page}")
            out.append(f"#{key.name} = {format_value(key, key.default)}")
    return "\n".join(out) + "\n"


def format_value(key: Key, value: Any) -> str:
    """A value as TOML writes it (the address in hex, 2/3 as 0.667)."""
    if key.dotted == "adc.address":
        return f"0x{value:02X}"
    if key.dotted == "adc.gain":
        return "0.667" if abs(value - 2 / 3) < 1e-3 else f"{value:g}"
    if key.kind is bool:
        return "true" if value else "false"
    if key.kind is str:
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if key.kind is float:
        return f"{value:g}" if value != int(value) else f"{value:.1f}"
    return str(value)


if __name__ == "__main__":              # the installer: python -m device.runtime.config_file > config.toml
    sys.stdout.write(template())
