"""`streamse export --set FIELD=VALUE`: an inference-time config field changed at export, recorded
in the exported config; unknown fields and shape-changing ones are one-line errors."""

from __future__ import annotations

import json

import numpy as np
import torch

from streamse.cli import main
from streamse.models.registry import checkpoint_dict, load_checkpoint
from streamse.runtime import load_streamer
from streamse_testing import tiny_crn


def _ckpt(tmp_path):
    model = tiny_crn(seed=2, input_norm="level", enc_norm="none")
    with torch.no_grad():  # a mask far from the identity, so a mask power shows
        for p in model.parameters():
            p.add_(0.1 * torch.randn(p.shape, generator=torch.Generator().manual_seed(1)))
    path = tmp_path / "tiny.pt"
    torch.save(checkpoint_dict(model, "crn", "crn", step=3), path)
    return path


def test_set_changes_the_exported_model_and_is_recorded(tmp_path, capsys, noisy_clean):
    ckpt = _ckpt(tmp_path)
    assert main(["export", "--checkpoint", str(ckpt), "-o", str(tmp_path / "a.onnx")]) == 0
    assert (
        main(["export", "--checkpoint", str(ckpt), "-o", str(tmp_path / "b.onnx"), "--set", "mask_power=0.8"])
        == 0
    )
    capsys.readouterr()
    assert json.loads((tmp_path / "b.json").read_text())["config"]["mask_power"] == 0.8
    assert load_checkpoint(tmp_path / "b.pt")[1]["config"]["mask_power"] == 0.8
    x = noisy_clean[0][:8000]
    a, b = (
        load_streamer(str(tmp_path / "a.onnx")).process(x),
        load_streamer(str(tmp_path / "b.onnx")).process(x),
    )
    assert np.abs(a - b).max() > 1e-3 * np.abs(a).max()


def test_bad_settings_are_one_line_errors(tmp_path, capsys):
    ckpt = _ckpt(tmp_path)
    for setting, match in (("nope=1", "unknown fields"), ("rnn_hidden=8", "shapes")):
        code = main(["export", "--checkpoint", str(ckpt), "-o", str(tmp_path / "c.onnx"), "--set", setting])
        err = capsys.readouterr().err
        assert code == 2 and match in err and len(err.strip().splitlines()) == 1, err
        assert not (tmp_path / "c.onnx").exists()
