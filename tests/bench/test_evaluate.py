"""bench.evaluate with identity / perfect / broken enhancers on synthetic pairs in tmp_path."""

import json
import math

import numpy as np
import pytest
import soundfile as sf

from streamse.bench.evaluate import evaluate_pairs, format_table, save_spectrograms, to_json

SR = 16000


def _clean(seconds: float, seed: int) -> np.ndarray:
    """Noise-excited formant bursts at syllable rate (enough for PESQ's voice detector)."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SR)) / SR
    carrier = sum(
        np.sin(2 * np.pi * f * t + rng.uniform(0, 6)) / k
        for k, f in enumerate((150, 300, 450, 900, 1800, 2700), 1)
    )
    gate = np.sin(np.pi * 3.5 * t) ** 2
    x = carrier * gate + 0.03 * rng.standard_normal(t.size)
    return (0.1 * x / np.max(np.abs(x))).astype(np.float32)


@pytest.fixture(scope="module")
def pairs(tmp_path_factory):
    root = tmp_path_factory.mktemp("pairs")
    (root / "noisy").mkdir()
    (root / "clean").mkdir()
    out = []
    for k, snr in enumerate((0.0, 10.0)):
        clean = _clean(2.0, k)
        noise = np.random.default_rng(10 + k).standard_normal(clean.size).astype(np.float32)
        noise *= np.sqrt(np.mean(clean**2) / np.mean(noise**2) / 10 ** (snr / 10))
        noisy, clean_p = root / "noisy" / f"u{k}.wav", root / "clean" / f"u{k}.wav"
        sf.write(noisy, clean + noise, SR, subtype="FLOAT")
        sf.write(clean_p, clean, SR, subtype="FLOAT")
        out.append((str(noisy), str(clean_p)))
    return out


def test_identity_enhancer_scores_like_the_input(pairs):
    report = evaluate_pairs(pairs, lambda x, sr: x, SR, progress=False)
    assert [r.name for r in report.rows] == ["u0.wav", "u1.wav"]
    for row in report.rows:
        assert row.seconds == pytest.approx(2.0)
        for key, value in row.noisy.items():
            assert row.enhanced[key] == pytest.approx(value, abs=1e-9, nan_ok=True), key
    noisy_mean = report.mean("noisy")
    assert noisy_mean["si_sdr"] == pytest.approx(5.0, abs=0.2)  # mean of 0 and 10 dB
    assert report.rtf >= 0.0


def test_perfect_enhancer_improves_every_metric(pairs, tmp_path):
    clean_by_noisy = {n: sf.read(c)[0] for n, c in pairs}
    lookup = iter([clean_by_noisy[n] for n, _ in pairs])
    report = evaluate_pairs(pairs, lambda x, sr: next(lookup), SR, progress=False)
    noisy, enhanced = report.mean("noisy"), report.mean("enhanced")
    for key in ("pesq", "stoi", "csig", "cbak", "covl"):
        assert enhanced[key] > noisy[key], key
    assert enhanced["si_sdr"] == math.inf or enhanced["si_sdr"] > 100
    assert enhanced["speech_snr"] > noisy["speech_snr"] + 50
    table = format_table(report)
    assert "PESQ-WB" in table and "2 files" in table and len(table.splitlines()) == 13
    # the input's noise leak is its SNR (0 and 10 dB); a noise-free output has none to measure
    assert noisy["noise_leak_db"] == pytest.approx(5.0, abs=0.2) and noisy["speech_gain_db"] == pytest.approx(
        0.0
    )
    assert math.isnan(enhanced["noise_leak_db"]) and math.isnan(enhanced["artefacts_db"])


def test_to_json_is_strict_json(pairs):
    report = evaluate_pairs(pairs, lambda x, sr: x * 0.5, SR, progress=False)
    report.rows[0].enhanced["pesq"] = math.nan
    data = to_json(report)
    text = json.dumps(data, allow_nan=False)
    assert json.loads(text)["files"][0]["enhanced"]["pesq"] is None
    assert data["n_files"] == 2 and set(data["mean"]) == {"noisy", "enhanced"}
    assert data["mean"]["enhanced"]["pesq"] == pytest.approx(report.rows[1].enhanced["pesq"])


def test_length_changing_enhancer_is_rejected(pairs):
    with pytest.raises(ValueError, match="keep the length"):
        evaluate_pairs(pairs, lambda x, sr: x[:-1], SR, progress=False)


def test_save_spectrograms_writes_png(tmp_path):
    pytest.importorskip("matplotlib")
    x = _clean(1.0, 0)
    path = tmp_path / "spec.png"
    save_spectrograms(x + 0.01, x * 0.5, x, SR, str(path))
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 10_000
