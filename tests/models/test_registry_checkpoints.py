"""The one checkpoint reader: checkpoints are data; every way one can be wrong is a one-line
error naming what was being read (load, --init, resume)."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from streamse.errors import StreamseError
from streamse.models.registry import (
    build,
    build_by_name,
    checkpoint_dict,
    config_from_dict,
    load_checkpoint,
    read_checkpoint,
)
from streamse.models.train.strategies.base import init_weights


@pytest.fixture
def saved(tmp_path):
    model = build_by_name("crn-s")
    path = tmp_path / "crn-s.pt"
    torch.save(checkpoint_dict(model, "crn-s", "crn", step=7), path)
    return model, path


def test_a_good_checkpoint_round_trips(saved):
    model, path = saved
    again, ckpt = load_checkpoint(path)
    assert ckpt["step"] == 7 and not again.training
    for a, b in zip(model.state_dict().values(), again.state_dict().values()):
        assert torch.equal(a, b)
    assert init_weights(build_by_name("crn-s"), "crn", path) == 7


def test_init_accepts_the_runs_own_model_table_and_nothing_else(saved):
    """A fine-tune may change what its [model] table names (here the decoder, which adds
    tensors); the checkpoint's config with those changes must be the run's config."""
    model, path = saved
    cfg = dataclasses.asdict(model.cfg)
    wider = build("crn", config_from_dict("crn", {**cfg, "decoder": True}))
    assert init_weights(wider, "crn", path, {"decoder": True}) == 7
    for k, v in model.state_dict().items():
        torch.testing.assert_close(wider.state_dict()[k], v)
    with pytest.raises(StreamseError, match="model config differs"):
        init_weights(wider, "crn", path)
    with pytest.raises(StreamseError, match="model config differs"):
        init_weights(build("crn", config_from_dict("crn", {**cfg, "rnn_hidden": 64})), "crn", path)


def test_init_takes_inference_settings_from_the_run_not_the_checkpoint(saved, tmp_path, caplog):
    """A shipped checkpoint carries its export settings (mask_power 0.8, silence_db -80): a run
    that starts from it trains with its own (the defaults) and says so; the weights load."""
    model, _ = saved
    shipped = tmp_path / "shipped.pt"
    ckpt = checkpoint_dict(model, "crn-s", "crn", step=7)
    ckpt["config"] = {**ckpt["config"], "mask_power": 0.8, "silence_db": -80.0}
    torch.save(ckpt, shipped)
    run = build_by_name("crn-s")
    assert run.cfg.mask_power == 1.0 and run.cfg.silence_db is None
    with caplog.at_level("INFO"):
        assert init_weights(run, "crn", shipped) == 7
    assert "mask_power 0.8 -> 1.0" in caplog.text and "silence_db -80.0 -> None" in caplog.text
    torch.testing.assert_close(run.state_dict(), model.state_dict())
    assert run.cfg.mask_power == 1.0  # the run's own, as built
    with pytest.raises(StreamseError, match="model config differs"):  # the weights' fields still count
        ckpt["config"] = {**ckpt["config"], "fc_hidden": 7}
        torch.save(ckpt, shipped)
        init_weights(run, "crn", shipped)


def test_a_config_value_its_field_refuses_is_a_one_line_error():
    tb = dataclasses.asdict(build_by_name("cnunet-tb-ts").cfg)
    with pytest.raises(StreamseError, match="invalid cnunet-tb config: combine must be one of"):
        config_from_dict("cnunet-tb", {**tb, "combine": "max"})


def test_every_bad_checkpoint_is_a_clear_error(saved, tmp_path):
    _, path = saved
    with pytest.raises(StreamseError, match="--init checkpoint not found"):
        read_checkpoint(tmp_path / "nope.pt", what="--init checkpoint")
    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(StreamseError, match="cannot read checkpoint"):
        load_checkpoint(corrupt)
    foreign = tmp_path / "foreign.pt"
    torch.save({"weights": torch.zeros(3)}, foreign)
    with pytest.raises(StreamseError, match="not a streamse checkpoint"):
        load_checkpoint(foreign)
    with pytest.raises(StreamseError, match="holds a crn model, not cnunet"):
        read_checkpoint(path, "cnunet")
    with pytest.raises(StreamseError, match="model config differs"):
        init_weights(build_by_name("crn"), "crn", path)


def test_code_in_a_checkpoint_is_refused(tmp_path):
    """weights_only: a pickle that would run code is not loaded."""
    evil = tmp_path / "evil.pt"
    torch.save({"format": "streamse-checkpoint-v1", "family": "crn", "f": print}, evil)
    with pytest.raises(StreamseError, match="cannot read checkpoint"):
        read_checkpoint(evil)
