"""Engine tests on a simulated clock (no device): exact delay, xruns, recovery, callback hygiene."""

import numpy as np
import pytest

from fakes import FirStreamer
from streamse.live.engine import DELAY_UP, TO_DRY, TO_WET, Engine, EngineConfig, OutputMix
from streamse.dsp.resample import resample_stream
from sim import simulate

BLOCKS = [64, 160, 256, 441, 480, 512, 1024]


def _noise(n, seed=0):
    return (0.1 * np.random.default_rng(seed).standard_normal(n)).astype(np.float32)


def _offline(x, fs):
    """Offline reference at the device rate: resample -> streamer.process -> resample."""
    if fs == 16000:
        return FirStreamer().process(x)
    return resample_stream(FirStreamer().process(resample_stream(x, fs, 16000)), 16000, fs)


@pytest.mark.parametrize("fs", [16000, 48000])
@pytest.mark.parametrize("blocksize", BLOCKS)
def test_output_is_offline_output_delayed_by_reported_latency(fs, blocksize):
    x = resample_stream(_noise(16000), 16000, fs) if fs != 16000 else _noise(16000)
    eng = Engine(FirStreamer(), EngineConfig(fs, blocksize))
    y = simulate(eng, x, blocksize)[:, 0]
    d = eng.latency().engine_samples
    assert d == eng.delay and eng.latency().engine == pytest.approx(d / fs)
    n = len(x)
    np.testing.assert_allclose(y[d:n], _offline(x, fs)[: n - d], atol=1e-6)
    assert not np.any(y[:d])  # nothing before the first sample can arrive
    assert eng.stats.underruns == eng.stats.overruns == eng.stats.resyncs == 0
    assert eng.latency().buffering >= 0


def test_latency_is_minimal_when_block_equals_hop():
    """Block = hop at the model rate: no buffering beyond the model's own window."""
    lat = Engine(FirStreamer(), EngineConfig(16000, 160)).latency(device_latency_s=0.02)
    assert lat.algorithmic == pytest.approx(0.02) and lat.buffering == pytest.approx(0.0)
    assert lat.total == pytest.approx(0.04)


def test_multichannel_downmix_and_all_outputs():
    x = _noise(8000)
    stereo = np.stack([x + 0.05, x - 0.05], axis=1)  # the mean is x
    eng = Engine(FirStreamer(), EngineConfig(16000, 256))
    y = simulate(eng, stereo, 256, out_channels=3)
    d, n = eng.delay, len(x)
    for c in range(3):
        np.testing.assert_allclose(y[d:n, c], FirStreamer().process(x)[: n - d], atol=1e-6)


@pytest.mark.parametrize("blocksize", [160, 441, 1024])
@pytest.mark.parametrize("fallback", ["dry", "silence"])
def test_worker_stalls_hold_the_fallback_then_return_at_a_raised_delay(blocksize, fallback):
    x = _noise(6 * 16000, seed=1)
    cfg = EngineConfig(16000, blocksize, mix=OutputMix(fallback=fallback), hold_s=0.5)
    eng = Engine(FirStreamer(), cfg)
    nominal = eng.delay
    stall = lambda i: 0.3 if i in (50, 250) else 0.003  # noqa: E731 - 2 stalls of 300 ms
    y = simulate(eng, x, blocksize, cost=stall)[:, 0]
    st, d, n = eng.stats, eng.delay, len(x)
    assert st.underruns == 2 and st.degraded_samples >= 2 * 0.5 * 16000  # held >= hold_s
    assert d == nominal + st.delay_growths * eng.chain.hop and 1 <= st.delay_growths <= 2
    to_dry, to_wet = st.events(TO_DRY), st.events(TO_WET)
    assert len(to_dry) == len(to_wet) == 2  # one switch each way per stall, no flapping
    assert np.all(to_wet[:, 2] == eng._ramp.size) and np.all(to_dry[:, 2] > 0)
    assert np.all(to_wet[:, 1] - to_dry[:, 1] >= [0.5 * 16000, 16000])  # holds, then doubled
    back = int(to_wet[-1, 1]) + eng._ramp.size  # after the last crossfade: exact, new delay
    np.testing.assert_allclose(y[back:n], FirStreamer().process(x)[back - d : n - d], atol=1e-6)
    held = np.arange(int(to_dry[0, 1]) + 200, int(to_wet[0, 1]) - 10)  # inside the first hold
    if fallback == "dry":  # the dry input, at the nominal delay until the first raise
        early = held[held < st.events(DELAY_UP)[0, 1]]
        np.testing.assert_allclose(y[early], x[early - nominal], atol=1e-6)
    else:
        assert np.all(y[held] == 0)


