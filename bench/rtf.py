"""`streamse bench --rtf`: per-hop timing and real-time factor of one model.

Every row runs the model hop by hop, one hop per call, as the live engine does. Timings are
wall-clock per hop; RTF = total processing time / audio duration. Rows: onnxruntime with 1
thread, with all cores, with CUDA when available, and the PyTorch streamer when torch and the
model's checkpoint are present. The streaming-vs-offline error compares the ONNX hop-by-hop
output with the PyTorch offline forward (relative to the signal peak).
"""

from __future__ import annotations

import os

import numpy as np

from streamse.audio_io import read_audio
from streamse.demo import DEMO_INPUT
from streamse.runtime import OnnxStreamer, resolve_model
from streamse.hop_timing import hop_times, rtf_of
from streamse.streamer import HopStreamer

from .graph_stats import gflops, graph_stats
from .machine import describe_machine, machine_info


def bench_audio(sample_rate: int, seconds: float) -> np.ndarray:
    """The bundled noisy sample, looped to `seconds`."""
    x, _ = read_audio(DEMO_INPUT, sample_rate)
    n = int(seconds * sample_rate)
    return np.resize(x, n).astype(np.float32)


def time_hops(streamer: HopStreamer, x: np.ndarray, warmup: int = 20) -> np.ndarray:
    """Seconds per hop, feeding one hop at a time (after `warmup` untimed hops)."""
    streamer.reset()
    hop_times(streamer, x[: warmup * streamer.hop])
    streamer.reset()
    return hop_times(streamer, x)


def summarise(times: np.ndarray, hop_s: float) -> dict:
    ms = times * 1000
    return {
        "hop_time_p50_ms": float(np.percentile(ms, 50)),
        "hop_time_p95_ms": float(np.percentile(ms, 95)),
        "hop_time_p99_ms": float(np.percentile(ms, 99)),
        "hop_time_max_ms": float(ms.max()),
        "rtf": rtf_of(times, hop_s),
    }


def _torch_rows(model: str, x: np.ndarray, onnx_out: np.ndarray, hop_s: float) -> dict:
    """PyTorch streamer timing and ONNX-stream-vs-PyTorch-offline error, if torch is here."""
    ckpt = resolve_model(model).with_suffix(".pt")
    try:
        import torch

        from streamse.models.registry import load_checkpoint
        from streamse.models.torch_streamer import TorchStreamer
    except ImportError:
        return {"torch": "not installed"}
    if not ckpt.is_file():
        return {"torch": f"no checkpoint beside the ONNX file ({ckpt.name})"}
    torch.set_num_threads(1)
    net, _ = load_checkpoint(ckpt)
    with torch.no_grad():
        offline = net(torch.from_numpy(x)[None])[0].numpy()
    err = float(np.abs(onnx_out[: offline.size] - offline).max() / max(np.abs(offline).max(), 1e-8))
    return {
        "torch_1_thread": summarise(time_hops(TorchStreamer(net), x), hop_s),
        "stream_vs_offline_error": err,
    }


def run_rtf(model: str, threads: int | None = None, seconds: float = 10.0) -> dict:
    """Benchmark `model` (name or .onnx path); returns a JSON-ready dict."""
    path = resolve_model(model)
    one = OnnxStreamer(path, threads=1)
    meta, hop_s = one.meta, one.hop / one.sample_rate
    x = bench_audio(one.sample_rate, seconds)
    report = {
        "model": meta.name,
        "params": meta.params,
        "macs_per_second": meta.macs_per_second,
        "sample_rate": meta.sample_rate,
        "window_ms": meta.ms(meta.window),
        "analysis_window_ms": meta.ms(meta.analysis),
        "hop_ms": meta.ms(meta.hop),
        "lookahead_ms": meta.ms(meta.lookahead),
        "algorithmic_latency_ms": meta.ms(meta.algorithmic_latency_samples),
        "audio_seconds": x.size / meta.sample_rate,
        "machine": machine_info(),
    }
    import onnxruntime as ort
    from tqdm import tqdm

    cuda = "CUDAExecutionProvider" in ort.get_available_providers()
    bar = tqdm(
        total=3 + cuda, desc=f"bench --rtf {meta.name}", unit="run", leave=False, disable=None
    )  # on a terminal only
    rows = {"onnx_1_thread": summarise(time_hops(one, x), hop_s)}
    bar.update()
    n_all = threads or os.cpu_count() or 1
    rows[f"onnx_{n_all}_threads"] = summarise(time_hops(OnnxStreamer(path, threads=n_all), x), hop_s)
    bar.update()
    if cuda:
        rows["onnx_cuda"] = summarise(time_hops(OnnxStreamer(path, provider="cuda"), x), hop_s)
        bar.update()
    one.reset()
    torch_part = _torch_rows(model, x, one.feed(x), hop_s)  # raw stream: delay included
    bar.update()
    bar.close()
    if "torch_1_thread" in torch_part:
        rows["torch_1_thread"] = torch_part.pop("torch_1_thread")
    report.update(rows["onnx_1_thread"])  # headline keys: ONNX, one thread
    report["p99_over_hop"] = report["hop_time_p99_ms"] / (1000 * hop_s)
    report["gflops_p50"] = gflops(meta.macs_per_second, hop_s, report["hop_time_p50_ms"] / 1000)
    report.update(graph_stats(path))
    report["rows"] = rows
    report.update(torch_part)
    return report


def format_report(r: dict) -> str:
    m = r["machine"]
    analysis = r.get("analysis_window_ms", r["window_ms"])
    lines = [
        f"model {r['model']}: {r['params'] / 1e6:.2f} M params, {r['macs_per_second'] / 1e9:.3f} GMAC/s",
        f"  window {r['window_ms']:.1f} ms"
        + (f" (analysis {analysis:.1f} ms)" if analysis > r["window_ms"] else "")
        + f", hop {r['hop_ms']:.1f} ms, "
        f"algorithmic latency {r['algorithmic_latency_ms']:.1f} ms"
        + (f" (look-ahead {r['lookahead_ms']:.1f} ms)" if r.get("lookahead_ms") else ""),
        f"  machine: {describe_machine(m, onnxruntime=True)}",
        f"  {'runtime':<18}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'max ms':>9}{'RTF':>9}",
    ]
    if "nodes" in r:
        ops = ", ".join(f"{op} {share:.0%}" for op, share in r["op_time_share"].items())
        lines.insert(
            3,
            f"  ONNX, 1 thread: {r['nodes']} nodes run per hop (after onnxruntime's "
            f"optimisation), {r['gflops_p50']:.2f} GFLOP/s at p50, p99 = "
            f"{r['p99_over_hop']:.2f} x hop; kernel time: {ops}",
        )
    for name, row in r["rows"].items():
        lines.append(
            f"  {name:<18}{row['hop_time_p50_ms']:>9.3f}{row['hop_time_p95_ms']:>9.3f}"
            f"{row['hop_time_p99_ms']:>9.3f}{row['hop_time_max_ms']:>9.3f}{row['rtf']:>9.4f}"
        )
    if "stream_vs_offline_error" in r:
        lines.append(
            f"  streaming (ONNX) vs offline (PyTorch) max error: {r['stream_vs_offline_error']:.2e} of peak"
        )
    elif "torch" in r:
        lines.append(f"  PyTorch rows skipped: {r['torch']}")
    return "\n".join(lines)
