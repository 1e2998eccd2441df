"""The lead gate exported as an ONNX `If` (`export/gate.py`): the gated branch runs until every
stream has started, the ungated one after; both give the PyTorch model's numbers, per stream
in a batch too."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
import torch
from onnx import helper

from streamse.export.gate import gate_once_started
from streamse.export import onnx_export
from streamse.export.onnx_export import export_onnx
from streamse.metadata import METADATA_KEY, ModelMetadata
from streamse_testing import perturbed_crn

pytestmark = pytest.mark.usefixtures("torch_one_thread")
GATED = dict(input_norm="level", enc_norm="none", lead_gate=True, silence_db=-80.0)


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """A tiny gated crn written in the If form (which the exporter keeps for models with many
    state tensors: `IF_MIN_STATES`)."""
    model = perturbed_crn(**GATED).eval()
    path = tmp_path_factory.mktemp("gate") / "m.onnx"
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(onnx_export, "IF_MIN_STATES", 0)
        meta = export_onnx(model, "crn", "crn", path)
    return model, path, meta


def _session(proto_or_path):
    import onnxruntime as ort

    data = (
        proto_or_path.SerializeToString()
        if isinstance(proto_or_path, onnx.ModelProto)
        else str(proto_or_path)
    )
    return ort.InferenceSession(data, providers=["CPUExecutionProvider"])


def _run(session, meta: ModelMetadata, x: np.ndarray) -> np.ndarray:
    """x (B, n hops * hop) -> enhanced (B, ...), hop by hop from zero states."""
    b, hop = x.shape[0], meta.hop
    state = {}
    for s in meta.states:
        shape = list(s.shape)
        shape[s.batch_axis] = b
        state[s.name] = np.zeros(shape, np.float32)
    outs = []
    for i in range(0, x.shape[1], hop):
        res = session.run(None, {"audio": x[:, i : i + hop], **state})
        outs.append(res[0])
        state = dict(zip(state, res[1:]))
    return np.concatenate(outs, axis=1)


def _branches(path):
    graph = onnx.load(str(path)).graph
    (node,) = [n for n in graph.node if n.op_type == "If"]
    return {a.name: a.g for a in node.attribute}


def test_only_the_gated_branch_selects_states(exported):
    _, path, meta = exported
    ops = {k: [n.op_type for n in g.node] for k, g in _branches(path).items()}
    net_states = [s for s in meta.states if s.name.startswith("net.")]
    assert ops["else_branch"].count("Where") >= len(net_states)
    assert "Where" not in ops["then_branch"]


def test_a_stream_is_gated_until_it_sounds_per_stream_in_a_batch(exported, noisy_clean):
    model, path, meta = exported
    hop, x = meta.hop, noisy_clean[0][: 40 * meta.hop]
    lead = np.zeros(7 * hop, np.float32)
    a = np.concatenate([lead, x])  # starts after 7 silent hops
    b = np.concatenate([x, lead])  # starts at once
    session = _session(path)
    both = _run(session, meta, np.stack([a, b]))
    with torch.no_grad():
        ref = model(torch.from_numpy(np.stack([a, b])))
    peak = float(ref.abs().max())
    assert float(np.abs(both - ref.numpy()).max()) / peak < 1e-4
    assert np.all(both[0, : 7 * hop] == 0.0)
    np.testing.assert_allclose(both[0, 7 * hop :], _run(session, meta, x[None])[0], atol=1e-5 * peak)


def test_the_if_takes_the_started_branch_once_all_streams_started(exported, noisy_clean):
    """The started branch's output doubled by graph surgery shows when that branch runs."""
    _, path, meta = exported
    proto = onnx.load(str(path))
    (node,) = [n for n in proto.graph.node if n.op_type == "If"]
    then = next(a.g for a in node.attribute if a.name == "then_branch")
    out = then.output[0]
    then.node.append(helper.make_node("Mul", [out.name, "two"], ["doubled"]))
    then.initializer.append(helper.make_tensor("two", onnx.TensorProto.FLOAT, [], [2.0]))
    doubled = onnx.ValueInfoProto()
    doubled.CopyFrom(out)
    doubled.name = "doubled"
    then.output.remove(out)
    then.output.insert(0, doubled)
    hop = meta.hop
    x = noisy_clean[0][: 12 * hop]
    plain, marked = _session(path), _session(proto)
    for lead_hops, started_at in ((0, 0), (5, 5)):
        xs = np.concatenate([np.zeros(lead_hops * hop, np.float32), x])[None]
        y, z = _run(plain, meta, xs)[0], _run(marked, meta, xs)[0]
        # the hop a stream starts in runs gated (its `started` input is 0); the next ones do not
        n = (started_at + 1) * hop
        np.testing.assert_array_equal(z[:n], y[:n])
        np.testing.assert_allclose(z[n:], 2.0 * y[n:], rtol=1e-6, atol=1e-7)
    two = np.stack([x, np.concatenate([np.zeros(5 * hop, np.float32), x[: 7 * hop]])])
    y, z = _run(plain, meta, two), _run(marked, meta, two)
    np.testing.assert_array_equal(z[:, : 6 * hop], y[:, : 6 * hop])  # one stream silent: gated
    np.testing.assert_allclose(z[:, 6 * hop :], 2.0 * y[:, 6 * hop :], rtol=1e-6, atol=1e-7)


def test_the_metadata_is_kept_and_ungated_or_small_models_need_no_if(exported, tmp_path):
    _, path, meta = exported
    props = {p.key: p.value for p in onnx.load(str(path)).metadata_props}
    assert ModelMetadata.from_json(props[METADATA_KEY]) == meta
    plain = perturbed_crn(input_norm="level", enc_norm="none").eval()
    export_onnx(plain, "crn", "crn", tmp_path / "plain.onnx")
    assert "If" not in [n.op_type for n in onnx.load(str(tmp_path / "plain.onnx")).graph.node]
    small = export_onnx(perturbed_crn(**GATED).eval(), "crn", "crn", tmp_path / "small.onnx")
    assert len(small.states) < onnx_export.IF_MIN_STATES
    ops = [n.op_type for n in onnx.load(str(tmp_path / "small.onnx")).graph.node]
    assert "If" not in ops and "Where" in ops  # the traced gate


def test_graphs_that_differ_are_refused(exported, tmp_path):
    _, path, _ = exported
    plain = perturbed_crn(input_norm="level", enc_norm="none").eval()
    export_onnx(plain, "crn", "crn", tmp_path / "plain.onnx")
    ungated = onnx.load(str(tmp_path / "plain.onnx"))
    with pytest.raises(ValueError, match="lead gate"):
        gate_once_started(ungated, ungated)
    with pytest.raises(ValueError, match="differ"):
        gate_once_started(onnx.load(str(path)), ungated)
