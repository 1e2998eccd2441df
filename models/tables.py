"""Configs as tables: the one TOML reader and the one list-to-tuple converter that every
config (architectures, training, strategies) is built with. No torch here."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from streamse.errors import StreamseError


def read_toml(path: str | Path | None) -> dict:
    """TOML file -> nested dict ({} for None); a missing or invalid file is a one-line error."""
    if path is None:
        return {}
    path = Path(path)
    try:
        return tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise StreamseError(f"config not found: {path}") from None
    except tomllib.TOMLDecodeError as exc:
        raise StreamseError(f"{path}: invalid TOML: {exc}") from None


def tuplify(v: Any) -> Any:
    """TOML arrays / JSON lists -> tuples, nested, as the frozen config dataclasses hold them."""
    return tuple(tuplify(x) for x in v) if isinstance(v, list) else v


def tuplify_table(table: dict) -> dict:
    """Every list value of a table (one level of keys) -> nested tuples."""
    return {k: tuplify(v) for k, v in table.items()}
