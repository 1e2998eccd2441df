"""docs/state-trees.md is the state tree of every shipped model as the assets say it is."""

from __future__ import annotations


from streamse.export.state_doc import render
from streamse.metadata import ModelMetadata
from streamse.runtime import ASSETS, shipped_models
from bundled import ROOT

DOC = ROOT / "docs" / "state-trees.md"


def test_the_document_is_up_to_date():
    assert DOC.read_text() == render(), (
        "docs/state-trees.md is stale: python -m streamse.export.state_doc > docs/state-trees.md"
    )


def test_every_state_of_every_shipped_model_is_listed_with_its_shape():
    text = DOC.read_text()
    for name in shipped_models():
        assert f"## {name}\n" in text
        meta = ModelMetadata.from_json((ASSETS / name / f"{name}.json").read_text())
        for s in meta.states:
            assert f"| `{s.name}` | {' x '.join(map(str, s.shape))} |" in text
