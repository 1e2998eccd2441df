"""AudioPool, MixtureDataset, make_loader and load_pairs on a tiny synthetic data folder."""

import dataclasses
import logging

import numpy as np
import pytest
import soundfile as sf
import torch

from streamse.models.train import augment as aug
from streamse.models.train.audio_pool import AudioPool
from streamse.errors import StreamseError
from streamse.models.train.data import DataConfig, MixtureDataset, load_pairs, make_loader

SR = 16000


def _speechlike(seconds: float, f0: float, rng) -> np.ndarray:
    """Harmonic tone with 4 Hz syllabic on/off modulation: has pauses, like speech."""
    t = np.arange(int(seconds * SR)) / SR
    tone = sum(np.sin(2 * np.pi * f0 * k * t) / k for k in range(1, 6))
    gate = (np.sin(2 * np.pi * 4 * t + rng.uniform(0, 6)) > -0.3).astype(float)
    return (0.1 * tone * gate).astype(np.float32)


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("data")
    rng = np.random.default_rng(0)
    speech, noise = root / "clean" / "a", root / "noise"
    speech.mkdir(parents=True)
    (root / "clean" / "b").mkdir()
    noise.mkdir()
    for k in range(4):
        sf.write(speech / f"utt{k}.flac", _speechlike(1.0 + k, 120 + 30 * k, rng), SR)
    stereo = np.stack([_speechlike(2.0, 200, rng)] * 2, axis=1)
    stereo = np.stack([stereo[:, 0], 0.5 * stereo[:, 1]], axis=1)
    import soxr

    sf.write(root / "clean" / "b" / "stereo44k.wav", soxr.resample(stereo, SR, 44100), 44100)
    garbage = bytes(rng.integers(0, 256, 500, dtype=np.uint8))
    (speech / "corrupt.flac").write_bytes(b"fLaC" + garbage)
    (speech / "empty.wav").write_bytes(b"")
    sf.write(speech / "silent.wav", np.zeros(SR, np.float32), SR)
    sf.write(speech / "no_samples.wav", np.zeros(0, np.float32), SR)
    (speech / "notes.txt").write_text("not audio")
    sf.write(noise / "long.flac", (0.05 * rng.standard_normal(4 * SR)).astype(np.float32), SR)
    sf.write(noise / "short.wav", (0.05 * rng.standard_normal(SR // 4)).astype(np.float32), SR)
    return root


@pytest.fixture(scope="module")
def pools(data_dir):
    speech = AudioPool([str(data_dir / "clean")], SR, progress=False)
    noise = AudioPool([str(data_dir / "noise")], SR, progress=False)
    return speech, noise


def _cfg(data_dir, **kw) -> DataConfig:
    base = DataConfig(
        clean_dirs=(str(data_dir / "clean"),),
        noise_dirs=(str(data_dir / "noise"),),
        segment_seconds=1.0,
        epoch_size=8,
        rir_bank_size=3,
    )
    return dataclasses.replace(base, **kw)


def test_pool_skips_bad_files_and_reports_them(data_dir, caplog):
    with caplog.at_level(logging.WARNING):
        pool = AudioPool([str(data_dir / "clean")], SR, progress=False)
    assert len(pool) == 5  # 4 mono flac + the stereo 44.1k wav
    reasons = {p.rsplit("/", 1)[-1]: r for p, r in pool.skipped}
    assert set(reasons) == {"corrupt.flac", "empty.wav", "silent.wav", "no_samples.wav"}
    assert reasons["silent.wav"].startswith("all-silent")
    assert reasons["corrupt.flac"].startswith("unreadable")
    assert reasons["empty.wav"].startswith("empty file")
    assert reasons["no_samples.wav"].startswith("empty (0 samples)")
    assert sum("skipping" in r.message for r in caplog.records) == 4


def test_pool_resamples_and_downmixes(pools):
    speech, _ = pools
    k = next(i for i, p in enumerate(speech.paths) if p.endswith("stereo44k.wav"))
    clip = speech[k]
    assert clip.dtype == np.float32 and clip.ndim == 1
    assert abs(clip.size - 2 * SR) <= 2
    assert 0.05 < np.max(np.abs(clip)) < 0.2  # mean of full and half level channels
    assert not clip.flags.writeable


def test_item_shapes_dtype_level_and_no_clipping(data_dir, pools):
    cfg = _cfg(data_dir, level_db=(-10.0, 0.0))  # loud, so the clip guard must act
    ds = MixtureDataset(cfg, *pools)
    for i in range(len(ds)):
        noisy, clean = ds[i]
        assert noisy.shape == clean.shape == (SR,)
        assert noisy.dtype == clean.dtype == torch.float32
        assert max(noisy.abs().max(), clean.abs().max()) <= 0.99 + 1e-6
        assert torch.isfinite(noisy).all() and torch.isfinite(clean).all()


def test_items_are_deterministic_per_seed_epoch_index(data_dir, pools):
    cfg = _cfg(data_dir, p_reverb=0.5, p_babble=0.3, p_colored=0.3)
    a, b = MixtureDataset(cfg, *pools), MixtureDataset(cfg, *pools)
    for i in range(4):
        assert all(torch.equal(x, y) for x, y in zip(a[i], b[i]))
    first = a[0][0]
    assert not torch.equal(first, a[1][0])
    a.set_epoch(1)
    assert not torch.equal(first, a[0][0])
    other_seed = MixtureDataset(dataclasses.replace(cfg, seed=7), *pools)
    assert not torch.equal(first, other_seed[0][0])


def test_snr_is_as_configured(data_dir, pools):
    cfg = _cfg(data_dir, snr_db=(5.0, 5.0), p_reverb=0.0, level_db=(-30.0, -30.0))
    ds = MixtureDataset(cfg, *pools)
    for i in range(4):
        noisy, clean = (t.double().numpy() for t in ds[i])
        snr = 10 * np.log10(aug.active_power(clean, SR) / aug.power(noisy - clean))
        assert snr == pytest.approx(5.0, abs=0.01)
        assert 20 * np.log10(np.sqrt(aug.power(noisy))) == pytest.approx(-30.0, abs=0.01)


def test_reverberant_target_is_aligned_and_drier(data_dir, pools):
    cfg = _cfg(data_dir, snr_db=(90.0, 90.0), p_reverb=1.0)
    ds = MixtureDataset(cfg, *pools)
    noisy, clean = (t.double().numpy() for t in ds[2])
    lags = np.arange(-200, 201)
    xc = [np.dot(noisy[200 + lag : noisy.size - 200 + lag], clean[200:-200]) for lag in lags]
    assert lags[int(np.argmax(xc))] == 0
    late = noisy - clean  # late reverb only: present, but weaker than the target
    assert 1e-4 < aug.power(late) / aug.power(clean) < 1.0


@pytest.mark.parametrize("kind", ["p_babble", "p_colored", "p_tonal", "p_second_noise"])
def test_noise_variants_at_0db_snr(data_dir, pools, kind):
    cfg = _cfg(data_dir, **{kind: 1.0}, snr_db=(0.0, 0.0), p_reverb=0.0)
    ds = MixtureDataset(cfg, *pools)
    for i in range(3):
        noisy, clean = (t.double().numpy() for t in ds[i])
        assert aug.power(noisy - clean) == pytest.approx(aug.active_power(clean, SR), rel=1e-3)


def test_colored_noise_slopes():
    rng = np.random.default_rng(0)
    for exponent, expected_db in [(0.0, 0.0), (1.0, -10.0 * np.log10(8)), (2.0, -20 * np.log10(8))]:
        x = aug.colored_noise(2**16, exponent, rng)
        spec = np.abs(np.fft.rfft(x)) ** 2
        f = np.fft.rfftfreq(x.size, 1 / SR)
        low, high = spec[(f > 400) & (f < 500)].mean(), spec[(f > 3200) & (f < 4000)].mean()
        assert 10 * np.log10(high / low) == pytest.approx(expected_db, abs=2.0)
        assert aug.power(x) == pytest.approx(1.0, rel=1e-6)


@pytest.mark.parametrize("kind", aug.TONAL_KINDS)
def test_tonal_noise_is_unit_power_tonal_and_seeded(kind):
    """Each kind puts much of its energy in a few narrow peaks (its top 1 % of bins: over half
    for hum and tones, over 15 % for the broadest resonator; white noise: ~6 %), and the same
    seed gives the same noise."""
    n = 2 * SR
    for seed in range(8):
        x = aug.tonal_noise(n, SR, np.random.default_rng(seed), kind)
        assert x.shape == (n,) and np.all(np.isfinite(x))
        assert aug.power(x) == pytest.approx(1.0, rel=1e-6)
        spec = np.sort(np.abs(np.fft.rfft(x)) ** 2)[::-1]
        top = spec[: spec.size // 100].sum() / spec.sum()
        assert top > (0.15 if kind == "narrowband" else 0.5), (seed, top)
        np.testing.assert_array_equal(x, aug.tonal_noise(n, SR, np.random.default_rng(seed), kind))
    white = np.sort(np.abs(np.fft.rfft(aug.colored_noise(n, 0.0, np.random.default_rng(0)))) ** 2)[::-1]
    assert white[: white.size // 100].sum() / white.sum() < 0.08
    with pytest.raises(ValueError, match="unknown tonal kind"):
        aug.tonal_noise(n, SR, np.random.default_rng(0), "siren")


def test_crop_loop_and_crop_or_pad():
    rng = np.random.default_rng(0)
    x = np.arange(10.0)
    looped = aug.crop_loop(x, 25, rng)
    assert looped.size == 25 and np.all(np.diff(looped) % 10 == 1)  # consecutive mod 10
    padded = aug.crop_or_pad(x, 25, rng)
    assert padded.size == 25 and padded.sum() == x.sum()


def test_loader_batches_and_rank_split(data_dir, pools):
    ds = MixtureDataset(_cfg(data_dir, epoch_size=8), *pools)
    batches = list(make_loader(ds.cfg, ds, batch_size=2))
    assert len(batches) == 4 and batches[0][0].shape == (2, SR)
    assert torch.equal(batches[1][0][0], ds[2][0])
    r0 = torch.cat([b[0] for b in make_loader(ds.cfg, ds, 2, rank=0, world_size=2)])
    r1 = torch.cat([b[0] for b in make_loader(ds.cfg, ds, 2, rank=1, world_size=2)])
    assert r0.shape == r1.shape == (4, SR)
    assert torch.equal(r0[0], ds[0][0]) and torch.equal(r1[0], ds[1][0])
    with pytest.raises(ValueError, match="cfg differs"):
        make_loader(dataclasses.replace(ds.cfg, seed=1), ds, 2)


def test_loader_workers_give_the_same_batches(data_dir, pools):
    ds = MixtureDataset(_cfg(data_dir, epoch_size=4, p_reverb=0.5), *pools)
    ds.set_epoch(3)
    serial = [b[0] for b in make_loader(ds.cfg, ds, batch_size=2)]
    parallel = [b[0] for b in make_loader(ds.cfg, ds, batch_size=2, num_workers=2)]
    assert all(torch.equal(a, b) for a, b in zip(serial, parallel)) and len(parallel) == 2


def test_too_few_clips_is_a_clear_error(data_dir, pools, tmp_path):
    empty = AudioPool([str(tmp_path)], SR, progress=False)
    assert len(empty) == 0 and empty.total_seconds == 0.0
    with pytest.raises(ValueError, match="noise clip"):
        MixtureDataset(_cfg(data_dir), pools[0], empty)


def test_load_pairs(tmp_path, caplog):
    noisy, clean = tmp_path / "noisy", tmp_path / "clean"
    noisy.mkdir(), clean.mkdir()
    for name in ["b.flac", "a.wav", "only_noisy.flac"]:
        (noisy / name).write_bytes(b"x")
    for name in ["a.wav", "b.flac", "only_clean.wav", "readme.txt"]:
        (clean / name).write_bytes(b"x")
    with caplog.at_level(logging.WARNING):
        pairs = load_pairs(str(noisy), str(clean))
    assert pairs == [
        (str(noisy / "a.wav"), str(clean / "a.wav")),
        (str(noisy / "b.flac"), str(clean / "b.flac")),
    ]
    assert sum("no partner" in r.message for r in caplog.records) == 2
    with pytest.raises(StreamseError, match="no files with the same name"):
        load_pairs(str(noisy), str(tmp_path))


def test_clean_items_have_no_noise_and_keep_the_other_draws(data_dir, pools):
    base = _cfg(data_dir, p_reverb=0.0, level_db=(-30.0, -30.0))
    plain = MixtureDataset(base, *pools)
    clean_only = MixtureDataset(dataclasses.replace(base, p_clean=1.0), *pools)
    for i in range(4):
        noisy, clean = clean_only[i]
        assert torch.equal(noisy, clean)
        ref = plain[i][1].double().numpy()  # same speech crop, scaled to another level
        got = clean.double().numpy()
        assert abs(np.dot(ref, got)) / (np.linalg.norm(ref) * np.linalg.norm(got)) > 0.999


def test_speed_eq_and_lowpass_change_the_speech_not_the_pairing(data_dir, pools):
    base = _cfg(data_dir, p_reverb=0.0, snr_db=(5.0, 5.0))
    aug_cfg = dataclasses.replace(base, p_speed=1.0, p_eq_speech=1.0, p_eq_noise=1.0, p_lowpass=1.0)
    plain, augmented = MixtureDataset(base, *pools), MixtureDataset(aug_cfg, *pools)
    for i in range(3):
        noisy, clean = (t.double().numpy() for t in augmented[i])
        assert noisy.shape == clean.shape == (SR,)
        assert not np.allclose(clean, plain[i][1].double().numpy(), atol=1e-4)
        snr = 10 * np.log10(aug.active_power(clean, SR) / aug.power(noisy - clean))
        assert snr == pytest.approx(5.0, abs=0.01)  # the noise is still exactly the difference


def test_speed_crop_changes_pitch_and_tempo():
    t = np.arange(2 * SR) / SR
    tone = np.sin(2 * np.pi * 200 * t)
    y = aug.speed_crop(tone, SR // 2, 1.1, np.random.default_rng(0))
    assert y.shape == (SR // 2,)
    f = np.fft.rfftfreq(y.size, 1 / SR)[np.argmax(np.abs(np.fft.rfft(y * np.hanning(y.size))))]
    assert f == pytest.approx(220, abs=3)


def test_speed_crop_loops_a_short_noise_to_full_length():
    tone = np.sin(2 * np.pi * 200 * np.arange(SR // 4) / SR)  # 0.25 s, a whole number of cycles
    y = aug.speed_crop(tone, SR, 1.25, np.random.default_rng(0), loop=True)
    assert y.shape == (SR,)
    assert np.min(np.abs(y).reshape(-1, SR // 8).max(axis=1)) > 0.9  # looped, not zero-padded
    f = np.fft.rfftfreq(y.size, 1 / SR)[np.argmax(np.abs(np.fft.rfft(y * np.hanning(y.size))))]
    assert f == pytest.approx(250, abs=3)


def test_noise_speed_changes_the_noise_not_the_speech_or_the_snr(data_dir, pools):
    base = _cfg(data_dir, p_reverb=0.0, p_babble=0.0, p_colored=0.0, snr_db=(5.0, 5.0))
    plain = MixtureDataset(base, *pools)
    faster = MixtureDataset(dataclasses.replace(base, p_speed_noise=1.0), *pools)
    for i in range(4):
        (n0, c0), (n1, c1) = ((t.double().numpy() for t in pair) for pair in (plain[i], faster[i]))
        g = np.dot(c1, c0) / np.dot(c0, c0)  # same speech; the mixture's level sets its gain
        assert 0.9 < g < 1.1
        np.testing.assert_allclose(c1, g * c0, atol=1e-6)
        assert not np.allclose(n1 - c1, n0 - c0, atol=1e-4)
        snr = 10 * np.log10(aug.active_power(c1, SR) / aug.power(n1 - c1))
        assert snr == pytest.approx(5.0, abs=0.01)


def test_random_biquad_is_stable_and_keeps_power():
    rng = np.random.default_rng(0)
    x = rng.standard_normal(SR)
    for _ in range(50):
        y = aug.random_biquad(x, rng)
        assert np.isfinite(y).all() and aug.power(y) == pytest.approx(aug.power(x), rel=1e-6)
    low = aug.lowpass(x, 4000.0, SR)
    spec = np.abs(np.fft.rfft(low)) ** 2
    f = np.fft.rfftfreq(x.size, 1 / SR)
    assert spec[f > 5000].sum() < 1e-3 * spec[f < 3000].sum()


def test_quiet_lead_gives_a_quiet_start_and_keeps_the_rest(data_dir, pools):
    base = _cfg(data_dir, p_reverb=0.0, snr_db=(5.0, 5.0))
    lead_cfg = dataclasses.replace(base, p_lead=1.0, lead_seconds=(0.25, 0.5))
    plain, quiet = MixtureDataset(base, *pools), MixtureDataset(lead_cfg, *pools)
    muted = scaled = 0
    for i in range(8):
        (n0, c0), (n1, c1) = ((t.double().numpy() for t in pair) for pair in (plain[i], quiet[i]))
        k = int(np.flatnonzero(np.abs(n1 - n0) > 1e-7).max()) + 1  # the lead's end
        assert SR // 4 - 1 <= k <= SR // 2
        np.testing.assert_array_equal(n1[k:], n0[k:])  # the rest is the plain item's
        np.testing.assert_array_equal(c1[k:], c0[k:])
        floor_db = 10 * np.log10(aug.power(n1[:k]) + 1e-30)
        if not np.any(c1[:k]):
            muted += 1
            assert -101 < floor_db < -59  # the floor alone
        else:
            scaled += 1
            g = np.dot(c1[:k], c0[:k]) / np.dot(c0[:k], c0[:k])
            assert 10 ** (-60 / 20) * 0.99 < g < 10 ** (-10 / 20) * 1.01
            np.testing.assert_allclose(c1[:k], g * c0[:k], atol=1e-9)
    assert muted and scaled


def _empty_block_fraction(x: np.ndarray, block: int = SR // 4) -> float:
    """Fraction of 0.25 s blocks of x without a single non-zero sample."""
    blocks = x[: x.size // block * block].reshape(-1, block)
    return float(np.mean(~np.any(blocks != 0.0, axis=1)))


def test_fill_continues_short_utterances_instead_of_padding_them(data_dir, pools):
    base = _cfg(data_dir, segment_seconds=6.0, p_reverb=0.0, p_clean=1.0, level_db=(-30.0, -30.0))
    padded = MixtureDataset(base, *pools)
    filled = MixtureDataset(dataclasses.replace(base, p_fill=1.0, fill_gap_s=(0.1, 0.3)), *pools)
    # the clips are 1-4 s long: zero-padded to 6 s, about half of every item is empty
    assert np.mean([_empty_block_fraction(padded[i][1].numpy()) for i in range(8)]) > 0.35
    for i in range(8):
        noisy, clean = (t.numpy() for t in filled[i])
        assert np.array_equal(noisy, clean) and clean.shape == (6 * SR,)
        assert _empty_block_fraction(clean) <= 0.2  # only the pauses between utterances
    assert np.array_equal(filled[3][1].numpy(), filled[3][1].numpy())  # still seeded


def test_fill_leaves_long_enough_utterances_and_other_draws_alone(data_dir, pools):
    base = _cfg(data_dir, segment_seconds=0.5, p_speed=0.5, p_eq_speech=0.5)  # every clip >= 1 s
    plain, filled = (
        MixtureDataset(base, *pools),
        MixtureDataset(dataclasses.replace(base, p_fill=1.0), *pools),
    )
    for i in range(8):
        assert all(torch.equal(a, b) for a, b in zip(plain[i], filled[i]))


def test_speech_by_duration_draws_each_second_alike(data_dir, pools):
    speech = pools[0]
    share = speech.lengths / speech.lengths.sum()  # clips of 1, 2, 2, 3 and 4 s
    for by_duration, want in ((True, share), (False, np.full(len(speech), 1 / len(speech)))):
        ds = MixtureDataset(_cfg(data_dir, speech_by_duration=by_duration), *pools)
        rng = np.random.default_rng(5)
        counts = np.bincount([ds._pick_speech(rng) for _ in range(20000)], minlength=len(speech))
        np.testing.assert_allclose(counts / counts.sum(), want, atol=0.015)
    plain = MixtureDataset(_cfg(data_dir), *pools)
    weighted = MixtureDataset(_cfg(data_dir, speech_by_duration=True), *pools)
    assert not all(torch.equal(plain[i][1], weighted[i][1]) for i in range(8))


def test_pool_views_report_their_clip_lengths(pools):
    from streamse.models.train.strategies.unpaired_data import split_pool

    even, odd = split_pool(pools[0])
    assert [c.size for c in (even[i] for i in range(len(even)))] == list(even.lengths)
    assert [c.size for c in (odd[i] for i in range(len(odd)))] == list(odd.lengths)
