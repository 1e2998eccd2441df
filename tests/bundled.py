"""Where the tests find the project and the bundled audio, from any test folder depth."""

from pathlib import Path

TESTS = Path(__file__).resolve().parent
DATA = TESTS / "data"  # noisy.wav / clean.wav: a VoiceBank+DEMAND pair, 16 kHz mono
ROOT = TESTS.parent


def streamse_argv(*args: str) -> list[str]:
    """The command line of `streamse ARGS...` run from this checkout's interpreter."""
    import sys

    return [sys.executable, "-m", "streamse", *args]


def run_streamse(*args: str, timeout: float = 300, env: dict | None = None):
    """Run `streamse ARGS...` to its end; the CompletedProcess with text stdout and stderr."""
    import subprocess

    return subprocess.run(streamse_argv(*args), capture_output=True, text=True, timeout=timeout, env=env)
