"""The one evaluation loop: systems scored on (noisy, clean) items, input vs output, per file
and as means. Used by `streamse eval`, `bench --quality --peers` and training validation, each
with its own reader, metric set and systems. No torch.

A system is `enhance(noisy) -> enhanced`: 1-D float arrays of the same length, sample-aligned
(the caller removes any model delay). A scorer is `score(clean, signal, sr) -> {metric: value}`.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from .metrics import leak_and_artefacts

System = Callable[[np.ndarray], np.ndarray]
Scorer = Callable[[np.ndarray, np.ndarray, int], dict]


@dataclass
class EvalRow:
    """Scores of one pair: `noisy` = the unprocessed input vs clean ({} when not scored),
    `enhanced` = the output."""

    name: str
    seconds: float
    noisy: dict[str, float]
    enhanced: dict[str, float]


def _nanmean(values: list[float]) -> float:
    finite = [v for v in values if not math.isnan(v)]
    return float(np.mean(finite)) if finite else math.nan


@dataclass
class EvalReport:
    """Per-file rows, their means (nan-skipping), and the system's real-time factor."""

    sample_rate: int
    rows: list[EvalRow] = field(default_factory=list)
    enhance_seconds: float = 0.0  # wall time spent inside the system

    def mean(self, which: str) -> dict[str, float]:
        """Mean of each metric over files for "noisy" or "enhanced", nan values skipped."""
        keys = dict.fromkeys(k for r in self.rows for k in getattr(r, which))
        return {k: _nanmean([getattr(r, which).get(k, math.nan) for r in self.rows]) for k in keys}

    @property
    def audio_seconds(self) -> float:
        return sum(r.seconds for r in self.rows)

    @property
    def rtf(self) -> float:
        """Processing time / audio duration (< 1 is faster than real time)."""
        return self.enhance_seconds / self.audio_seconds if self.audio_seconds else math.nan


def read_pair(noisy_path: str, clean_path: str, sr: int) -> tuple[str, np.ndarray, np.ndarray]:
    """(file name, noisy, clean): float32 mono at `sr` Hz (`streamse.audio_io.read_audio`),
    both cut to the shorter: an item for `evaluate`."""
    from streamse.audio_io import read_audio

    noisy, clean = read_audio(noisy_path, sr)[0], read_audio(clean_path, sr)[0]
    n = min(noisy.size, clean.size)
    return Path(noisy_path).name, noisy[:n], clean[:n]


def evaluate(
    items: Iterable[tuple[str, np.ndarray, np.ndarray]],
    systems: dict[str, System],
    sr: int,
    scorer: Scorer,
    score_input: bool = True,
    keep: int = -1,
    decompose: bool = False,
) -> tuple[dict[str, EvalReport], dict[str, np.ndarray]]:
    """Score every system on (name, noisy, clean) items of equal length at `sr` Hz.

    score_input: also score the noisy input (each row's `noisy`). decompose: add each signal's
    noise leak, artefacts and speech gain (`metrics.leak_and_artefacts`, which needs the noisy
    input beside the clean). Returns (a report per system, the signals of item `keep`:
    {"noisy", "clean", system name: output}, for plots). A system whose output length differs
    from its input's is a ValueError."""

    def scored(clean: np.ndarray, noisy: np.ndarray, y: np.ndarray) -> dict:
        out = scorer(clean, y, sr)
        return {**out, **leak_and_artefacts(clean, noisy, y)} if decompose else out

    reports = {name: EvalReport(sr) for name in systems}
    kept: dict[str, np.ndarray] = {}
    for i, (name, noisy, clean) in enumerate(items):
        base = scored(clean, noisy, noisy) if score_input else {}
        if i == keep:
            kept.update(noisy=noisy, clean=clean)
        for sys_name, enhance in systems.items():
            t0 = time.perf_counter()
            y = enhance(noisy.copy())
            reports[sys_name].enhance_seconds += time.perf_counter() - t0
            if np.shape(y) != noisy.shape:
                raise ValueError(
                    f"{sys_name} returned {np.size(y)} samples for {noisy.size} "
                    f"({name}); it must keep the length"
                )
            if i == keep:
                kept[sys_name] = y
            reports[sys_name].rows.append(EvalRow(name, noisy.size / sr, base, scored(clean, noisy, y)))
    return reports, kept
