"""`TrainConfig.ema`: the moving average of the weights is what a checkpoint's `state_dict`
holds (what export, eval and validation read), it is the exact EMA of the live weights, and a
resume continues both the live weights and the average exactly."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from streamse.models.registry import load_checkpoint
from streamse.models.train.ema import WeightAverage
from streamse.models.train.trainer import Trainer
from streamse_testing import tiny_train_config

TINY_MODEL = {"channels": (4, 8), "rnn_hidden": 32, "rnn_layers": 1, "fc_hidden": 32}
DECAY = 0.5


def _cfg(train_data_dirs, steps=6):
    cfg = tiny_train_config(*train_data_dirs, TINY_MODEL, steps, 2, epoch_size=8, warmup=2)
    return dataclasses.replace(cfg, ema=DECAY)


def _weights(model):
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def test_the_average_is_the_ema_of_the_live_weights_and_is_what_the_checkpoint_holds(
    tmp_path, train_data_dirs
):
    tr = Trainer("crn-s", _cfg(train_data_dirs), tmp_path, progress=False)
    expected = None
    for _ in range(4):
        tr.train_step(*tr.batch(tr.step))
        live = _weights(tr.model)
        expected = (
            live if expected is None else {k: DECAY * expected[k] + (1 - DECAY) * v for k, v in live.items()}
        )
    avg = tr.eval_model.state_dict()
    for k, v in expected.items():
        if v.is_floating_point():
            torch.testing.assert_close(avg[k], v, msg=k)
    assert any(not torch.equal(avg[k], live[k]) for k in live if live[k].is_floating_point())
    tr.save(tmp_path / "c.pt", {})
    model, ckpt = load_checkpoint(tmp_path / "c.pt")
    for k, v in model.state_dict().items():
        assert torch.equal(v, avg[k]), k
    assert ckpt["ema_updates"] == 4 and all(torch.equal(ckpt["live_state_dict"][k], live[k]) for k in live)


def test_resume_continues_the_live_weights_and_the_average_exactly(tmp_path, train_data_dirs):
    cfg = _cfg(train_data_dirs)
    straight = Trainer("crn-s", cfg, tmp_path / "a", progress=False)
    straight.fit()
    first = Trainer("crn-s", cfg, tmp_path / "b", progress=False)
    for _ in range(3):
        first.train_step(*first.batch(first.step))
    first.save(tmp_path / "stop.pt", {})
    resumed = Trainer("crn-s", cfg, tmp_path / "b", resume=tmp_path / "stop.pt", progress=False)
    resumed.fit()
    for a, b in ((straight.model, resumed.model), (straight.eval_model, resumed.eval_model)):
        wa, wb = _weights(a), _weights(b)
        for k in wa:
            torch.testing.assert_close(wb[k], wa[k], atol=0, rtol=0, msg=k)


def test_a_decay_outside_0_1_is_refused():
    with pytest.raises(ValueError, match="ema decay"):
        WeightAverage(torch.nn.Linear(2, 2), 1.0)