@pytest.mark.parametrize("block", [64, 160, 441])
def test_a_model_at_the_real_time_limit_does_not_flap(block):
    """Every 4th hop takes 1.6x real time (mean 0.93 of real time), no compute margin. The
    old engine switched between enhanced and dry output in every other block; now the delay
    grows until the model keeps up, with a few held, crossfaded switches on the way."""
    fs, hop_s = 16000, 0.01
    t = np.arange(8 * fs) / fs
    x = (0.3 * np.sin(2 * np.pi * 173 * t)).astype(np.float32)  # smooth: any click shows
    cost = lambda i: (1.6 if i % 4 == 0 else 0.7) * hop_s  # noqa: E731
    eng = Engine(FirStreamer(), EngineConfig(fs, block, hold_s=0.5))
    y = simulate(eng, x, block, cost=cost)[:, 0]
    st = eng.stats
    assert st.switches() <= 6, st.events()
    assert st.switches() >= 1 or block != 160  # block = hop has no slack: the path is used
    assert st.underruns <= 3 and st.degraded_samples < 0.35 * y.size
    steps = np.abs(np.diff(y[eng.delay + 400 :]))
    # the sine itself moves <= 0.0204 per sample; a hard switch between the enhanced (0.25 x)
    # and the dry path steps by up to 0.23 (the old engine: 399 of 800 blocks switched)
    assert steps.max() < 0.03, steps.max()


def test_split_absorbs_spikes_that_break_in_callback_processing():
    """Why the callback must not run the model: same spiky model (mean RTF 0.34, every 25th
    hop 1.4x real time), 16 kHz, block = hop = 10 ms. In the callback, each spike misses a
    device deadline (an audible crackle); in the worker with 1 hop of margin, none does."""
    hop_s = 0.01
    cost = lambda i: 1.4 * hop_s if i % 25 == 24 else 0.3 * hop_s  # noqa: E731
    n_hops = 400
    in_callback_misses = sum(cost(i) > hop_s for i in range(n_hops))  # callback k runs hop k
    eng = Engine(FirStreamer(), EngineConfig(16000, 160, safety_hops=1))
    simulate(eng, _noise(n_hops * 160), 160, cost=cost)
    assert in_callback_misses == n_hops // 25
    assert eng.stats.underruns == 0


def test_dry_mix_and_attenuation_limit():
    x = _noise(8000)
    cfg = EngineConfig(16000, 160, mix=OutputMix(dry=0.5, atten_lim_db=6.0))
    eng = Engine(FirStreamer(), cfg)
    y = simulate(eng, x, 160)[:, 0]
    d, n = eng.delay, len(x)
    a = 0.5 + 0.5 * 10 ** (-6 / 20)
    assert cfg.mix.dry_share == pytest.approx(a)
    expect = (1 - a) * FirStreamer().process(x)[: n - d] + a * x[: n - d]
    np.testing.assert_allclose(y[d:n], expect, atol=1e-6)


def test_callback_never_raises_and_counts_device_xruns():
    class Flags:
        input_overflow, output_underflow = True, False

        def __bool__(self):
            return True

    eng = Engine(FirStreamer(), EngineConfig(16000, 160))
    out = np.ones((160, 2), np.float32)
    eng.callback(np.zeros((7,), np.float32), out, 160, None, Flags())  # wrong shape
    assert eng.stats.callback_errors == 1 and eng.stats.device_xruns == 1
    assert not out.any()


def test_callback_allocates_nothing_in_steady_state():
    import tracemalloc

    eng = Engine(FirStreamer(), EngineConfig(48000, 480))
    ind, out = np.zeros((480, 2), np.float32), np.zeros((480, 2), np.float32)
    for _ in range(50):  # warm up: worker fills the output ring ahead
        eng.callback(ind, out, 480, None, None)
        eng.worker_step()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    for _ in range(200):  # callbacks only: the worker is "stalled", fallback path included
        eng.callback(ind, out, 480, None, None)
    grown = tracemalloc.get_traced_memory()[0] - base
    tracemalloc.stop()
    assert eng.stats.underruns > 0
    assert grown < 4096, grown  # no per-callback buffers (200 x 480 floats would be 384 kB)
