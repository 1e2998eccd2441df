"""streamse.quality.metrics on synthetic source-filter "speech": exact values, orderings, nan paths."""

import math
import warnings

import numpy as np
import pytest
import scipy.signal as ss

from streamse.quality import metrics

SR = 16000


def speechlike(seconds: float = 3.0, seed: int = 0) -> np.ndarray:
    """Jittered glottal pulses + aspiration through 3 random formants, in 0.28 s syllables,
    over a -30 dB white floor (like a real mic), peak about 0.1."""
    rng = np.random.default_rng(seed)
    n = int(seconds * SR)
    t = np.arange(n) / SR
    phase = np.cumsum(130 + 25 * np.sin(2 * np.pi * 0.5 * t + rng.uniform(0, 6))) / SR
    pulses = (np.diff(np.floor(phase), prepend=0) > 0).astype(float)
    source = ss.lfilter([1.0], [1, -0.95], pulses) + 0.05 * rng.standard_normal(n)
    out, syll = np.zeros(n), int(0.28 * SR)
    r = np.exp(-np.pi * 100 / SR)  # 100 Hz formant bandwidth
    for start in range(0, n, syll):
        y = source[start : start + syll]
        for f in (rng.uniform(300, 900), rng.uniform(900, 2200), rng.uniform(2200, 3500)):
            y = ss.lfilter([1 - r], [1, -2 * r * np.cos(2 * np.pi * f / SR), r * r], y)
        out[start : start + y.size] = y * np.sin(np.pi * np.arange(y.size) / syll) ** 2
    out = 0.1 * out / np.max(np.abs(out))
    return out + rng.standard_normal(n) * np.sqrt(np.mean(out**2)) * 10 ** (-30 / 20)


def add_noise(x: np.ndarray, snr_db: float, seed: int = 1) -> np.ndarray:
    noise = ss.lfilter([1], [1, -0.9], np.random.default_rng(seed).standard_normal(x.size))
    return x + noise * np.sqrt(np.mean(x**2) / np.mean(noise**2) / 10 ** (snr_db / 10))


CLEAN = speechlike()
LLR_15DB, WSS_15DB, SEGSNR_15DB = 0.23061505839506233, 17.043819245274896, 8.182687267535378


def test_si_sdr_exact_values():
    ref = np.sin(np.linspace(0, 300, 8000))
    noise = np.cos(np.linspace(0, 1111, 8000))
    noise -= noise.mean()
    noise -= np.dot(noise, ref - ref.mean()) / np.sum((ref - ref.mean()) ** 2) * (ref - ref.mean())
    for db in (-5.0, 0.0, 12.5):
        scaled = noise * np.linalg.norm(ref - ref.mean()) / np.linalg.norm(noise) * 10 ** (-db / 20)
        assert metrics.si_sdr(ref, ref + scaled) == pytest.approx(db, abs=1e-9)
        assert metrics.si_sdr(ref, 0.3 * (ref + scaled) + 2.0) == pytest.approx(db, abs=1e-9)
    assert metrics.si_sdr(ref, 2 * ref) == math.inf
    assert math.isnan(metrics.si_sdr(np.zeros(100), np.ones(100)))
    with pytest.raises(ValueError, match="length"):
        metrics.si_sdr(ref, ref[:-1])


def test_pesq_and_stoi_ordered():
    assert metrics.pesq_wb(CLEAN, CLEAN) > 4.0
    assert metrics.stoi(CLEAN, CLEAN, SR) > 0.99
    pesqs = [metrics.pesq_wb(CLEAN, add_noise(CLEAN, snr)) for snr in (30, 10, -5)]
    stois = [metrics.stoi(CLEAN, add_noise(CLEAN, snr), SR) for snr in (30, 10, -5)]
    assert pesqs[0] > pesqs[1] > pesqs[2] >= 1.0
    assert stois[0] > stois[1] > stois[2]


def test_pesq_resamples_other_rates():
    import soxr

    ref48, est48 = (soxr.resample(x, SR, 48000) for x in (CLEAN, add_noise(CLEAN, 10)))
    direct = metrics.pesq_wb(CLEAN, add_noise(CLEAN, 10))
    assert metrics.pesq_wb(ref48, est48, 48000) == pytest.approx(direct, abs=0.1)


@pytest.mark.parametrize(
    "ref, est, reason",
    [
        (CLEAN[:2000], CLEAN[:2000], "shorter than 0.25 s"),
        (np.zeros(SR), CLEAN[:SR], "all zeros"),
    ],
)
def test_pesq_undefined_is_nan_with_reason(ref, est, reason):
    with pytest.warns(metrics.MetricUndefinedWarning, match=reason):
        assert math.isnan(metrics.pesq_wb(ref, est))


