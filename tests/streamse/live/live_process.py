"""`streamse live` as a child process, the way a user starts it: the command line, and a start
that returns once the program reports that it streams (so nothing races its start-up)."""

from __future__ import annotations

import subprocess
import pytest

from bundled import ROOT, streamse_argv


def start_live(args: list[str], env: dict) -> tuple[subprocess.Popen, list[str]]:
    """Start `streamse live ARGS` with `env` (PYTHONPATH set to this checkout); return the
    process once it has printed its "streamse live:" line, with its stderr lines so far. A
    process that ends before streaming fails the test with what it printed."""
    env = dict(env, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen(streamse_argv("live", *args), env=env, stderr=subprocess.PIPE, text=True)
    lines: list[str] = []
    while not (lines and lines[-1].startswith("streamse live:")):
        lines.append(proc.stderr.readline())
        if not lines[-1]:  # the process ended before streaming
            proc.wait()
            pytest.fail("".join(lines))
    return proc, lines
