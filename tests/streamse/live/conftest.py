import os
import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # fakes.py


@pytest.fixture
def need_jack():
    """Device tests need jackd2 + libportaudio2 + JACK-Client (tests/streamse/live/setup_ci.sh installs
    them). Under CI they must run: no skip there, a missing piece fails the test."""
    missing = [w for w in ("jackd", "jack_wait") if shutil.which(w) is None]
    try:
        import jack  # noqa: F401
        import sounddevice  # noqa: F401
    except (ImportError, OSError) as exc:
        missing.append(str(exc))
    if missing and not os.environ.get("CI"):
        pytest.skip(f"no virtual sound card here ({missing}); run tests/streamse/live/setup_ci.sh")
    assert not missing, f"CI must run tests/streamse/live/setup_ci.sh first: {missing}"
