"""`streamse live` flags become the library's values: --input-channel N (1 = first) is the
0-based channel the engine takes, 'mix' is None; the mixing flags fill one OutputMix."""

from __future__ import annotations

import pytest

from streamse.cli import build_parser
from streamse.live.engine import OutputMix


@pytest.mark.parametrize("flag,channel", [(None, 0), ("1", 0), ("2", 1), ("mix", None)])
def test_input_channel_counts_from_one_on_the_command_line(flag, channel):
    argv = ["live"] + ([] if flag is None else ["--input-channel", flag])
    assert build_parser().parse_args(argv).input_channel == channel


def test_mixing_flags_make_one_output_mix(monkeypatch):
    from streamse.live import cli

    seen = {}

    def fake_run(streamer, opts, **kwargs):
        seen["opts"] = opts
        return {"ended": "ok", "degraded": 0.0, "closed": True}

    monkeypatch.setattr("streamse.runtime.load_streamer", lambda *a, **k: object())
    monkeypatch.setattr("streamse.live.runner.run_live", fake_run)
    flags = "live --dry 0.25 --atten-lim-db 12 --fallback silence --input-channel 2".split()
    assert cli.cmd_live(build_parser().parse_args(flags)) == 0
    assert seen["opts"].mix == OutputMix(fallback="silence", dry=0.25, atten_lim_db=12.0)
    assert seen["opts"].input_channel == 1
