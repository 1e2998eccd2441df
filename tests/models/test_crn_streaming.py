"""Whole-model tests of the mask CRN: causality, streaming == offline over several chunkings
(hop multiples and ragged sample counts), reuse across utterances with reset, geometry."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from streamse.models.registry import ARCHITECTURES, build_by_name
from streamse.models.torch_streamer import TorchStreamer
from streamse_testing import tiny_crn

REL_TOL = 1e-4  # max |streamed - offline| / peak


def _offline(model, x: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return model(torch.from_numpy(x)[None])[0].numpy()


def _rel_err(a: np.ndarray, b: np.ndarray) -> float:
    n = min(a.size, b.size)
    return float(np.abs(a[:n] - b[:n]).max() / np.abs(b[:n]).max())


# symmetric 20 ms windows, and the asymmetric pair (32 ms analysis, 20 ms synthesis, 10 ms hop)
# with the decoder and level norm of the shipped crn, and that pair on a 5 ms hop (four-fold
# overlap-add, configs/crn-h80.toml)
ASYM = dict(win=512, n_fft=512, hop=160, synthesis_win=320, decoder=True, input_norm="level", enc_norm="none")
CONFIGS = {"sym": {}, "asym": ASYM, "asym-h80": {**ASYM, "hop": 80}}


@pytest.fixture(scope="module", params=sorted(CONFIGS))
def model(request):
    return tiny_crn(seed=3, **CONFIGS[request.param])


@pytest.mark.parametrize("pattern", [[160], [320], [7 * 160], [1, 100, 333, 17, 160, 999, 2]])
def test_streaming_equals_offline(model, noisy_clean, pattern):
    x = noisy_clean[0][:16000]
    streamer = TorchStreamer(model)
    outs, pos, k = [], 0, 0
    while pos < x.size:
        n = pattern[k % len(pattern)]
        outs.append(streamer.feed(x[pos : pos + n]))
        pos, k = pos + n, k + 1
    streamed = np.concatenate(outs)
    offline = _offline(model, x)
    assert streamed.size == (x.size // model.geometry.hop) * model.geometry.hop
    assert _rel_err(streamed, offline) < REL_TOL


def test_reuse_across_utterances(model, noisy_clean):
    """Two utterances through one streamer with reset between == a fresh streamer; without the
    reset the first utterance's state leaks into the second (so the test can fail)."""
    noisy, clean = noisy_clean
    a, b = noisy[:12000], clean[4000:16000] + 0.01 * noisy[:12000]
    streamer = TorchStreamer(model)
    streamer.process(a)
    second = streamer.process(b)  # process() resets first
    fresh = TorchStreamer(model).process(b)  # a new streamer: fresh states
    np.testing.assert_allclose(second, fresh, atol=1e-6)
    leaky = TorchStreamer(model)
    leaky.feed(a)
    assert _rel_err(leaky.feed(b)[:800], TorchStreamer(model).feed(b)[:800]) > 1e-3


def test_causal_whole_model(model, noisy_clean):
    """Perturbing input from sample s on changes no output emitted before the hop holding s."""
    x = noisy_clean[0][:8000].copy()
    s = 4000 + 37
    x2 = x.copy()
    x2[s:] += 0.05 * np.random.default_rng(0).standard_normal(x.size - s).astype(np.float32)
    y1, y2 = _offline(model, x), _offline(model, x2)
    start = s // model.geometry.hop * model.geometry.hop  # the first sample of the hop holding s
    np.testing.assert_array_equal(y1[:start], y2[:start])
    assert not np.allclose(y1[start:], y2[start:])


def test_silence_in_silence_out(model):
    y = TorchStreamer(model).process(np.zeros(4000, np.float32))
    assert np.all(y == 0)


@pytest.mark.parametrize("name", sorted(ARCHITECTURES))
def test_architectures_build_and_report_geometry(name):
    m = build_by_name(name)
    geo = m.geometry
    if name.startswith("crn") and name != "crn-32ms":  # the low-latency CRNs: <= 20 ms window, <= 10 ms hop
        assert geo.window <= 0.020 * geo.sample_rate and geo.hop <= 0.010 * geo.sample_rate
    assert geo.window <= 0.032 * geo.sample_rate  # every model: <= 32 ms algorithmic latency
    assert geo.delay_samples == geo.window - geo.hop


def test_shipped_config_budget():
    """The CRN must stay under 0.5 GMAC per second of audio."""
    from streamse.models.macs import macs_per_second

    assert macs_per_second(build_by_name("crn")) < 0.5e9
