"""The runtime (what `enhance`, `demo` and `live` run) imports neither torch nor the model,
export or benchmark code: checked in a fresh interpreter."""

from __future__ import annotations

import subprocess
import sys

RUNTIME = [
    "streamse",
    "streamse.cli",
    "streamse.live",
    "streamse.live.runner",
    "streamse.live.engine",
    "streamse.live.virtual_mic",
    "streamse.enhance",
    "streamse.demo",
    "streamse.runtime",
    "streamse.batched",
    "streamse.audio_io",
    "streamse.dsp.level",
    "streamse.dsp.noise",
]
FORBIDDEN = ["torch", "streamse.models", "streamse.export", "streamse.bench"]


def test_runtime_imports_no_torch_and_no_training_code():
    code = (
        f"import sys\nfor m in {RUNTIME!r}:\n    __import__(m)\n"
        f"print([m for m in {FORBIDDEN!r} if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]", out.stdout


# Static direction of imports between the top-level folders, lazy imports included: the
# runtime uses no model, export or benchmark code; models never reach into export or bench;
# export never into bench. The CLI (cli.py and its verbs) is the one place that may call every
# layer, lazily, to dispatch a command.
LAYER_RULES = {
    "streamse": ("streamse.models", "streamse.export", "streamse.bench"),
    "models": ("streamse.export", "streamse.bench"),
    "export": ("streamse.bench",),
}
DISPATCHERS = ("streamse/cli.py", "streamse/commands/")


def _imported(source: str, package: list[str]) -> set[str]:
    """Absolute names of every module `source` imports; relative imports are resolved
    against `package` (the installed name's parts, e.g. ['streamse', 'models', 'train'])."""
    import ast

    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            names.add(".".join(base + ([node.module] if node.module else [])))
    return names


def _violations(folder: str, rel: str, source: str) -> list[str]:
    parts = rel.split("/")[:-1]
    package = parts if folder == "streamse" else ["streamse", *parts]
    return [
        f"{rel} imports {m}"
        for m in sorted(_imported(source, package))
        if any(m == f or m.startswith(f + ".") for f in LAYER_RULES[folder])
    ]


def test_imports_follow_the_layers():
    from bundled import ROOT as root

    bad = []
    for folder in LAYER_RULES:
        for path in sorted((root / folder).rglob("*.py")):
            rel = path.relative_to(root).as_posix()
            if not rel.startswith(DISPATCHERS):
                bad += _violations(folder, rel, path.read_text())
    assert not bad, "\n".join(bad)


def test_the_layer_check_can_fail():
    src = "def f():\n    from streamse.bench.evaluate import x\n    import streamse.export.graph\n"
    assert len(_violations("models", "models/x.py", src)) == 2
    assert _violations("export", "export/x.py", "from streamse.models import registry\n") == []
    assert _violations("models", "models/train/x.py", "from ...bench import rtf\n") == [
        "models/train/x.py imports streamse.bench"
    ]
    assert _violations("models", "models/train/x.py", "from ..registry import load\n") == []
