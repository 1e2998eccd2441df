"""Small seeded models and helpers for fast tests of the streaming machinery."""

from __future__ import annotations

import numpy as np
import torch

from streamse.models.crn import CRNConfig, MaskCRN

TINY_CRN = CRNConfig(channels=(4, 8), rnn_hidden=32, rnn_layers=2, fc_hidden=32)


def tiny_crn(seed: int = 0, **overrides) -> MaskCRN:
    """A randomly initialised CRN small enough for per-test export and streaming runs."""
    import dataclasses

    torch.manual_seed(seed)
    return MaskCRN(dataclasses.replace(TINY_CRN, **overrides)).eval()


def onnx_error(model, x: np.ndarray, path, family: str = "crn") -> float:
    """Export `model` to `path` and return `check_onnx`'s error: the exported hop graph streamed
    over x against the PyTorch model offline, relative to the peak."""
    from streamse.export.onnx_export import check_onnx, export_onnx

    export_onnx(model, family, family, path)
    return check_onnx(model, path, x)


def perturbed_crn(seed: int = 5, **overrides) -> MaskCRN:
    """A tiny CRN with every weight nudged by 0.1 N(0, 1), so its mask is far from the identity
    (and any zero-initialised part is live): tests can see what a setting changes."""
    m = tiny_crn(seed=seed, **overrides)
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in m.parameters():
            p.add_(0.1 * torch.randn(p.shape, generator=g))
    return m


def tiny_cnunet(seed: int = 0, **overrides):
    """A randomly initialised causal CNUNet with the shipped STFT (320/160/512) but two shallow
    encoder levels and narrow channels; it still has every block kind (CTFA included)."""
    import dataclasses

    from streamse.models.cnunet import CNUNet, CNUNetConfig

    cfg = CNUNetConfig(mid=8, out=8, stages=(2, 1), dense_layers=3, attn_hidden=2, attn_frames=4)
    torch.manual_seed(seed)
    return CNUNet(dataclasses.replace(cfg, **overrides)).eval()


def tiny_tb(seed: int = 0, **overrides):
    """A randomly initialised causal CNUNet-TB on the paper's STFT (512/256) with two shallow
    encoder levels, narrow channels and a short attention; every block kind still there."""
    import dataclasses

    from streamse.models.cnunet_tb import CNUNetTB, CNUNetTBConfig

    cfg = CNUNetTBConfig(mid=8, out=8, stages=(2, 1), dense_layers=3, gate_kernel=5, attn_frames=4)
    torch.manual_seed(seed)
    return CNUNetTB(dataclasses.replace(cfg, **overrides)).eval()


def offline(model, x: np.ndarray) -> np.ndarray:
    """The offline PyTorch forward of a 1-D signal (output delayed by win - hop)."""
    with torch.no_grad():
        return model(torch.from_numpy(x)[None])[0].numpy()


def assert_init_starts_at(plain, fresh, overrides: dict, x: np.ndarray, path, step: int = 3) -> None:
    """Save crn `plain` as a checkpoint at `path`, `--init` `fresh` (a crn with a part `plain`
    lacks, zero at the start) from it with the [model] table `overrides`: the step comes back
    and `fresh` gives `plain`'s output on x."""
    from streamse.models.registry import checkpoint_dict
    from streamse.models.train.strategies.base import init_weights

    torch.save(checkpoint_dict(plain, "crn", "crn", step=step), path)
    assert init_weights(fresh, "crn", path, overrides) == step
    np.testing.assert_allclose(offline(fresh, x), offline(plain, x), atol=1e-6)


def stream_errors(model, x: np.ndarray, pattern: list[int]) -> tuple[float, float]:
    """`prefix_rel_err` of a `TorchStreamer` over x against the offline forward: fed in chunks of
    `pattern` (cycled), then after a reset in one call."""
    from streamse.models.torch_streamer import TorchStreamer

    streamer, ref = TorchStreamer(model), offline(model, x)
    chunked = prefix_rel_err(feed_pattern(streamer, x, pattern), ref)
    streamer.reset()
    return chunked, prefix_rel_err(streamer.feed(x), ref)


def rel_err(a: np.ndarray, b: np.ndarray) -> float:
    """max |a - b| relative to the peak of b."""
    return float(np.abs(a - b).max() / np.abs(b).max())


def prefix_rel_err(a: np.ndarray, b: np.ndarray) -> float:
    """`rel_err` over the samples both have (a stream's output may stop short of an offline
    one, or run past it)."""
    n = min(a.size, b.size)
    return rel_err(a[:n], b[:n])


def feed_pattern(streamer, x: np.ndarray, pattern: list[int]) -> np.ndarray:
    """Feed `x` to a HopStreamer in chunks of pattern[0], pattern[1], ... samples (cycled)."""
    outs, pos, k = [], 0, 0
    while pos < x.size:
        n = pattern[k % len(pattern)]
        outs.append(streamer.feed(x[pos : pos + n]))
        pos, k = pos + n, k + 1
    return np.concatenate(outs)


