"""Every model shipped in `streamse/assets/NAME/`: its slim checkpoint loads as data
(`weights_only`), its ONNX hop graph streamed hop by hop equals that checkpoint's offline
PyTorch output on the bundled noisy clip (so the ONNX really holds those weights), the JSON
beside it is the graph's metadata, and it has a model card."""

from __future__ import annotations

import json

import pytest

from streamse.metadata import ModelMetadata
from streamse.models.registry import load_checkpoint
from streamse.runtime import ASSETS, load_streamer, shipped_models
from streamse_testing import offline, rel_err

pytestmark = pytest.mark.usefixtures("torch_one_thread")


def test_the_shipped_models():
    assert {"crn", "cnunet", "cnunet-tb-ts"} <= set(shipped_models())


@pytest.mark.parametrize("name", shipped_models())
def test_shipped_onnx_holds_the_shipped_checkpoint(name, noisy_clean):
    folder = ASSETS / name
    model, ckpt = load_checkpoint(folder / f"{name}.pt")
    assert ckpt["name"] == name
    streamer = load_streamer(name)
    meta = ModelMetadata.from_json(json.dumps(json.loads((folder / f"{name}.json").read_text())))
    assert meta == streamer.meta and meta.params == sum(p.numel() for p in model.parameters())
    x = noisy_clean[0][:16000]
    got = streamer.feed(x)
    want = offline(model.eval(), x)
    n = min(got.size, want.size)
    assert n > 16000 - 2 * meta.hop
    assert rel_err(got[:n], want[:n]) < 1e-4
    assert (folder / "MODEL_CARD.md").is_file()
