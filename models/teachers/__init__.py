"""Stage-1 teachers by name: frozen speech models giving frame-level embeddings on the
enhancer's STFT frame grid (`Teacher.embed_frames`). Imported only by training code."""

from __future__ import annotations

from pathlib import Path

from streamse.errors import StreamseError

from .base import FrameGrid, Teacher, resample_frames, stft_grid

TEACHERS = ("wavlm", "resemblyzer")


def build_teacher(name: str, path: str | Path | None = None) -> Teacher:
    """'wavlm' (needs `path`, a local Hugging Face WavLM directory) or 'resemblyzer' (weights
    shipped in the package; `path` optionally overrides its pretrained.pt)."""
    if name == "wavlm":
        from .wavlm import WavLMTeacher

        return WavLMTeacher(path)
    if name == "resemblyzer":
        from .resemblyzer_lstm import ResemblyzerTeacher

        return ResemblyzerTeacher(path)
    raise StreamseError(f"unknown teacher {name!r}; choose one of {list(TEACHERS)}")


__all__ = ["TEACHERS", "FrameGrid", "Teacher", "build_teacher", "resample_frames", "stft_grid"]
