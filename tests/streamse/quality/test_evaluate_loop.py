"""The one evaluation loop: every system on every item, input scored once, lengths kept."""

from __future__ import annotations

import numpy as np
import pytest

from streamse.quality.evaluate import evaluate


def _err(clean, y, sr):
    return {"err": float(np.abs(clean - y).mean())}


def _items():
    rng = np.random.default_rng(0)
    for k in range(3):
        clean = rng.standard_normal(100)
        yield f"f{k}", clean + 1.0, clean


def test_every_system_on_every_item_and_the_kept_signals():
    reports, kept = evaluate(_items(), {"id": lambda x: x, "fix": lambda x: x - 1.0}, 100, _err, keep=1)
    assert [r.name for r in reports["id"].rows] == ["f0", "f1", "f2"]
    assert reports["id"].mean("noisy") == {"err": pytest.approx(1.0)}
    assert reports["id"].mean("enhanced") == {"err": pytest.approx(1.0)}
    assert reports["fix"].mean("enhanced") == {"err": pytest.approx(0.0)}
    assert reports["fix"].audio_seconds == pytest.approx(3.0)
    assert set(kept) == {"noisy", "clean", "id", "fix"}
    np.testing.assert_allclose(kept["fix"], kept["clean"])


def test_input_not_scored_and_lengths_must_be_kept():
    reports, _ = evaluate(_items(), {"id": lambda x: x}, 100, _err, score_input=False)
    assert all(r.noisy == {} for r in reports["id"].rows)
    with pytest.raises(ValueError, match="must keep the length"):
        evaluate(_items(), {"short": lambda x: x[:-1]}, 100, _err)
