"""Shared fixtures: bundled audio (tests/data) and small seeded models."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="session")
def noisy_clean() -> tuple[np.ndarray, np.ndarray]:
    """A real VoiceBank+DEMAND pair, 16 kHz float32 mono, same length."""
    import soundfile as sf

    noisy, sr = sf.read(DATA / "noisy.wav", dtype="float32")
    clean, _ = sf.read(DATA / "clean.wav", dtype="float32")
    assert sr == 16000
    return noisy, clean


@pytest.fixture(scope="module")
def torch_one_thread():
    """Eager per-hop steps of small convs crawl when intra-op threads fight over a busy CPU."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def train_data_dirs(tmp_path_factory):
    """A tiny speech folder (the bundled clean utterance in 3 pieces) and a noise folder."""
    import soundfile as sf

    root = tmp_path_factory.mktemp("data")
    speech, noise = root / "speech", root / "noise"
    speech.mkdir(), noise.mkdir()
    clean, sr = sf.read(DATA / "clean.wav", dtype="float32")
    for i in range(3):
        sf.write(speech / f"utt{i}.wav", clean[i * 16000 : i * 16000 + 20000], sr)
    rng = np.random.default_rng(0)
    for i in range(2):
        sf.write(noise / f"n{i}.wav", 0.1 * rng.standard_normal(24000).astype(np.float32), sr)
    return speech, noise
