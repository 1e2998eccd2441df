"""The lead gate of an exported hop graph as an ONNX `If`: gated only until every stream started.

A model with `lead_gate` holds its network's state while a stream has not sounded yet
(`models/spectral.py`). Traced, that gate runs on every hop: one `Where` per state tensor
(cnunet-tb-ts: 250 of them, +266 nodes, ~1.2 ms per 16 ms hop on one core here), although
after the first sound the `started` state is 1 for good. So the exporter traces the step
twice, gated and as started (`SpectralEnhancer.trace_as_started`: the network stepped
without the gate, `started` passed through), and joins the two graphs under one `If` on
`min(started) > 0.5`: a graph with the same inputs, outputs and numbers that pays for the
gate only in the hops before the first sound (and while any stream of a batch has not
started). Standard ONNX (opset 17): any onnxruntime runs it with no streamse code. The
exporter uses it for models with many state tensors (`onnx_export.IF_MIN_STATES`); with few,
the traced gate costs as little.

Each branch keeps its own copy of the weights (onnxruntime optimises a subgraph's
initializers as constants; read from the outer scope they would not be), so the file holds
the weights twice.
"""

from __future__ import annotations

import onnx
from onnx import helper

STARTED = "started"  # the lead gate's state input (`EnhancerState.started`, flattened)


def _as_branch(graph: onnx.GraphProto, prefix: str, outer_inputs: set[str]) -> onnx.GraphProto:
    """`graph` as a subgraph of the `If`: no inputs of its own (it reads the outer graph's
    inputs by name), every other value, node and initializer renamed with `prefix` so that the
    two branches and the outer graph share no names."""

    def rename(name: str) -> str:
        return name if (not name or name in outer_inputs) else prefix + name

    nodes = []
    for node in graph.node:
        n = onnx.NodeProto()
        n.CopyFrom(node)
        n.name = prefix + node.name
        n.input[:] = [rename(x) for x in node.input]
        n.output[:] = [rename(x) for x in node.output]
        nodes.append(n)
    inits = [_renamed(t, rename(t.name)) for t in graph.initializer]
    outputs = [_renamed(v, rename(v.name)) for v in graph.output]
    return helper.make_graph(nodes, prefix.rstrip("/"), [], outputs, inits)


def _renamed(proto, name: str):
    """A copy of a named ONNX proto (initializer, value info) under `name`."""
    copy = type(proto)()
    copy.CopyFrom(proto)
    copy.name = name
    return copy


def gate_once_started(gated: onnx.ModelProto, started: onnx.ModelProto) -> onnx.ModelProto:
    """One model: `started`'s graph when every stream's `started` input is 1, else `gated`'s.
    Both must have the same inputs and outputs (names and order): two traces of one step."""
    g, s = gated.graph, started.graph
    names = lambda vs: [v.name for v in vs]  # noqa: E731
    if names(g.input) != names(s.input) or names(g.output) != names(s.output):
        raise ValueError("the gated and the started graph differ in their inputs or outputs")
    if STARTED not in names(g.input):
        raise ValueError(f"no '{STARTED}' input: the model has no lead gate")
    outer = set(names(g.input))
    cond = [
        helper.make_node("ReduceMin", [STARTED], ["gate/min_started"], keepdims=0, name="gate/min"),
        helper.make_node("Greater", ["gate/min_started", "gate/half"], ["gate/all_started"], name="gate/all"),
    ]
    half = helper.make_tensor("gate/half", onnx.TensorProto.FLOAT, [], [0.5])
    branch = helper.make_node(
        "If",
        ["gate/all_started"],
        names(g.output),
        then_branch=_as_branch(s, "started/", outer),
        else_branch=_as_branch(g, "gated/", outer),
        name="gate/if",
    )
    graph = helper.make_graph(cond + [branch], g.name, list(g.input), list(g.output), [half])
    model = helper.make_model(graph, opset_imports=list(gated.opset_import))
    model.ir_version = gated.ir_version
    model.producer_name = gated.producer_name
    onnx.checker.check_model(model)
    return model
