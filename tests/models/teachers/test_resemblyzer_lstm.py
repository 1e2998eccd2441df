"""The resemblyzer teacher: its pretrained LSTM weights ship in the package (no network)."""

from __future__ import annotations

import torch

from streamse.models.teachers import build_teacher
from streamse_testing import need_resemblyzer


def test_resemblyzer_teacher_ships_weights():
    need_resemblyzer()
    teacher = build_teacher("resemblyzer")
    wav = 0.1 * torch.randn(1, 16000)
    assert teacher.frames(wav).shape == (1, 101, 256)  # 10 ms frames, centred
    emb = teacher.embed_frames(wav, 512, 256)
    assert emb.shape == (1, 62, 256) and emb.abs().max() <= 1.0  # LSTM hidden states
    assert emb.std() > 1e-3  # pretrained, not zeros
