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


def test_extends_lays_a_files_tables_over_another_key_by_key(tmp_path):
    (tmp_path / "base").mkdir()
    (tmp_path / "base" / "a.toml").write_text(
        "[train]\nsteps = 3\nseed = 1\n[data]\nsnr_db = [-5.0, 15.0]\n[model]\ndecoder = true\n"
    )
    (tmp_path / "b.toml").write_text('extends = "base/a.toml"\n[train]\nseed = 2\n[loss]\nmag = 0.3\n')
    (tmp_path / "c.toml").write_text('extends = "b.toml"\n[model]\nhop = 256\n')
    assert read_toml(tmp_path / "c.toml") == {
        "train": {"steps": 3, "seed": 2},
        "data": {"snr_db": [-5.0, 15.0]},
        "model": {"decoder": True, "hop": 256},
        "loss": {"mag": 0.3},
    }


def test_extends_errors_name_the_files(tmp_path):
    (tmp_path / "x.toml").write_text('extends = "y.toml"\n')
    (tmp_path / "y.toml").write_text('extends = "x.toml"\n')
    with pytest.raises(StreamseError, match="config extends itself: x.toml -> y.toml -> x.toml"):
        read_toml(tmp_path / "x.toml")
    (tmp_path / "z.toml").write_text('extends = "gone.toml"\n')
    with pytest.raises(StreamseError, match="config not found: .*gone.toml \\(extended by .*z.toml\\)"):
        read_toml(tmp_path / "z.toml")
    (tmp_path / "n.toml").write_text("extends = 3\n")
    with pytest.raises(StreamseError, match="extends must be a file name"):
        read_toml(tmp_path / "n.toml")
