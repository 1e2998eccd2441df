"""Matching (noisy, clean) files by name, for validation and evaluation sets (no torch)."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

from streamse.audio_io import AUDIO_SUFFIXES
from streamse.errors import StreamseError

log = logging.getLogger(__name__)


def load_pairs(noisy_dir: str, clean_dir: str) -> list[tuple[str, str]]:
    """(noisy_path, clean_path) for every audio file present in both folders under the same
    name (top level only), sorted by name. Unmatched files are logged; no match at all raises."""

    def audio_names(folder: str) -> set[str]:
        return {f for f in os.listdir(folder) if os.path.splitext(f)[1].lower() in AUDIO_SUFFIXES}

    noisy, clean = audio_names(noisy_dir), audio_names(clean_dir)
    common = sorted(noisy & clean)
    if not common:
        raise StreamseError(f"no files with the same name in {noisy_dir} and {clean_dir}")
    for name in sorted(noisy ^ clean):
        log.warning("no partner for %s; left out", name)
    return [(os.path.join(noisy_dir, f), os.path.join(clean_dir, f)) for f in common]


def read_pairs_file(path: Path) -> list[tuple[str, str]]:
    if not path.is_file():
        raise StreamseError(f"pairs file not found: {path}")
    text = path.read_text()
    if path.suffix == ".json":
        rows = json.loads(text)
    else:
        rows = [line.split("\t") for line in text.splitlines() if line.strip()]
    base = path.parent
    try:
        return [(str(base / n), str(base / c)) for n, c in rows]
    except ValueError:
        raise StreamseError(f"{path}: each entry must be a (noisy, clean) pair") from None


def folder_pairs(folder: Path) -> list[tuple[str, str]]:
    if not (folder / "noisy").is_dir() or not (folder / "clean").is_dir():
        raise StreamseError(f"{folder} must hold noisy/ and clean/ subfolders")
    return load_pairs(str(folder / "noisy"), str(folder / "clean"))
