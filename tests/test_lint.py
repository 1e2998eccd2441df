"""The tree passes the linter and the formatter configured in pyproject.toml (ruff: pyflakes,
pycodestyle; `ruff format`, so `ruff format .` leaves every file as it is)."""

import shutil
import subprocess
import sys
from pathlib import Path

from bundled import ROOT


def _ruff(*args: str) -> subprocess.CompletedProcess:
    ruff = shutil.which("ruff") or str(Path(sys.executable).parent / "ruff")
    cmd = [ruff, *args, "--no-cache", str(ROOT)]
    return subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=120)


def test_ruff_passes():
    r = _ruff("check")
    assert r.returncode == 0, r.stdout + r.stderr


def test_ruff_format_leaves_the_tree_unchanged():
    r = _ruff("format", "--check")
    assert r.returncode == 0, r.stdout + r.stderr
