"""Configs as tables: the one TOML reader and the one list-to-tuple converter that every
config (architectures, training, strategies) is built with. No torch here."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from streamse.errors import StreamseError


def read_toml(path: str | Path | None) -> dict:
    """TOML file -> nested dict ({} for None); a missing or invalid file is a one-line error.

    A top-level `extends = "other.toml"` (relative to this file's folder) reads that file first
    and lays this one's tables over it, key by key within each table: a recipe that differs from
    another in a few values says only those. Chains are followed; a cycle is an error."""
    return _read_extended(Path(path), ()) if path is not None else {}


def _read_extended(path: Path, chain: tuple[Path, ...]) -> dict:
    """`read_toml` of `path`, reached through the files of `chain` (each extending the next)."""
    if path.resolve() in chain:
        names = " -> ".join(p.name for p in (*chain, path.resolve()))
        raise StreamseError(f"config extends itself: {names}")
    try:
        tables = tomllib.loads(path.read_text())
    except FileNotFoundError:
        by = f" (extended by {chain[-1]})" if chain else ""
        raise StreamseError(f"config not found: {path}{by}") from None
    except tomllib.TOMLDecodeError as exc:
        raise StreamseError(f"{path}: invalid TOML: {exc}") from None
    parent = tables.pop("extends", None)
    if parent is None:
        return tables
    if not isinstance(parent, str):
        raise StreamseError(f"{path}: extends must be a file name, not {parent!r}")
    merged = _read_extended(path.parent / parent, (*chain, path.resolve()))
    for name, value in tables.items():
        both = isinstance(value, dict) and isinstance(merged.get(name), dict)
        merged[name] = {**merged[name], **value} if both else value
    return merged


def tuplify(v: Any) -> Any:
    """TOML arrays / JSON lists -> tuples, nested, as the frozen config dataclasses hold them."""
    return tuple(tuplify(x) for x in v) if isinstance(v, list) else v


def tuplify_table(table: dict) -> dict:
    """Every list value of a table (one level of keys) -> nested tuples."""
    return {k: tuplify(v) for k, v in table.items()}
