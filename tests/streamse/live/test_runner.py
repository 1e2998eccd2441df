"""Runner pieces without a sound card: device lookup by name or host API, the input channel
choice, the start-up probe under run conditions, and a stream that never stops."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from fakes import FirStreamer
from streamse.errors import StreamseError
from streamse.live import devices
from streamse.live.runner import (
    LiveOptions,
    ProbeSpeed,
    close_stream,
    input_channels,
    make_engine,
    probe_running,
)


class FakeSD:
    """Two host APIs: ALSA with a USB mic and HDMI out, JACK with its 'system' device."""

    default = type("D", (), {"device": [0, 1]})()
    _devs = [
        {"name": "USB Microphone", "hostapi": 0, "max_input_channels": 2, "max_output_channels": 0},
        {"name": "HDMI 0", "hostapi": 0, "max_input_channels": 0, "max_output_channels": 2},
        {"name": "system", "hostapi": 1, "max_input_channels": 2, "max_output_channels": 2},
        {"name": "pulse", "hostapi": 0, "max_input_channels": 32, "max_output_channels": 32},
    ]
    _apis = [{"name": "ALSA"}, {"name": "JACK Audio Connection Kit"}]

    def query_devices(self, i=None):
        return self._devs if i is None else self._devs[i]

    def query_hostapis(self, i=None):
        return self._apis if i is None else self._apis[i]


def test_devices_match_name_or_host_api_case_insensitively():
    sd = FakeSD()
    assert devices.resolve(sd, "usb", "input") == 0
    assert devices.resolve(sd, "JACK", "input") == 2  # the host API's name
    assert devices.resolve(sd, "jack audio", "output") == 2
    assert devices.resolve(sd, "2", "input") == 2 and devices.resolve(sd, None, "input") == 0


def test_unknown_or_ambiguous_device_names_list_the_candidates():
    sd = FakeSD()
    with pytest.raises(StreamseError) as exc:
        devices.resolve(sd, "bluetooth", "input")
    assert "0: USB Microphone (ALSA)" in str(exc.value) and "2: system (JACK" in str(exc.value)
    with pytest.raises(StreamseError, match=r"matches several .*0: USB Microphone.*3: pulse"):
        devices.resolve(sd, "alsa", "input")


def test_input_channel_opens_enough_channels_or_says_why_not():
    info = {"max_input_channels": 2}
    assert input_channels(LiveOptions(input_channel=0), info) == 1
    assert input_channels(LiveOptions(input_channel=1), info) == 2
    assert input_channels(LiveOptions(input_channel=None), info) == 2  # mix: all of them
    with pytest.raises(StreamseError, match="has 2 channel"):
        input_channels(LiveOptions(input_channel=2), info)


def test_engine_uses_the_chosen_channel_at_full_level():
    """A mono source on channel 2 of a stereo device: with the channel chosen it arrives at
    its own level; averaged it would be 6 dB down."""
    from streamse.live.engine import Engine, EngineConfig
    from sim import simulate

    x = (0.1 * np.random.default_rng(0).standard_normal(8000)).astype(np.float32)
    stereo = np.stack([np.zeros_like(x), x], axis=1)
    for ch, gain in ((1, 1.0), (None, 0.5)):  # 0-based: channel 2
        eng = Engine(FirStreamer(), EngineConfig(16000, 160, input_channel=ch))
        y = simulate(eng, stereo, 160)[:, 0]
        d = eng.delay
        np.testing.assert_allclose(y[d:8000], gain * FirStreamer().process(x)[: 8000 - d], atol=1e-6)


def test_probe_runs_the_model_next_to_a_callback_thread(monkeypatch):
    """The start-up probe measures the worker thread while another thread calls the engine's
    callback at the block rate, as the device will (the model alone read 0.30-0.42 for a
    model that ran at 0.56-0.61 live). Checked here: callbacks arrive at the block rate while
    the worker runs, and the probe returns the worker's own measurement."""
    import streamse.live.runner as runner

    seen = {"callbacks": 0, "worker_alive": 0}

    class Watched(runner.Engine):
        def callback(self, indata, outdata, frames, time_info, status):
            seen["callbacks"] += 1
            seen["worker_alive"] += bool(self._thread and self._thread.is_alive())
            super().callback(indata, outdata, frames, time_info, status)

    made = []
    monkeypatch.setattr(runner, "Engine", lambda *a, **k: made.append(Watched(*a, **k)) or made[-1])
    threads_before = threading.active_count()
    speed = probe_running(FirStreamer(), 16000, 160, seconds=0.5)
    assert threading.active_count() == threads_before  # the worker was stopped
    assert 35 <= seen["callbacks"] <= 55  # 0.5 s of 10 ms blocks, paced in real time
    assert seen["worker_alive"] == seen["callbacks"]
    st = made[0].stats
    assert st.hops > 30 and st.n_steps > 0 and speed.rtf == st.trimmed_rtf(0.02)
    assert 0 < speed.rtf <= st.rtf
    assert speed.tail == st.step_ratio(0.98) and speed.tail > 0


