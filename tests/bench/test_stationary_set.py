"""The stationary-noise dev set: seeded, every kind and SNR, noisy = clean + noise at the SNR."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf

from streamse.bench.stationary_set import KINDS, build
from streamse.dsp.level import active_power, power


def test_build_is_seeded_and_mixes_at_the_stated_snr(tmp_path, noisy_clean):
    src = tmp_path / "clean_in"
    src.mkdir()
    for i in range(5):
        sf.write(src / f"u{i}.wav", noisy_clean[1][i * 4000 : i * 4000 + 16000], 16000)
    entries = build(src, tmp_path / "a", per_file=2)
    again = build(src, tmp_path / "b", per_file=2)
    assert entries == again and len(entries) == 10
    assert {e["noise"] for e in entries} == set(KINDS)
    assert json.loads((tmp_path / "a" / "pairs.json").read_text()) == entries
    for e in entries:
        noisy, sr = sf.read(tmp_path / "a" / "noisy" / e["file"])
        clean, _ = sf.read(tmp_path / "a" / "clean" / e["file"])
        assert sr == 16000 and noisy.shape == clean.shape
        snr = 10 * np.log10(active_power(clean, sr) / power(noisy - clean))
        assert snr == pytest.approx(e["snr_db"], abs=0.05)  # 24-bit files
        b = sf.read(tmp_path / "b" / "noisy" / e["file"])[0]
        np.testing.assert_array_equal(noisy, b)
