"""pyflakes over the whole tree: a name used but never defined, a method defined
twice in one class (the second silently wins), an import or a variable left
behind.  A deliberate re-export says so with ``# noqa`` on its line."""
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def source_line(report: str) -> str:
    path, line = report.split(":")[:2]
    return (ROOT / path).read_text().splitlines()[int(line) - 1]


def test_pyflakes_finds_nothing():
    done = subprocess.run([sys.executable, "-m", "pyflakes", "device", "web", "tests"],
                          cwd=ROOT, capture_output=True, text=True)
    assert done.returncode in (0, 1) and not done.stderr, done.stderr
    found = [r for r in done.stdout.splitlines() if "# noqa" not in source_line(r)]
    assert not found, "\n".join(found)
