"""A training step's batch, as a pure function of the step, and the worker processes that
build them ahead of the optimiser (`TrainConfig.num_workers`).

On a GPU the model's step takes a few tens of milliseconds while one 4 s mixture takes ~10 ms of
one CPU core to build, so batches must be made in parallel. Because every batch is a function
of (dataset, step) alone, workers give exactly the batches the main process would.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset


def step_keys(
    n_items: int, batch_size: int, seed: int, per_epoch: int, rank: int, world: int, step: int
) -> tuple[int, list[int]]:
    """(epoch, item indices) of global step `step` on this rank: perm(seed, epoch)[b*bs :
    (b+1)*bs][rank::world] of the epoch's `n_items`, where (epoch, b) = divmod(step,
    per_epoch) (`Trainer.batches_per_epoch`)."""
    epoch, b = divmod(step, per_epoch)
    perm = np.random.default_rng((seed, epoch, 0xBA7C)).permutation(n_items)
    return epoch, [int(i) for i in perm[b * batch_size : (b + 1) * batch_size][rank::world]]


def step_items(
    dataset: Dataset, batch_size: int, seed: int, per_epoch: int, rank: int, world: int, step: int
) -> tuple[torch.Tensor, ...]:
    """The CPU batch of global step `step` (`step_keys`' items of `dataset` in their epoch),
    stacked field by field: (B_rank, N) each for the supervised (noisy, clean)."""
    epoch, idx = step_keys(len(dataset), batch_size, seed, per_epoch, rank, world, step)
    dataset.set_epoch(epoch)
    items = [dataset[i] for i in idx]
    return tuple(torch.stack(field) for field in zip(*items))


class StepBatches(Dataset):
    """Item k = the CPU batch of step start + k, from `make(step)` (a `step_items` partial)."""

    def __init__(self, make: Callable[[int], tuple[torch.Tensor, ...]], start: int, stop: int):
        self.make, self.start, self.stop = make, start, stop

    def __len__(self) -> int:
        return max(0, self.stop - self.start)

    def __getitem__(self, k: int) -> tuple[torch.Tensor, ...]:
        return self.make(self.start + k)


def prefetched(
    make: Callable[[int], tuple[torch.Tensor, ...]], start: int, stop: int, workers: int, device: torch.device
) -> Iterator[tuple[torch.Tensor, ...]]:
    """Batches of steps start..stop-1, in order, built by `workers` processes (4 ahead each) and
    moved to `device`. `make` must not hold the model: workers get a copy of it."""
    loader = DataLoader(
        StepBatches(make, start, stop),
        batch_size=None,
        num_workers=workers,
        prefetch_factor=4,
        pin_memory=device.type == "cuda",
    )
    for batch in loader:
        yield tuple(t.to(device, non_blocking=True) for t in batch)
