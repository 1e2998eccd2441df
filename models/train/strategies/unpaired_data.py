"""Unpaired training data: noisy speech and clean speech that never share a source utterance.

Two sources of noisy speech, chosen by `noisy_dirs`:

- a folder (or several) of the user's own noisy recordings: random crops of them;
- none given: `MixtureDataset` mixtures built from ONE half of the clean clips (even indices of
  the sorted clip list), while the clean side of CycleGAN reads the OTHER half (odd indices).
  For LibriSpeech (one utterance per speaker) the halves are speaker-disjoint; for corpora
  with many clips per speaker (LJSpeech, EmoDB) they are utterance-disjoint only. Either way
  no clean clip is ever the source of a noisy one.

Every item is rebuilt from a generator seeded with (seed, epoch, index, tag), as in
`MixtureDataset`, so batches are reproducible and resume exactly.
"""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import Dataset

from .. import augment as aug
from ..audio_pool import AudioPool
from ..data import DataConfig, MixtureDataset


class PoolView:
    """A subset of an AudioPool's clips with the same read interface (len, [i], sample_rate,
    lengths)."""

    def __init__(self, pool: AudioPool, indices: np.ndarray):
        self.pool, self.indices = pool, np.asarray(indices, dtype=np.int64)
        self.sample_rate = pool.sample_rate

    def __len__(self) -> int:
        return int(self.indices.size)

    def __getitem__(self, index: int) -> np.ndarray:
        return self.pool[int(self.indices[index])]

    @property
    def lengths(self) -> np.ndarray:
        """Samples per clip of the view, int64 (len(self),)."""
        return self.pool.lengths[self.indices]


def split_pool(pool: AudioPool) -> tuple[PoolView, PoolView]:
    """(even-index clips, odd-index clips): the noisy-source and clean halves."""
    idx = np.arange(len(pool))
    return PoolView(pool, idx[0::2]), PoolView(pool, idx[1::2])


class _SeededItems(Dataset):
    """`epoch_size` items per epoch, item i of epoch e drawn from rng(seed, e, i, tag)."""

    tag = 0

    def __init__(self, cfg: DataConfig):
        self.cfg, self.epoch = cfg, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return self.cfg.epoch_size

    def rng(self, index: int) -> np.random.Generator:
        return np.random.default_rng((self.cfg.seed, self.epoch, index, self.tag))


class RecordingCrops(_SeededItems):
    """Random `segment_samples` crops of clips (e.g. noisy recordings, or clean speech),
    at a random RMS from `cfg.level_db`, peak <= 0.99. Items: float32 (N,)."""

    def __init__(self, cfg: DataConfig, pool: AudioPool | PoolView, tag: int):
        super().__init__(cfg)
        if len(pool) < 1:
            raise ValueError("need at least one clip")
        self.pool, self.tag = pool, tag

    def __getitem__(self, index: int) -> torch.Tensor:
        rng = self.rng(index)
        x = aug.crop_or_pad(self.pool[int(rng.integers(len(self.pool)))], self.cfg.segment_samples, rng)
        x, _ = aug.level_and_clip_guard(x, x, rng.uniform(*self.cfg.level_db))
        return torch.from_numpy(x.astype(np.float32))


class NoisyMixtures(_SeededItems):
    """The noisy half of `MixtureDataset` items (their clean targets are thrown away)."""

    def __init__(self, mixtures: MixtureDataset):
        super().__init__(mixtures.cfg)
        self.mixtures = mixtures

    def set_epoch(self, epoch: int) -> None:
        super().set_epoch(epoch)
        self.mixtures.set_epoch(epoch)

    def __getitem__(self, index: int) -> torch.Tensor:
        return self.mixtures[index][0]


def noisy_source(
    cfg: DataConfig, noisy_dirs: tuple[str, ...], speech_half: PoolView, noise: AudioPool, progress: bool
) -> _SeededItems:
    """Noisy-only items: crops of `noisy_dirs` recordings, else mixtures of `speech_half`."""
    if noisy_dirs:
        return RecordingCrops(cfg, AudioPool(noisy_dirs, cfg.sample_rate, progress=progress), 1)
    return NoisyMixtures(MixtureDataset(cfg, speech_half, noise))


class NoiseCrops(_SeededItems):
    """(unit-power noise crop (N,), SNR in dB ()) float32: a looped random crop of a random
    clip, and an integer SNR drawn uniformly from the inclusive `snr_db` range."""

    def __init__(self, cfg: DataConfig, pool: AudioPool, snr_db: tuple[int, int], tag: int):
        super().__init__(cfg)
        self.pool, self.snr_db, self.tag = pool, snr_db, tag

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        rng = self.rng(index)
        clip = self.pool[int(rng.integers(len(self.pool)))]
        n = aug.scale_to_power(aug.crop_loop(clip, self.cfg.segment_samples, rng), 1.0)
        snr = float(rng.integers(self.snr_db[0], self.snr_db[1] + 1))
        return torch.from_numpy(n.astype(np.float32)), torch.tensor(snr, dtype=torch.float32)


class Zipped(Dataset):
    """Item i = (a[i], b[i], ...) of several seeded datasets of the same length; a part whose
    item is a tuple contributes all its fields."""

    def __init__(self, *parts):
        self.parts = parts

    def set_epoch(self, epoch: int) -> None:
        for p in self.parts:
            p.set_epoch(epoch)

    def __len__(self) -> int:
        return min(len(p) for p in self.parts)

    def __getitem__(self, index: int) -> tuple:
        items = (p[index] for p in self.parts)
        return sum((x if isinstance(x, tuple) else (x,) for x in items), ())
