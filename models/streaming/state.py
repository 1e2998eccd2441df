"""Walk a model's state tree (dataclasses, tuples, tensors, None) as named tensors.

Names join field names and tuple indices with dots, e.g. ``net.enc.1.past``; the order is the
dataclass field order, so it is stable and matches between export and runtime.
"""

from __future__ import annotations

import dataclasses
import itertools
from typing import Any, Iterator

import torch
from torch import nn


def flatten_state(state: Any, prefix: str = "") -> list[tuple[str, torch.Tensor]]:
    """State tree -> [(name, tensor)] in a fixed order. `None` leaves (stateless layers) vanish."""
    if state is None:
        return []
    if isinstance(state, torch.Tensor):
        return [(prefix, state)]
    if dataclasses.is_dataclass(state):
        items = [(f.name, getattr(state, f.name)) for f in dataclasses.fields(state)]
    elif isinstance(state, (tuple, list)):
        items = [(str(i), s) for i, s in enumerate(state)]
    else:
        raise TypeError(f"unsupported state leaf at {prefix!r}: {type(state).__name__}")
    out: list[tuple[str, torch.Tensor]] = []
    for name, sub in items:
        out += flatten_state(sub, f"{prefix}.{name}" if prefix else name)
    return out


def unflatten_state(template: Any, tensors: list[torch.Tensor] | Iterator[torch.Tensor]) -> Any:
    """Rebuild a tree shaped like `template` taking leaves from `tensors` in flatten order.
    Raises ValueError when there are fewer or more tensors than the template has leaves."""
    tensors = list(tensors)
    want = len(flatten_state(template))
    if len(tensors) != want:
        raise ValueError(f"state needs {want} tensors, got {len(tensors)}")
    return _rebuild(template, iter(tensors))


def _rebuild(template: Any, it: Iterator[torch.Tensor]) -> Any:
    if template is None:
        return None
    if isinstance(template, torch.Tensor):
        return next(it)
    if dataclasses.is_dataclass(template):
        kwargs = {f.name: _rebuild(getattr(template, f.name), it) for f in dataclasses.fields(template)}
        return type(template)(**kwargs)
    if isinstance(template, (tuple, list)):
        return type(template)(_rebuild(s, it) for s in template)
    raise TypeError(f"unsupported state leaf: {type(template).__name__}")


def batch_axes(init_state) -> list[int]:
    """Batch axis of every tensor of a state tree, in flatten order, found by comparing
    `init_state(1)` with `init_state(2)` (`init_state` is a callable batch -> state)."""
    one, two = flatten_state(init_state(1)), flatten_state(init_state(2))
    return [
        next(i for i, (x, y) in enumerate(zip(a.shape, b.shape)) if x != y)
        for (_, a), (_, b) in zip(one, two)
    ]


def select_state(keep_new: torch.Tensor, new: Any, old: Any, axes: list[int]) -> Any:
    """Per stream, `new` where keep_new (B,) is nonzero, else `old`; trees of the same shape,
    `axes` their batch axes (see `batch_axes`)."""
    picked = []
    for ((_, a), (_, b)), axis in zip(zip(flatten_state(new), flatten_state(old)), axes):
        shape = [1] * a.dim()
        shape[axis] = -1
        picked.append(torch.where(keep_new.reshape(shape) > 0, a, b))
    return unflatten_state(new, picked)


def state_placement(module: nn.Module, device=None, dtype=None) -> dict:
    """{"device": ..., "dtype": ...} for a module's state tensors: the arguments, each
    defaulting to that of the module's first parameter or buffer (None, i.e. CPU float32, when
    it has neither)."""
    ref = next(itertools.chain(module.parameters(), module.buffers()), None)
    if ref is not None:
        device, dtype = device or ref.device, dtype or ref.dtype
    return {"device": device, "dtype": dtype}


def state_zeros(shape: tuple[int, ...], module: nn.Module, device=None, dtype=None) -> torch.Tensor:
    """A zero state tensor of `shape` placed by `state_placement`. Every layer's
    `init_state(batch, *, device=None, dtype=None)` makes its tensors with this."""
    return torch.zeros(shape, **state_placement(module, device, dtype))
