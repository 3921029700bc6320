"""The layer rule, enforced: each folder of device/ imports only what its layer may.

* Nothing in device/ outside device/cli/ imports flask, waitress or web: the
  core never waits for, or even knows, the dashboard.
* Nothing in device/analysis/ imports threading, time, sqlite3 or numpy: the
  per-frame logic takes plain numbers and timestamps, so a replay runs as fast
  as the CPU allows and gives the same answer as live.

Each module is imported in a child interpreter with the forbidden names
blocked, so a module that pulls a forbidden one in through another of ours is
caught too, and the failure names the module that did the import.
"""
from __future__ import annotations

import ast
import json
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

RULES = {
    # package prefix -> (modules it may not import, which packages are exempt)
    "web-free": ("device.", ("flask", "waitress", "web", "werkzeug"), ("device.cli",)),
    "pure-analysis": ("device.analysis", ("threading", "time", "sqlite3", "numpy"), ()),
}

# Runs in the child: import each module with the blocked names refused; report
# (module, blocked name, the device module whose import statement asked for it).
CHILD = r"""
import importlib, json, sys
blocked = set(json.loads(sys.argv[1])); modules = json.loads(sys.argv[2])

class Refuse(ImportError):
    pass

class Blocker:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in blocked:
            frame, importer = sys._getframe(1), "?"
            while frame is not None:
                mod = frame.f_globals.get("__name__", "")
                if mod.startswith("device"):
                    importer = mod
                    break
                frame = frame.f_back
            raise Refuse(json.dumps([name, importer]))
        return None

# Forget what is loaded once, then keep the blocker in.  A module that imported
# with it in place is clean all the way down, so later ones may reuse it; a
# failed import is not kept (Python drops it), so every module that depends on a
# bad one hits the refusal again and is reported with it.
for name in [m for m in sys.modules if m.split(".")[0] in blocked | {"device"}]:
    del sys.modules[name]
sys.meta_path.insert(0, Blocker())
found = []
for module in modules:
    try:
        importlib.import_module(module)
    except Refuse as exc:
        name, importer = json.loads(str(exc))
        found.append([module, name, importer])
print(json.dumps(found))
"""


def _modules(prefix: str, exempt: tuple) -> list:
    import device

    names = [m.name for m in pkgutil.walk_packages(device.__path__, "device.")]
    return sorted(n for n in names
                  if n.startswith(prefix) and not n.endswith("__main__")
                  and not any(n == e or n.startswith(e + ".") for e in exempt))


@pytest.mark.parametrize("rule", sorted(RULES))
def test_layer_rule(rule):
    prefix, blocked, exempt = RULES[rule]
    modules = _modules(prefix, exempt)
    assert modules, f"no modules under {prefix}"
    out = subprocess.run([sys.executable, "-c", CHILD, json.dumps(blocked), json.dumps(modules)],
                         cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    broken = json.loads(out.stdout.strip().splitlines()[-1])
    assert not broken, "\n".join(
        f"{module} imports {name} (through {importer})" for module, name, importer in broken)


@pytest.mark.parametrize("rule", sorted(RULES))
def test_no_deferred_import_breaks_the_rule(rule):
    """An import inside a function escapes the import-time check; read the source too."""
    prefix, blocked, exempt = RULES[rule]
    broken = []
    for module in _modules(prefix, exempt):
        path = ROOT / (module.replace(".", "/") + ".py")
        if not path.exists():
            path = ROOT / module.replace(".", "/") / "__init__.py"
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                if name.split(".")[0] in blocked:
                    broken.append(f"{path.relative_to(ROOT)}:{node.lineno}: imports {name}")
    assert not broken, "\n".join(broken)


def test_the_rule_catches_a_forbidden_import(tmp_path):
    """The checker itself can fail: a module that imports time is reported."""
    pkg = tmp_path / "device" / "analysis"
    pkg.mkdir(parents=True)
    (tmp_path / "device" / "__init__.py").write_text("")
    (pkg / "__init__.py").write_text("")
    (pkg / "sneaky.py").write_text("import time\n")
    (pkg / "clean.py").write_text("import math\n")
    # through a module already refused once: still reported, naming the culprit
    (pkg / "user.py").write_text("from device.analysis import clean, sneaky\n")
    out = subprocess.run([sys.executable, "-c", CHILD, json.dumps(["time"]),
                          json.dumps(["device.analysis.sneaky", "device.analysis.clean",
                                      "device.analysis.user"])],
                         cwd=tmp_path, capture_output=True, text=True, timeout=60,
                         env={"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin:/bin"})
    assert json.loads(out.stdout.strip().splitlines()[-1]) == [
        ["device.analysis.sneaky", "time", "device.analysis.sneaky"],
        ["device.analysis.user", "time", "device.analysis.sneaky"]]
