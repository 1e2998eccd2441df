"""WavLM teacher (the paper's: WavLM-Large, uniform mean of all hidden states, seeds.md §1.5).

Weights come from a local directory in Hugging Face layout (`config.json` +
`model.safetensors` / `pytorch_model.bin`), e.g. a copy of microsoft/wavlm-large; nothing is
downloaded. A `WavLMConfig` instead builds a randomly initialised model (tests).
"""

from __future__ import annotations

from pathlib import Path

import torch

from streamse.errors import StreamseError

from .base import FrameGrid, Teacher


def _require_transformers():
    try:
        import transformers
    except ImportError:
        raise StreamseError(
            "the wavlm teacher needs `transformers` (pip install 'streamse[train]')"
        ) from None
    return transformers


def conv_grid(conv_kernel, conv_stride) -> FrameGrid:
    """Frame grid of a stack of valid strided convs: stride = prod(strides), centre of the
    first frame = (receptive field - 1) / 2."""
    stride, field = 1, 1
    for k, s in zip(conv_kernel, conv_stride):
        field += (k - 1) * stride
        stride *= s
    return FrameGrid(float(stride), (field - 1) / 2)


class WavLMTeacher(Teacher):
    """wav (B, N) -> mean over all hidden states (embedding output + every layer), (B, T, D).

    normalize: zero-mean unit-variance per utterance first (WavLM-Large's feature extractor
    does this; the base models do not)."""

    def __init__(self, path: str | Path | None = None, config=None, normalize: bool = True):
        super().__init__()
        tf = _require_transformers()
        if path is not None:
            if not Path(path).is_dir():
                raise StreamseError(f"WavLM directory not found: {path}")
            self.model = tf.WavLMModel.from_pretrained(str(path), local_files_only=True)
        elif config is not None:
            self.model = tf.WavLMModel(config)
        else:
            raise StreamseError("the wavlm teacher needs --teacher-path DIR (a local copy)")
        self.model.eval().requires_grad_(False)
        cfg = self.model.config
        self.dim, self.normalize = cfg.hidden_size, normalize
        self.grid = conv_grid(cfg.conv_kernel, cfg.conv_stride)

    def frames(self, wav: torch.Tensor) -> torch.Tensor:
        if self.normalize:
            wav = (wav - wav.mean(-1, keepdim=True)) / (wav.std(-1, keepdim=True) + 1e-7)
        out = self.model(wav, output_hidden_states=True)
        return torch.stack(out.hidden_states).mean(dim=0)  # (B, T_t, D)
