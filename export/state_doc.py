"""docs/state-trees.md: every shipped model's streaming state, tensor by tensor, from the
metadata beside its ONNX file (names, shapes, what each holds). Regenerate with
`python -m streamse.export.state_doc > docs/state-trees.md`; a test fails when it is stale."""

from __future__ import annotations

import math
import re

from streamse.metadata import ModelMetadata, StateInfo
from streamse.runtime import ASSETS, shipped_models

# what a state holds, by the last part of its name (the layer type that owns it)
HOLDS = {
    "h": "GRU hidden state, one row per layer",
    "c": "LSTM cell state, one row per layer",
    "mean": "LevelNorm's causal running mean of the frame power",
    "started": "1.0 once a sounding frame arrived (not silent: lead gate / LevelNorm start), else 0.0",
    "floor": "NoiseFloor's per-bin floor in dB (the minimum tracker), one value per bin",
    "smooth": "NoiseFloor's smoothed compressed power per bin, the tracker's input",
}


def _holds(s: StateInfo) -> str:
    kind, shape = s.name.rsplit(".", 1)[-1], s.shape
    if s.name == "stft.past":
        return f"the last {shape[-1]} input samples (analysis window overlap)"
    if s.name == "istft.tail":
        return f"overlap-add tail: {shape[-1]} output samples already summed for the next hop"
    if kind == "past" and len(shape) == 4:
        mean = re.search(r"\.attn\.\d+\.(avg\.)?past$", s.name)  # CTFA's running mean
        what = "causal mean (attention window)" if mean else "causal conv"
        return f"the last {shape[2]} input frame(s) of a {what}: {shape[1]} ch x {shape[3]} bins"
    if kind == "past" and len(shape) == 3:
        return f"the last {shape[2]} input frame(s) of a causal 1-D conv: {shape[1]} ch"
    return HOLDS.get(kind, "(see the layer in models/)")


def model_section(meta: ModelMetadata) -> str:
    floats = sum(math.prod(s.shape) for s in meta.states)
    lines = [
        f"## {meta.name}",
        "",
        f"{len(meta.states)} state tensors, {floats:,} floats ({4 * floats / 1024:.1f} KiB "
        f"per stream), batch axis as given; input `audio` (1, {meta.hop}), output "
        f"`enhanced` (1, {meta.hop}); each state `NAME` comes back as `NAME.next`.",
        "",
        "| state | shape | holds |",
        "|---|---|---|",
    ]
    lines += [f"| `{s.name}` | {' x '.join(map(str, s.shape))} | {_holds(s)} |" for s in meta.states]
    return "\n".join(lines)


def render() -> str:
    metas = [ModelMetadata.from_json((ASSETS / m / f"{m}.json").read_text()) for m in shipped_models()]
    head = [
        "# Streaming state of the shipped models",
        "",
        "Generated from `streamse/assets/NAME/NAME.json` by `python -m "
        "streamse.export.state_doc`. Zeros are the initial state of every tensor; the "
        "runtime passes each one in and takes its `.next` back every hop (`OnnxStreamer`).",
        "",
    ]
    return "\n".join(head + ["\n\n".join(model_section(m) for m in metas), ""])


if __name__ == "__main__":
    print(render(), end="")
