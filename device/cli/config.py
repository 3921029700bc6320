"""``dowel config``: the settings in effect and where each came from.

Also what the other commands use to read the config file: :func:`load_config`
turns the flags a command was given into the config loader's overrides and a
bad value into exit 2.
"""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

EXIT_OK, EXIT_BAD_INPUT = 0, 2

#: argparse dest -> (dotted config key, flag as typed, value when the flag is a switch).
FLAG_KEYS = {
    "chip": ("adc.chip", "--chip", None),
    "address": ("adc.address", "--address", None),
    "data_rate": ("adc.data_rate", "--data-rate", None),
    "no_rdy": ("adc.alert_rdy", "--no-rdy", False),
    "debounce_ms": ("detection.debounce_ms", "--debounce-ms", None),
    "min_depth_deg": ("detection.min_depth_deg", "--min-depth-deg", None),
    "no_buzzer": ("alerts.buzzer", "--no-buzzer", False),
    "host": ("dashboard.host", "--host", None),
    "port": ("dashboard.port", "--port", None),
    "mqtt": ("mqtt.broker", "--mqtt", None),
}

COMBINING = (
    "Lowest to highest: defaults < config file < changes made on the dashboard page "
    "(kept in settings.json) < environment (DOWEL_*) < flags.\n"
    "The program never rewrites the config file. A change made on the page wins over "
    "the file until it is set back to the file's value on the page; environment and "
    "flags apply to this start only.")


def flag_overrides(args) -> dict:
    """{dotted key: (value, flag)} for the flags given on this command line."""
    given = {}
    for dest, (dotted, flag, switch_value) in FLAG_KEYS.items():
        value = getattr(args, dest, None)
        if switch_value is not None:
            if value:
                given[dotted] = (switch_value, flag)
        elif value is not None:
            given[dotted] = (str(value) if isinstance(value, Path) else value, flag)
    return given


def load_config(args):
    """The effective config for a command's flags; a bad value exits 2 naming it."""
    from device.runtime import config_file

    try:
        return config_file.load(getattr(args, "config", None), flags=flag_overrides(args))
    except config_file.ConfigError as exc:
        print(f"dowel: error: {exc}", file=sys.stderr)
        raise SystemExit(EXIT_BAD_INPUT) from None


def data_dir(args) -> Path:
    """``--data-dir``, else the default data directory."""
    from device.runtime.settings_store import default_data_dir

    return Path(args.data_dir) if getattr(args, "data_dir", None) else default_data_dir()


def page_store(args, config):
    """The page's settings store (settings.json in the data directory) on top of ``config``."""
    from device.runtime.config_file import PageSettingsStore

    return PageSettingsStore(data_dir(args) / "settings.json", config)


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "config", help="print the settings in effect and where each came from",
        description="Print every setting in effect and where it came from (default, the config "
                    "file and its line, a change made on the page, the environment, a flag). "
                    + COMBINING)
    add_config_flag(p)
    p.add_argument("--data-dir", metavar="DIR", help="where the page's changes are kept (settings.json)")
    p.add_argument("--json", action="store_true", help="one JSON document instead of a table")
    p.add_argument("--template", action="store_true",
                   help="print a config file with every key commented out at its default")
    p.set_defaults(func=cmd_config)


def add_config_flag(p) -> None:
    p.add_argument("--config", metavar="FILE",
                   help="config file (default: $DOWEL_CONFIG, else /etc/smart-dowel/config.toml if it exists)")


def cmd_config(args) -> int:
    from device.analysis.settings import SettingsError
    from device.runtime import config_file

    if args.template:
        sys.stdout.write(config_file.template())
        return EXIT_OK
    config = load_config(args)
    store = page_store(args, config)
    try:
        settings, page = config.settings_with_page(store.load_changes())
    except SettingsError as exc:
        print(f"dowel: error: {store.path}: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    rows = []
    for key in config_file.KEYS:
        value, source = config[key.dotted], config.sources[key.dotted]
        if key.setting and key.setting in page:
            note = f"; {source} says {config_file.format_value(key, value)}" if source != "default" else ""
            value, source = getattr(settings, key.setting), f"page ({store.path.name}){note}"
        rows.append((key, value, source))
    if args.json:
        json.dump({"config_file": str(config.path) if config.path else None,
                   "page_changes": str(store.path), "combining": COMBINING,
                   "values": {k.dotted: {"value": v, "from": s} for k, v, s in rows}},
                  sys.stdout, indent=1)
        print()
        return EXIT_OK
    path, _ = config_file.config_path(getattr(args, "config", None), os.environ)
    print(f"Config file:  {config.path if config.path else f'{path} (not there: defaults)'}")
    print(f"Page changes: {store.path}{'' if store.path.exists() else ' (none yet)'}")
    print(COMBINING)
    print("The page can change: " + ", ".join(k.dotted for k in config_file.KEYS if k.setting) + ".")
    print()
    width = max(len(k.dotted) for k in config_file.KEYS)
    vwidth = max(len(config_file.format_value(k, v)) for k, v, _ in rows)
    for key, value, source in rows:
        print(f"{key.dotted:<{width}}  {config_file.format_value(key, value):<{vwidth}}  {source}")
    return EXIT_OK
