"""The hop-in/hop-out graph that the runtime runs: one hop of audio plus named state tensors
in, one hop of enhanced audio plus the updated state tensors out.

Input names: "audio" (B, hop) and each state tensor under its flattened name (e.g.
"net.rnn.h"); output names: "enhanced" (B, hop) and "<name>.next" for each state tensor, in
the same order. The batch axis of every tensor is dynamic, so N independent streams can share
one session with their states stacked.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from streamse.models.streaming import flatten_state, unflatten_state

NEXT_SUFFIX = ".next"


@dataclass(frozen=True)
class StateSpec:
    name: str
    shape: tuple[int, ...]  # with batch = 1
    batch_axis: int


class HopGraph(nn.Module):
    """Wraps a SpectralEnhancer's `step` with flat tensor inputs/outputs for export."""

    def __init__(self, model: nn.Module, streaming_form: bool = True):
        """A model may have an equivalent streaming form that makes a smaller graph (e.g. its
        parallel paths fused into grouped ops): `model.streaming_form()`, traced instead of
        the model unless `streaming_form` is False; its state tree names the graph's states."""
        super().__init__()
        form = getattr(model, "streaming_form", None) if streaming_form else None
        self.model = form() if callable(form) else model
        self.template = self.model.init_state(1)

    def state_specs(self) -> list[StateSpec]:
        """Name, per-stream shape and batch axis of every state tensor, in graph order."""
        one = flatten_state(self.template)
        two = flatten_state(self.model.init_state(2))
        specs = []
        for (name, a), (_, b) in zip(one, two):
            axis = next(i for i, (x, y) in enumerate(zip(a.shape, b.shape)) if x != y)
            specs.append(StateSpec(name, tuple(a.shape), axis))
        return specs

    def forward(self, audio: torch.Tensor, *states: torch.Tensor) -> tuple[torch.Tensor, ...]:
        state = unflatten_state(self.template, list(states))
        out, nxt = self.model.step(audio, state)
        return (out, *[t for _, t in flatten_state(nxt)])
