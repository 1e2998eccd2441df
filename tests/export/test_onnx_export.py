"""ONNX hop graph == PyTorch: offline forward vs onnxruntime hop by hop, over several
chunkings and across a reset; metadata; batched states; the export self-check fails on a
mismatch; broken model files give clear errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from streamse.errors import StreamseError
from streamse.export.onnx_export import check_onnx, export_onnx
from streamse.runtime import OnnxStreamer, load_streamer, make_session
from streamse_testing import tiny_crn

REL_TOL = 1e-4


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    model = tiny_crn(seed=5)
    path = tmp_path_factory.mktemp("onnx") / "tiny.onnx"
    meta = export_onnx(model, "tiny", "crn", path)
    return model, path, meta


def _offline(model, x):
    with torch.no_grad():
        return model(torch.from_numpy(x)[None])[0].numpy()


def test_metadata_describes_the_model(exported):
    model, path, meta = exported
    assert (meta.sample_rate, meta.hop, meta.window) == (16000, 160, 320)
    assert meta.delay_samples == 160 and meta.algorithmic_latency_samples == 320
    assert meta.params == sum(p.numel() for p in model.parameters())
    assert meta.config["rnn_hidden"] == 32
    assert [s.name for s in meta.states][:2] == ["stft.past", "net.enc.0.past"]
    assert path.with_suffix(".json").is_file()
    assert OnnxStreamer(path).meta == meta


@pytest.mark.parametrize("pattern", [[160], [320], [1120], [5, 160, 1000, 33, 1]])
def test_onnx_stream_equals_pytorch_offline(exported, noisy_clean, pattern):
    model, path, _ = exported
    x = noisy_clean[0][:16000]
    s = OnnxStreamer(path)
    for _ in range(2):  # the second round runs after a reset
        s.reset()
        outs, pos, k = [], 0, 0
        while pos < x.size:
            n = pattern[k % len(pattern)]
            outs.append(s.feed(x[pos : pos + n]))
            pos, k = pos + n, k + 1
        y, ref = np.concatenate(outs), _offline(model, x)
        assert np.abs(y - ref).max() / np.abs(ref).max() < REL_TOL


def test_check_onnx_passes_and_fails(exported, noisy_clean):
    model, path, _ = exported
    assert check_onnx(model, path, noisy_clean[0]) < REL_TOL
    other = tiny_crn(seed=6)  # different weights: the check must refuse
    with pytest.raises(StreamseError, match="ONNX check failed"):
        check_onnx(other, path, noisy_clean[0])


def test_batched_streams_match_single_streams(exported, noisy_clean):
    """States stacked on their batch axis: one session call serves two independent streams.
    (The single-stream `OnnxStreamer` fixes the batch axis to 1; a plain session keeps it free.)"""
    _, path, meta = exported
    s = OnnxStreamer(path)
    session = make_session(path)
    xs = np.stack([noisy_clean[0][:3200], noisy_clean[1][:3200]])
    state = {
        st.name: np.zeros(np.insert(np.delete(st.shape, st.batch_axis), st.batch_axis, 2), np.float32)
        for st in meta.states
    }
    outs = []
    for i in range(0, 3200, 160):
        res = session.run(None, {"audio": xs[:, i : i + 160], **state})
        outs.append(res[0])
        state = dict(zip([st.name for st in meta.states], res[1:]))
    batched = np.concatenate(outs, axis=1)
    for b in range(2):
        s.reset()
        np.testing.assert_allclose(batched[b], s.feed(xs[b]), atol=1e-6)


def test_corrupt_and_foreign_model_files(tmp_path, exported):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"\x08\x07garbage" * 10)
    with pytest.raises(StreamseError, match="cannot load model"):
        load_streamer(str(bad))
    truncated = tmp_path / "trunc.onnx"
    truncated.write_bytes(exported[1].read_bytes()[:5000])
    with pytest.raises(StreamseError):
        load_streamer(str(truncated))
    with pytest.raises(StreamseError, match="not found"):
        load_streamer(str(tmp_path / "missing.onnx"))
    with pytest.raises(StreamseError, match="no shipped weights named 'no-such-model'"):
        load_streamer("no-such-model")


def test_foreign_onnx_is_refused(tmp_path):
    import onnx
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("Identity", ["x"], ["y"])],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])],
    )
    path = tmp_path / "foreign.onnx"
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8  # one every onnxruntime release reads
    onnx.save(model, path)
    with pytest.raises(StreamseError, match="not a streamse model"):
        load_streamer(str(path))


@pytest.mark.parametrize("pattern", [[160], [5, 160, 1000, 33, 1]])
def test_asymmetric_windows_export_and_stream(tmp_path, noisy_clean, pattern):
    """A crn with asymmetric windows (32 ms analysis, 20 ms synthesis, 10 ms hop): the metadata
    gives the 20 ms window (delay, latency) and the 32 ms analysis frame; ONNX streamed over
    ragged chunks, across a reset, equals PyTorch offline."""
    from streamse_testing import feed_pattern, perturbed_crn

    model = perturbed_crn(seed=7, win=512, n_fft=512, hop=160, synthesis_win=320, decoder=True)
    meta = export_onnx(model, "asym", "crn", tmp_path / "asym.onnx")
    assert (meta.hop, meta.window, meta.analysis_window) == (160, 320, 512)
    assert meta.delay_samples == 160 and meta.algorithmic_latency_samples == 320
    s = OnnxStreamer(tmp_path / "asym.onnx")
    assert s.meta.analysis == 512 and s.delay_samples == 160
    x = noisy_clean[0][:16000]
    ref = _offline(model, x)
    for _ in range(2):  # the second round runs after a reset
        s.reset()
        y = feed_pattern(s, x, pattern)
        assert np.abs(y - ref).max() / np.abs(ref).max() < REL_TOL
