"""Exponential moving average of a model's weights during training (`TrainConfig.ema`), on
torch's `AveragedModel`. The average is what validation scores and what a checkpoint's
`state_dict` holds (so export, eval and `--init` read it unchanged); the live weights travel as
`live_state_dict` so that a resume continues the optimisation, not the average."""

from __future__ import annotations

from torch import nn
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn


class WeightAverage:
    def __init__(self, model: nn.Module, decay: float):
        if not 0.0 < decay < 1.0:
            raise ValueError(f"ema decay must be in (0, 1), got {decay}")
        self.avg = AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(decay), use_buffers=True)

    @property
    def model(self) -> nn.Module:
        return self.avg.module

    def update(self, model: nn.Module) -> None:
        """After an optimiser step; the first call copies the weights (so `--init` counts)."""
        self.avg.update_parameters(model)

    def extra_state(self, model: nn.Module) -> dict:
        return {"live_state_dict": model.state_dict(), "ema_updates": int(self.avg.n_averaged)}

    def load(self, ckpt: dict, model: nn.Module) -> None:
        """Resume: the average from `state_dict` when the checkpoint carries one, else start
        it again from the (live) model at the next update."""
        if "live_state_dict" in ckpt:
            self.model.load_state_dict(ckpt["state_dict"])
            self.avg.n_averaged.fill_(int(ckpt["ema_updates"]))
        else:
            self.model.load_state_dict(model.state_dict())
            self.avg.n_averaged.zero_()
