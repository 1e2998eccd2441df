"""Export a streamse model to its hop-in/hop-out ONNX graph, with metadata, and check it.

The check is part of the build: onnxruntime run hop by hop over a real utterance must match
the PyTorch offline forward to `tol` (max abs error / signal peak), or export fails.
"""

from __future__ import annotations

import dataclasses
import io
import json
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

from streamse.errors import StreamseError
from streamse.metadata import METADATA_KEY, ModelMetadata, StateInfo

from .gate import STARTED, gate_once_started
from .graph import NEXT_SUFFIX, HopGraph

OPSET = 17
# A lead-gated model with at least this many state tensors is written as an ONNX If (gate.py):
# its traced gate selects every state on every hop (cnunet-tb-ts, 250: +0.7-1.2 ms per hop; the
# If +0.15-0.3 ms alone, +0.8-1.0 ms in the live engine); below it the traced gate costs as
# little as the If (crn, 9: 0.54 ms per hop either way, measured) and the file stays half the
# size (the If holds the weights twice).
IF_MIN_STATES = 32


def count_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def build_metadata(model: nn.Module, name: str, family: str) -> ModelMetadata:
    from streamse.models.macs import macs_per_second

    specs = HopGraph(model).state_specs()
    geo = model.geometry
    return ModelMetadata(
        name=name,
        family=family,
        sample_rate=geo.sample_rate,
        hop=geo.hop,
        window=geo.window,
        delay_samples=geo.delay_samples,
        algorithmic_latency_samples=geo.algorithmic_latency,
        states=tuple(StateInfo(s.name, s.name + NEXT_SUFFIX, s.shape, s.batch_axis) for s in specs),
        params=count_params(model),
        macs_per_second=macs_per_second(model),
        config=json.loads(json.dumps(dataclasses.asdict(model.cfg))),  # JSON types, as stored
        analysis_window=geo.analysis_window,
        lookahead=geo.lookahead,
    )


def export_onnx(model: nn.Module, name: str, family: str, path: str | Path) -> ModelMetadata:
    """Write `path` (.onnx) and `path` with suffix .json (the same metadata, for humans)."""
    import onnx

    model = model.eval()
    meta = build_metadata(model, name, family)
    graph = HopGraph(model)
    args = (torch.zeros(1, meta.hop),) + tuple(torch.zeros(s.shape) for s in meta.states)
    inputs = ["audio"] + [s.name for s in meta.states]
    outputs = ["enhanced"] + [s.out_name for s in meta.states]
    dynamic = {"audio": {0: "batch"}, "enhanced": {0: "batch"}}
    for s in meta.states:
        dynamic[s.name] = dynamic[s.out_name] = {s.batch_axis: "batch"}
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)

    def trace() -> onnx.ModelProto:
        buffer = io.BytesIO()
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")  # the TorchScript exporter warns about its own deprecation
            torch.onnx.export(
                graph,
                args,
                buffer,
                input_names=inputs,
                output_names=outputs,
                dynamic_axes=dynamic,
                opset_version=OPSET,
                dynamo=False,
            )
        return onnx.load_from_string(buffer.getvalue())

    proto = trace()
    if STARTED in inputs and len(meta.states) >= IF_MIN_STATES:  # the gate until all started (gate.py)
        graph.model.trace_as_started = True
        try:
            proto = gate_once_started(proto, trace())
        finally:
            del graph.model.trace_as_started
    entry = proto.metadata_props.add()
    entry.key, entry.value = METADATA_KEY, meta.to_json()
    proto.producer_name = "streamse"
    onnx.save(proto, str(path))
    path.with_suffix(".json").write_text(json.dumps(json.loads(meta.to_json()), indent=2) + "\n")
    return meta


def check_onnx(model: nn.Module, onnx_path: str | Path, audio: np.ndarray, tol: float = 1e-4) -> float:
    """Max |onnxruntime hop-by-hop - PyTorch offline| / peak over `audio` (1-D, model rate).

    Raises StreamseError when it exceeds `tol`. Returns the relative error.
    """
    from streamse.runtime import OnnxStreamer

    streamer = OnnxStreamer(onnx_path, threads=1)
    hop = streamer.hop
    x = np.asarray(audio, dtype=np.float32)[: (len(audio) // hop) * hop]
    if x.size == 0:
        raise StreamseError("check audio is shorter than one hop")
    y_ort = streamer.feed(x)
    with torch.no_grad():
        y_pt = model.eval()(torch.from_numpy(x)[None])[0].numpy()
    peak = max(float(np.abs(y_pt).max()), 1e-8)
    err = float(np.abs(y_ort - y_pt).max()) / peak
    if not err <= tol:
        raise StreamseError(f"ONNX check failed: max error {err:.2e} of peak > {tol:.0e}")
    return err
