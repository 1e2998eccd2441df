"""The runtime (what `enhance`, `demo` and `live` run) imports neither torch nor the model,
export or benchmark code: checked in a fresh interpreter."""

from __future__ import annotations

import subprocess
import sys

RUNTIME = ["streamse", "streamse.cli", "streamse.live", "streamse.live.runner",
           "streamse.live.engine", "streamse.live.virtual_mic", "streamse.enhance",
           "streamse.demo", "streamse.runtime", "streamse.batched", "streamse.audio_io",
           "streamse.dsp.level", "streamse.dsp.noise"]
FORBIDDEN = ["torch", "streamse.models", "streamse.export", "streamse.bench"]


def test_runtime_imports_no_torch_and_no_training_code():
    code = (f"import sys\nfor m in {RUNTIME!r}:\n    __import__(m)\n"
            f"print([m for m in {FORBIDDEN!r} if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]", out.stdout
