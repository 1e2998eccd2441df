"""Streaming layers: each has an offline `forward` and a `step` over the same weights.

Every stateful layer owns a small frozen dataclass of tensors, created by
`init_state(batch, *, device, dtype)` (defaults: the layer's own parameters') and passed in and
returned by `step`. `state.flatten_state` / `state.unflatten_state` turn a
model's tree of such states into named tensors for ONNX.
"""

from .complex_conv import ComplexCausalConv2d
from .conv import CausalConv1d, CausalConv2d, ConvState
from .deep_filter import DeepFilter
from .delay import FrameDelay, delay_frames
from .fused_norm import FusedFrameNorm
from .level_norm import LevelNorm, LevelState
from .noise_floor import FloorState, NoiseFloor
from .norm import FrameNorm
from .running_mean import MeanState, RunningMean
from .rnn import GRUState, LSTMState, StreamGRU, StreamLSTM
from .state import (
    batch_axes,
    flatten_state,
    select_state,
    state_placement,
    state_zeros,
    unflatten_state,
)
from .stft import ISTFT, STFT, ISTFTState, STFTState

__all__ = [
    "CausalConv1d",
    "CausalConv2d",
    "ConvState",
    "DeepFilter",
    "FrameDelay",
    "delay_frames",
    "FrameNorm",
    "GRUState",
    "LSTMState",
    "StreamGRU",
    "StreamLSTM",
    "flatten_state",
    "unflatten_state",
    "ISTFT",
    "STFT",
    "ISTFTState",
    "STFTState",
    "ComplexCausalConv2d",
    "MeanState",
    "RunningMean",
    "FusedFrameNorm",
    "LevelNorm",
    "LevelState",
    "FloorState",
    "NoiseFloor",
    "batch_axes",
    "select_state",
    "state_placement",
    "state_zeros",
]