def step_hops(model, x: np.ndarray, hop: int, frames: int = 1, state=None):
    """`model.step` over x (B, N), `frames` hops per call, from `state` (None: a fresh one)
    -> (output (B, N), last state)."""
    state = model.init_state(x.shape[0]) if state is None else state
    outs, n = [], frames * hop
    with torch.no_grad():
        for i in range(0, x.shape[1], n):
            y, state = model.step(torch.from_numpy(x[:, i : i + n]), state)
            outs.append(y.numpy())
    return np.concatenate(outs, axis=1), state


def assert_causal_from(model, x: np.ndarray, s: int, hop: int) -> None:
    """Perturbing x from sample s on changes no offline output before the hop holding s, and
    does change that hop."""
    x2 = x.copy()
    x2[s:] += 0.05 * np.random.default_rng(0).standard_normal(x.size - s).astype(np.float32)
    y1, y2 = offline(model, x), offline(model, x2)
    cut = (s // hop) * hop
    np.testing.assert_array_equal(y1[:cut], y2[:cut])
    assert not np.allclose(y1[cut : cut + hop], y2[cut : cut + hop])


def need_resemblyzer() -> None:
    """Only the package's weight file is used (importing it needs webrtcvad/pkg_resources)."""
    import importlib.util

    import pytest

    if importlib.util.find_spec("resemblyzer") is None:
        pytest.skip("resemblyzer is not installed (pip install 'streamse[train]')")


def tiny_wavlm():
    """A randomly initialised two-layer WavLM teacher (no download)."""
    import pytest

    pytest.importorskip("transformers")
    from transformers import WavLMConfig

    from streamse.models.teachers.wavlm import WavLMTeacher

    cfg = WavLMConfig(
        hidden_size=16,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=32,
        conv_dim=(8,) * 7,
        num_conv_pos_embeddings=8,
        num_conv_pos_embedding_groups=2,
    )
    torch.manual_seed(0)
    return WavLMTeacher(config=cfg)


def tiny_train_config(
    speech,
    noise,
    model: dict,
    steps: int = 2,
    batch: int = 2,
    segment_s: float = 0.5,
    epoch_size: int = 4,
    warmup: int = 1,
    **train,
):
    """A TrainConfig for seconds-long test runs on the speech and noise folders given: no
    reverb, no validation, one thread; `model` overrides the architecture's config; `train`
    sets any other TrainConfig field (e.g. loss=...)."""
    from streamse.models.train.config import TrainConfig
    from streamse.models.train.data import DataConfig

    data = DataConfig(
        clean_dirs=(str(speech),),
        noise_dirs=(str(noise),),
        segment_seconds=segment_s,
        epoch_size=epoch_size,
        p_reverb=0.0,
    )
    return TrainConfig(
        steps=steps,
        batch_size=batch,
        warmup_steps=warmup,
        threads=1,
        log_every=1,
        valid_every=1000,
        valid_max_files=0,
        data=data,
        model=dict(model),
        **train,
    )


def graph_nodes(graph, path, hop: int) -> int:
    """Raw node count of the `HopGraph` `graph` exported to `path` as the hop graph is."""
    import warnings

    import onnx

    from streamse.export.onnx_export import OPSET

    args = (torch.zeros(1, hop),) + tuple(torch.zeros(s.shape) for s in graph.state_specs())
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(graph, args, str(path), opset_version=OPSET, dynamo=False)
    return len(onnx.load(str(path)).graph.node)


def perturb(model, seed: int):
    """Noise on every parameter of `model` (in place; returned): paths whose norms and PReLUs
    shared their default values no longer do, so a mixed-up path order shows."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            spread = float(p.std()) if p.numel() > 1 else 0.0
            p.add_((0.5 * spread if spread > 0 else 0.3) * torch.randn(p.shape, generator=gen))
    return model


def assert_fused_stream(model, fused_state_type, noisy_clean, hop: int, hops: int, tol: float):
    """The model's fused streaming form == the model, stepped hop by hop over two streams of
    `hops` hops and again from a fresh state (a reset); returns nothing, asserts the state type
    and that carrying the old state instead would differ."""
    fused = model.streaming_form()
    x = np.stack([noisy_clean[0][: hops * hop], noisy_clean[1][8000 : 8000 + hops * hop]])
    ref, _ = step_hops(model, x, hop)
    got, s_got = step_hops(fused, x, hop)
    assert isinstance(s_got.net, fused_state_type)
    assert rel_err(got, ref) < tol
    n = hops // 2
    x2 = np.stack([noisy_clean[1][: n * hop], noisy_clean[0][20000 : 20000 + n * hop]])
    got2 = step_hops(fused, x2, hop)[0]  # reset: a fresh state
    assert rel_err(got2, step_hops(model, x2, hop)[0]) < tol
    assert rel_err(got2, step_hops(fused, x2, hop, state=s_got)[0]) > 1e-3  # the state matters
