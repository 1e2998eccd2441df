"""Where the tests find the project and the bundled audio, from any test folder depth."""

from pathlib import Path

TESTS = Path(__file__).resolve().parent
DATA = TESTS / "data"  # noisy.wav / clean.wav: a VoiceBank+DEMAND pair, 16 kHz mono
ROOT = TESTS.parent
