"""DTLN and GTCRN wrappers (our FFT, windows and overlap-add around the authors' graphs),
checked with stand-in ONNX files of the same inputs and outputs that pass the signal through:
the wrapper must then give back the input, aligned by the latency it states. The real files
are never bundled (they are benchmarked from a folder the user names)."""

from __future__ import annotations

import numpy as np
import pytest

from streamse.bench.peers import PeerUnavailable, load_peer

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper  # noqa: E402


def _save(path, nodes, inputs, outputs, inits=()):
    def vi(name, shape):
        return helper.make_tensor_value_info(name, TensorProto.FLOAT, shape)

    graph = helper.make_graph(
        nodes, path.stem, [vi(*i) for i in inputs], [vi(*o) for o in outputs], initializer=list(inits)
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.save(model, str(path))


def _const(name, value):
    return helper.make_tensor(name, TensorProto.FLOAT, [], [value])


def write_passthrough_gtcrn(folder):
    """enh = mix; caches passed through unchanged."""
    caches = [
        ("conv_cache", [2, 1, 16, 16, 33]),
        ("tra_cache", [2, 3, 1, 1, 16]),
        ("inter_cache", [2, 1, 33, 16]),
    ]
    nodes = [helper.make_node("Identity", ["mix"], ["enh"])]
    nodes += [helper.make_node("Identity", [n], [n + "_out"]) for n, _ in caches]
    _save(
        folder / "gtcrn_simple.onnx",
        nodes,
        [("mix", [1, 257, 1, 2])] + caches,
        [("enh", [1, 257, 1, 2])] + [(n + "_out", s) for n, s in caches],
    )


def write_passthrough_dtln(folder):
    """Stage 1: mask of ones; stage 2: block / 4 (four unwindowed blocks overlap at shift
    128, so the sum gives the input back); states passed through."""
    st = [1, 2, 128, 2]
    _save(
        folder / "dtln_model_1.onnx",
        [
            helper.make_node("Mul", ["input_2", "zero"], ["z"]),
            helper.make_node("Add", ["z", "one"], ["activation_2"]),
            helper.make_node("Identity", ["input_3"], ["state_1"]),
        ],
        [("input_2", [1, 1, 257]), ("input_3", st)],
        [("activation_2", [1, 1, 257]), ("state_1", st)],
        [_const("zero", 0.0), _const("one", 1.0)],
    )
    _save(
        folder / "dtln_model_2.onnx",
        [
            helper.make_node("Mul", ["input_4", "quarter"], ["block"]),
            helper.make_node("Identity", ["input_5"], ["state_2"]),
        ],
        [("input_4", [1, 1, 512]), ("input_5", st)],
        [("block", [1, 1, 512]), ("state_2", st)],
        [_const("quarter", 0.25)],
    )


@pytest.mark.parametrize(
    "key,writer,hop,latency_ms",
    [
        ("gtcrn", write_passthrough_gtcrn, 256, 32.0),
        ("dtln", write_passthrough_dtln, 128, 32.0),
    ],
)
def test_file_peer_gives_back_the_input_at_its_stated_latency(
    tmp_path, noisy_clean, key, writer, hop, latency_ms
):
    writer(tmp_path)
    peer = load_peer(key, str(tmp_path))
    info = peer.info
    assert peer.hop == hop and info.latency_ms == pytest.approx(latency_ms)
    assert info.native_rate == 16000 and info.streaming
    x = noisy_clean[0][:16000]
    y = peer.process(x)
    assert y.shape == x.shape and y.dtype == np.float32
    inner = slice(512, x.size - 512)  # the first/last frames lack overlap partners
    np.testing.assert_allclose(y[inner], x[inner], atol=1e-5 * np.abs(x).max())
    chunks = np.split(x, [7, 500, 501, 4000])  # ragged feeding == whole utterance
    peer.reset()
    raw = np.concatenate([peer.feed(c) for c in chunks] + [peer.flush()])
    np.testing.assert_array_equal(raw[peer.delay_samples :], y)


def test_file_peer_errors_are_one_line(tmp_path):
    with pytest.raises(PeerUnavailable, match="not found"):
        load_peer("dtln", str(tmp_path / "missing"))
    with pytest.raises(PeerUnavailable, match="gtcrn_simple.onnx not found"):
        load_peer("gtcrn", str(tmp_path))
    (tmp_path / "gtcrn_simple.onnx").write_bytes(b"not a model")
    with pytest.raises(PeerUnavailable, match="cannot load"):
        load_peer("gtcrn", str(tmp_path))
