"""`bench --peers` / `--quality` systems: a model given as a file is labelled with its path, so
an export of a shipped architecture (whose metadata carries that architecture's name) gets its
own row next to the shipped model instead of sharing one; the same model twice is refused."""

from __future__ import annotations

import pytest

from streamse.bench.compare import build_systems
from streamse.errors import StreamseError
from streamse.runtime import resolve_model


def test_a_file_and_the_shipped_name_are_two_rows():
    path = str(resolve_model("crn"))
    systems, _ = build_systems(["crn", path], with_peers=False)
    names = [s.info.name for s in systems]
    assert names == ["streamse crn", f"streamse crn ({path})"]


def test_the_same_model_twice_is_refused():
    with pytest.raises(StreamseError, match="each --model once"):
        build_systems(["crn", "crn"], with_peers=False)
