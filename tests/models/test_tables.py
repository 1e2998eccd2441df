"""The one TOML reader and list-to-tuple converter behind every config."""

from __future__ import annotations

import pytest

from streamse.errors import StreamseError
from streamse.models.tables import read_toml, tuplify, tuplify_table


def test_read_toml(tmp_path):
    assert read_toml(None) == {}
    good = tmp_path / "a.toml"
    good.write_text("[train]\nsteps = 3\n[data]\nsnr_db = [-5.0, 15.0]\n")
    assert read_toml(good) == {"train": {"steps": 3}, "data": {"snr_db": [-5.0, 15.0]}}
    with pytest.raises(StreamseError, match="config not found"):
        read_toml(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[train\n")
    with pytest.raises(StreamseError, match="invalid TOML"):
        read_toml(bad)


def test_lists_become_nested_tuples():
    assert tuplify([[1, 2], [3, [4]]]) == ((1, 2), (3, (4,)))
    assert tuplify("x") == "x"
    assert tuplify_table({"a": [1], "b": 2, "c": {"d": [1]}}) == {"a": (1,), "b": 2, "c": {"d": [1]}}