def test_pesq_library_error_is_nan_with_reason(monkeypatch):
    pesq = pytest.importorskip("pesq")

    def no_utterances(*args):
        raise pesq.NoUtterancesError(b"No utterances detected")

    monkeypatch.setattr(pesq, "pesq", no_utterances)
    with pytest.warns(metrics.MetricUndefinedWarning, match="NoUtterancesError"):
        assert math.isnan(metrics.pesq_wb(CLEAN, CLEAN))


def test_composite_matches_reference_implementation():
    """LLR/WSS/segSNR equal pysepm's (Loizou composite.m port) on this pair; values were
    computed once with pysepm-evo 0.1.1 (used_for_composite=True)."""
    out = metrics.composite(CLEAN, add_noise(CLEAN, 15), SR, pesq_value=2.0)
    assert out["llr"] == pytest.approx(LLR_15DB, rel=1e-6)
    assert out["wss"] == pytest.approx(WSS_15DB, rel=1e-6)
    assert out["segsnr"] == pytest.approx(SEGSNR_15DB, rel=1e-6)
    assert out["csig"] == pytest.approx(3.093 - 1.029 * LLR_15DB + 0.603 * 2 - 0.009 * WSS_15DB)


def test_composite_perfect_and_ordered():
    perfect = metrics.composite(CLEAN, CLEAN, SR)
    assert perfect["csig"] == perfect["cbak"] == perfect["covl"] == 5.0
    assert perfect["llr"] == pytest.approx(0.0, abs=1e-9) and perfect["wss"] == 0.0
    mild, harsh = (metrics.composite(CLEAN, add_noise(CLEAN, snr), SR) for snr in (20, 0))
    for key in ("csig", "cbak", "covl"):
        assert 5.0 >= mild[key] > harsh[key] >= 1.0, key
    assert mild["segsnr"] > harsh["segsnr"] and mild["wss"] < harsh["wss"]


def test_score_keys_and_consistency():
    noisy = add_noise(CLEAN, 5)
    out = metrics.score(CLEAN, noisy, SR)
    assert set(out) == {"pesq", "stoi", "si_sdr", "csig", "cbak", "covl", "pause_db", "speech_snr"}
    assert out["pesq"] == pytest.approx(metrics.pesq_wb(CLEAN, noisy))
    assert out["si_sdr"] == pytest.approx(5.0, abs=0.5)


def test_dnsmos_missing_package_returns_none(monkeypatch):
    real_require = metrics.require

    def require(module, extra):
        if module.startswith("speechmos"):
            raise metrics.MissingExtraError(module, extra) from ImportError("no librosa")
        return real_require(module, extra)

    monkeypatch.setattr(metrics, "require", require)
    with pytest.warns(metrics.MetricUndefinedWarning, match="DNSMOS skipped"):
        assert metrics.dnsmos(CLEAN, SR) is None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert not any(k.startswith("dnsmos") for k in metrics.score(CLEAN, CLEAN, SR, True))


def test_dnsmos_scores_clean_above_noisy():
    pytest.importorskip("speechmos")
    pytest.importorskip("librosa")
    clean, noisy = metrics.dnsmos(CLEAN, SR), metrics.dnsmos(add_noise(CLEAN, 0), SR)
    assert set(clean) == {"dnsmos_sig", "dnsmos_bak", "dnsmos_ovrl", "dnsmos_p808"}
    assert all(1.0 <= v <= 5.0 for v in clean.values())
    assert clean["dnsmos_bak"] > noisy["dnsmos_bak"]


def test_leak_and_artefacts_split_an_output_into_its_parts():
    """est = a clean + b noise + rest with rest orthogonal to both: the exact ratios come back;
    the noisy input leaks its own SNR and has no artefacts; a silent reference is nan."""
    rng = np.random.default_rng(3)
    clean, noise = speechlike(2.0), 0.05 * rng.standard_normal(2 * SR)
    rest = 0.01 * rng.standard_normal(2 * SR)
    basis = np.stack([clean, noise], 1)
    rest -= basis @ np.linalg.lstsq(basis, rest, rcond=None)[0]  # orthogonal to both
    est = 0.5 * clean + 0.1 * noise + rest
    d = metrics.leak_and_artefacts(clean, clean + noise, est)
    speech = np.sum((0.5 * clean) ** 2)
    assert d["noise_leak_db"] == pytest.approx(10 * np.log10(speech / np.sum((0.1 * noise) ** 2)), abs=1e-6)
    assert d["artefacts_db"] == pytest.approx(10 * np.log10(speech / np.sum(rest**2)), abs=1e-6)
    assert d["speech_gain_db"] == pytest.approx(20 * np.log10(0.5), abs=1e-9)
    snr = 10 * np.log10(np.sum(clean**2) / np.sum(noise**2))
    d = metrics.leak_and_artefacts(clean, clean + noise, clean + noise)
    assert d["noise_leak_db"] == pytest.approx(snr, abs=1e-6) and math.isnan(d["artefacts_db"])
    assert all(math.isnan(v) for v in metrics.leak_and_artefacts(0 * clean, noise, noise).values())
