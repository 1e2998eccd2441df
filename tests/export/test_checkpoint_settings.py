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


def test_average_with_exports_the_mean_of_the_weights_and_records_it(tmp_path, capsys):
    """--average-with: the exported weights are the mean of both checkpoints' (a fine-tune and
    the weights it started from), `averaged_with` names the other; another config is refused."""
    a = _ckpt(tmp_path)
    model, ck = load_checkpoint(a)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.05 * torch.randn(p.shape, generator=torch.Generator().manual_seed(3)))
    b = tmp_path / "b_start.pt"
    torch.save(checkpoint_dict(model, "crn", "crn", step=7), b)
    out = tmp_path / "avg.onnx"
    args = [
        "export",
        "--checkpoint",
        str(a),
        "--average-with",
        str(b),
        "-o",
        str(out),
        "--set",
        "mask_power=0.8",
    ]
    assert main(args) == 0
    capsys.readouterr()
    got, ckpt = load_checkpoint(tmp_path / "avg.pt")
    sa, sb = load_checkpoint(a)[0].state_dict(), model.state_dict()
    for k, v in got.state_dict().items():
        torch.testing.assert_close(v, (sa[k] + sb[k]) / 2, atol=1e-7, rtol=0, msg=k)
    assert ckpt["averaged_with"] == [{"path": "b_start.pt", "step": 7}]
    assert ckpt["config"]["mask_power"] == 0.8 and got.cfg.mask_power == 0.8
    other = tiny_crn(seed=2, input_norm="level", enc_norm="none", rnn_hidden=24)
    torch.save(checkpoint_dict(other, "crn", "crn", step=1), tmp_path / "other.pt")
    code = main(
        ["export", "--checkpoint", str(a), "--average-with", str(tmp_path / "other.pt"), "-o", str(out)]
    )
    err = capsys.readouterr().err
    assert code == 2 and "cannot average" in err and len(err.strip().splitlines()) == 1, err


def test_model_names_the_export_within_its_family(tmp_path, capsys):
    """`--model crn-32ms` ships a crn checkpoint under that name (as the shipped crn-32ms was);
    another family's name or an unknown one is a one-line error and writes nothing."""
    ckpt = _ckpt(tmp_path)
    assert (
        main(["export", "--model", "crn-s", "--checkpoint", str(ckpt), "-o", str(tmp_path / "s.onnx")]) == 0
    )
    assert load_streamer(str(tmp_path / "s.onnx")).meta.name == "crn-s"
    assert load_checkpoint(tmp_path / "s.pt")[1]["name"] == "crn-s"
    for wrong, says in (("cnunet", "cnunet model"), ("nope", "unknown model")):
        assert (
            main(["export", "--model", wrong, "--checkpoint", str(ckpt), "-o", str(tmp_path / "w.onnx")]) == 2
        )
        assert says in capsys.readouterr().err
        assert not (tmp_path / "w.onnx").exists()