def test_a_stream_that_never_stops_is_abandoned_in_bounded_time():
    class Stuck:
        def abort(self):
            threading.Event().wait()  # PortAudio with its server gone

        def close(self):
            pass

    class Fine:
        closed = False

        def abort(self):
            pass

        def close(self):
            Fine.closed = True

    t0 = time.monotonic()
    assert close_stream(Stuck(), timeout=0.3) is False
    assert time.monotonic() - t0 < 1.0
    assert close_stream(Fine(), timeout=1.0) is True and Fine.closed


def test_strength_maps_to_an_attenuation_limit_and_moves_with_signals():
    import os
    import signal

    from streamse.live.engine import Engine, EngineConfig
    from streamse.live.runner import Strength, strength_to_atten_lim

    assert strength_to_atten_lim(100) is None and strength_to_atten_lim(0) == 0.0
    assert strength_to_atten_lim(50) == 25.0
    eng = Engine(FirStreamer(), EngineConfig(16000, 160))
    knob = Strength(None)
    assert knob.value == 100 and not knob.apply(eng) and float(eng._mix) == 0.0
    with knob.signals():
        for _ in range(3):
            os.kill(os.getpid(), signal.SIGUSR2)  # three steps down
        os.kill(os.getpid(), signal.SIGUSR1)  # one up
        assert knob.apply(eng)
    assert knob.value == 80 and knob.active
    assert float(eng._mix) == pytest.approx(10 ** (-40 / 20))  # at most 40 dB removed
    with knob.signals():
        for _ in range(20):
            os.kill(os.getpid(), signal.SIGUSR2)
        knob.apply(eng)
    assert knob.value == 0 and float(eng._mix) == 1.0  # strength 0: the input passes through


def test_the_compute_margin_grows_with_the_slow_step_and_the_load():
    """Light model: twice its slow step. Busy worker (rtf 0.64, slow step 0.73): 1.5 x the slow
    step / the idle share, 3.0 hops (2 x rtf, 1.3 hops, left underruns in 60 s live).
    --latency high adds 2 hops."""
    from streamse.live.runner import StreamPlan

    plan = StreamPlan((0, 0), 16000, (1, 1), 160)

    def margin(latency: str, speed: ProbeSpeed) -> float:
        opts = LiveOptions(blocksize=160, latency=latency)
        return make_engine(FirStreamer(), opts, speed, plan).config.safety_hops

    assert margin("low", ProbeSpeed(0.0, 0.0)) == 0.0
    assert margin("low", ProbeSpeed(0.13, 0.2)) == pytest.approx(0.4)
    assert margin("low", ProbeSpeed(0.64, 0.73)) == pytest.approx(1.5 * 0.73 / 0.36)
    assert margin("high", ProbeSpeed(0.64, 0.73)) == pytest.approx(2 + 1.5 * 0.73 / 0.36)
    assert ProbeSpeed(0.5, 0.3).margin_hops == pytest.approx(1.0)  # never under 2 x the mean
    assert ProbeSpeed(0.95, 0.95).margin_hops == pytest.approx(14.25)  # idle share floored at 0.1
