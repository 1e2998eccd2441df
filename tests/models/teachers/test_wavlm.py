"""The WavLM teacher (a tiny random one, built from a config and from a local folder)."""

from __future__ import annotations

import pytest
import torch

from streamse.errors import StreamseError
from streamse.models.teachers import build_teacher
from streamse_testing import tiny_wavlm


def test_tiny_random_wavlm_gives_stft_frames(tmp_path):
    """Built from a config, and from a local directory (the --teacher-path route)."""
    teacher = tiny_wavlm()
    wav = torch.randn(2, 16000)
    assert teacher.frames(wav).shape == (2, 49, 16)  # 20 ms frames
    emb = teacher.embed_frames(wav, 512, 256)
    assert emb.shape == (2, 62, 16) and torch.isfinite(emb).all()
    teacher.model.save_pretrained(tmp_path / "wavlm")
    loaded = build_teacher("wavlm", tmp_path / "wavlm")
    torch.testing.assert_close(loaded.embed_frames(wav, 512, 256), emb)
    with pytest.raises(StreamseError, match="teacher-path|local copy"):
        build_teacher("wavlm", None)
