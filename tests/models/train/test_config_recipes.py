"""Every training recipe under configs/ loads (common tables and each strategy table it holds),
and its [model] overrides build the model its file name starts with, as the trainer combines
them (a typo in a recipe would otherwise surface hours into a session)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from streamse.models.registry import ARCHITECTURES, architecture, build
from streamse.models.tables import read_toml
from streamse.models.train.strategies import STRATEGIES
from streamse.models.train.strategies.base import split_config

CONFIGS = sorted((Path(__file__).resolve().parents[3] / "configs").glob("*.toml"))


def _model_name(path: Path) -> str:
    """The longest registered model name that starts the file name (after a strategy prefix)."""
    stem = path.stem
    for prefix in ("cyclegan-", "iddp-"):
        stem = stem.removeprefix(prefix)
    names = [n for n in ARCHITECTURES if stem == n or stem.startswith(n + "-")]
    assert names, f"{path.name}: no model name starts it"
    return max(names, key=len)


def test_configs_are_found():
    assert len(CONFIGS) >= 10


@pytest.mark.parametrize("path", CONFIGS, ids=[p.stem for p in CONFIGS])
def test_recipe_loads_and_builds_its_model(path):
    tables = read_toml(path)
    cfg, _ = split_config(tables, "supervised", None)
    assert cfg.steps > 0 and cfg.batch_size > 0
    for name in set(tables) & set(STRATEGIES):
        split_config(tables, name, STRATEGIES[name][1])
    family, default = architecture(_model_name(path))
    build(family, dataclasses.replace(default, **cfg.model))
