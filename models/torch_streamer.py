"""The PyTorch twin of the ONNX runtime streamer: `model.step` hop by hop, same verbs."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from streamse.streamer import HopStreamer


class TorchStreamer(HopStreamer):
    """Runs a SpectralEnhancer's streaming step one hop per call (as the live engine would)."""

    def __init__(self, model: nn.Module):
        super().__init__(model.geometry)
        self.model = model.eval()
        self._reset_state()

    def _reset_state(self) -> None:
        self._state = self.model.init_state(1)

    def _process(self, x: np.ndarray) -> np.ndarray:
        out = np.empty_like(x)
        hop = self.hop
        with torch.inference_mode():
            for i in range(0, x.size, hop):
                y, self._state = self.model.step(torch.from_numpy(x[None, i : i + hop]), self._state)
                out[i : i + hop] = y[0].numpy()
        return out
