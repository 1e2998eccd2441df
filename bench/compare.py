"""`streamse bench --rtf --peers` and `--quality DIR --peers`: our models next to the peers.

Every system runs in this process on the same 16 kHz audio, with the same intra-op thread
count (RNNoise and DFN3 run single-threaded C code by construction). Streaming systems are fed
one 10 ms hop per call, as a live engine would; a 48 kHz peer gets the live engine's streaming
resampler each way, whose time is included in its hop times and shown on its own
(`resample_rtf`), and whose look-ahead is part of its latency. Timed runs are interleaved: the
audio is cut into blocks and every block goes through every system (in rotating order) before
the next one, so a busy neighbour process slows all systems alike.

Quality: each system's whole-utterance output, aligned by its known delay (never by a lag
search), scored against the clean file: PESQ-WB, STOI, SI-SDR, CSIG/CBAK/COVL, and DNSMOS when
`speechmos` is installed.
"""

from __future__ import annotations

import importlib.util
import math
import time
from dataclasses import asdict, dataclass
from typing import Callable

import numpy as np

from streamse.errors import StreamseError
from streamse.hop_timing import hop_times
from streamse.runtime import load_streamer
from streamse.streamer import HopStreamer

from streamse.quality.evaluate import evaluate

from .by_snr import file_snrs, format_snr_table, snr_groups, snr_markdown
from .paired import format_paired_table, paired_differences, paired_markdown
from .evaluate import METRIC_LABELS, read_pair, to_json
from .machine import describe_machine, machine_info
from streamse.quality.metrics import score
from .peers import BENCH_RATE, FramePeer, PeerInfo, load_peers
from .rtf import bench_audio, summarise


@dataclass
class System:
    """One contender: its facts, and a hop streamer at 16 kHz or a whole-file function."""

    info: PeerInfo
    streamer: HopStreamer | None = None
    whole: Callable[[np.ndarray], np.ndarray] | None = None

    def process(self, x: np.ndarray) -> np.ndarray:
        """(n,) float32 at 16 kHz -> (n,) enhanced, aligned with x by the known delay."""
        return self.streamer.process(x) if self.streamer is not None else self.whole(x)


def model_system(model: str, threads: int = 1) -> System:
    """A streamse model (name or .onnx path) as a System, run by its OnnxStreamer."""
    s = load_streamer(model, threads=threads)
    if s.sample_rate != BENCH_RATE:
        raise StreamseError(f"{model}: the comparison runs at 16 kHz, model is {s.sample_rate} Hz")
    # a file is named by its path too: an export of a shipped architecture carries that name
    label = s.meta.name if model == s.meta.name else f"{s.meta.name} ({model})"
    info = PeerInfo(
        f"streamse {label}",
        "streamse",
        s.sample_rate,
        s.geometry.ms(s.hop),
        s.geometry.ms(s.algorithmic_latency),
        0.0,
        True,
        f"onnxruntime, {threads} thread(s)",
    )
    return System(info, streamer=s)


def build_systems(
    models: list[str], with_peers: bool, threads: int = 1, peers_dir: str | None = None
) -> tuple[list[System], list[str]]:
    """(our models then the peers that run here, one notice line per skipped peer).
    `peers_dir`: folder of the file-based peers' ONNX files (DTLN, GTCRN)."""
    if len(set(models)) < len(models):
        raise StreamseError(f"each --model once: {', '.join(models)}")
    systems = [model_system(m, threads) for m in models]
    if not with_peers:
        return systems, []
    peers, notices = load_peers(folder=peers_dir)
    for p in peers:
        systems.append(
            System(p.info, streamer=p) if isinstance(p, FramePeer) else System(p.info, whole=p.process)
        )
    return systems, notices


# --- speed ------------------------------------------------------------------------------------
def _interleave(systems: list[System], blocks: list[np.ndarray]) -> dict[str, list[float]]:
    """Hop times (streaming) or block times (whole file) per system, blocks interleaved."""
    times: dict[str, list[float]] = {s.info.name: [] for s in systems}
    for r, block in enumerate(blocks):
        k = r % len(systems)
        for s in systems[k:] + systems[:k]:
            if s.streamer is not None:
                times[s.info.name] += hop_times(s.streamer, block).tolist()  # stream continues
            else:
                t0 = time.perf_counter()
                s.whole(block)
                times[s.info.name].append(time.perf_counter() - t0)
    return times


def run_compare_rtf(
    systems: list[System], seconds: float = 10.0, rounds: int = 5, warmup_hops: int = 20
) -> dict:
    """Per-hop timing and RTF of every system on the same audio, interleaved in `rounds`."""
    x = bench_audio(BENCH_RATE, seconds)
    for s in systems:  # warm caches and lazy allocations, then start clean
        if s.streamer is not None:
            s.streamer.reset()
            s.streamer.feed(x[: warmup_hops * s.streamer.hop])
            s.streamer.reset()
        else:
            s.whole(x[:BENCH_RATE])
    blocks = np.array_split(x[: x.size // 160 * 160].reshape(-1, 160), rounds)
    times = _interleave(systems, [b.reshape(-1) for b in blocks])
    rows = []
    for s in systems:
        t = np.asarray(times[s.info.name])
        row = asdict(s.info)
        if s.streamer is not None:
            row.update(summarise(t, s.streamer.hop / BENCH_RATE))
            resampling = getattr(s.streamer, "resample_seconds", 0.0)
            row["resample_rtf"] = resampling / (x.size / BENCH_RATE)
        else:
            row.update({"rtf": float(t.sum()) / (x.size / BENCH_RATE), "resample_rtf": 0.0})
        rows.append(row)
    return {
        "machine": machine_info(),
        "audio_seconds": x.size / BENCH_RATE,
        "rounds": rounds,
        "systems": rows,
    }


# --- quality ----------------------------------------------------------------------------------
def run_compare_quality(
    systems: list[System],
    pairs: list[tuple[str, str]],
    with_dnsmos: bool | None = None,
    keep: int = 0,
    progress: str | None = None,
) -> tuple[dict, dict[str, np.ndarray]]:
    """Score every system on (noisy, clean) pairs. Returns (JSON-ready report, signals of
    pair `keep`: {"noisy", "clean", system name: output} for plots). with_dnsmos=None: when
    speechmos is installed. `progress`: label of a progress bar over the files."""
    from tqdm import tqdm

    if with_dnsmos is None:
        with_dnsmos = importlib.util.find_spec("speechmos") is not None
    bar = tqdm(pairs, desc=progress, unit="file", disable=True if progress is None else None, leave=False)
    items = (
        (name, noisy.astype(np.float32), clean)
        for name, noisy, clean in (read_pair(n, c, BENCH_RATE) for n, c in bar)
    )
    reports, kept = evaluate(
        items,
        {s.info.name: s.process for s in systems},
        BENCH_RATE,
        lambda c, y, r: score(c, y, r, with_dnsmos),
        keep=keep,
        decompose=True,
    )
    if "clean" in kept:
        kept["clean"] = kept["clean"].astype(np.float32)
    out = {
        "machine": machine_info(),
        "n_files": len(pairs),
        "dnsmos": with_dnsmos,
        "systems": [{**asdict(s.info), **to_json(reports[s.info.name])} for s in systems],
    }
    return out, kept


# --- text -------------------------------------------------------------------------------------
def _ms(v: float | None) -> str:
    return "whole file" if v is None else f"{v:.1f}"


def format_rtf_table(report: dict) -> str:
    m = report["machine"]
    lines = [
        f"{report['audio_seconds']:.1f} s of audio per system, {report['rounds']} "
        f"interleaved rounds; {describe_machine(m)}",
        f"{'system':<22}{'rate':>6}{'frame':>7}{'latency':>11}{'resamp':>8}"
        f"{'p50 ms':>8}{'p99 ms':>8}{'RTF':>8}{'resRTF':>8}",
    ]
    for r in report["systems"]:
        p50 = f"{r['hop_time_p50_ms']:.3f}" if "hop_time_p50_ms" in r else "-"
        p99 = f"{r['hop_time_p99_ms']:.3f}" if "hop_time_p99_ms" in r else "-"
        lines.append(
            f"{r['name']:<22}{r['native_rate'] // 1000:>4}k {r['frame_ms']:>5.1f}"
            f"{_ms(r['latency_ms']):>11}{r['resample_latency_ms']:>8.1f}{p50:>8}"
            f"{p99:>8}{r['rtf']:>8.4f}{r['resample_rtf']:>8.4f}"
        )
    lines.append(
        "frame/latency/resamp in ms (latency includes resampling); resRTF = the part of RTF spent resampling"
    )
    return "\n".join(lines)


def _metric_keys(report: dict) -> list[str]:
    first = report["systems"][0]["mean"]["enhanced"]
    return [k for k in METRIC_LABELS if k in first]


def format_quality_table(report: dict) -> str:
    keys = _metric_keys(report)
    head = "".join(f"{METRIC_LABELS[k].replace(' (dB)', ''):>13}" for k in keys)
    lines = [
        f"{report.get('set', '')}: {report['n_files']} files; scores are means over files",
        f"{'system':<22}{head}",
    ]
    rows = [("noisy input", report["systems"][0]["mean"]["noisy"])]
    rows += [(r["name"], r["mean"]["enhanced"]) for r in report["systems"]]
    for name, means in rows:
        cells = "".join(f"{_num(means.get(k)):>13}" for k in keys)
        lines.append(f"{name:<22}{cells}")
    return "\n".join(lines)


def _num(v: float | None) -> str:
    return "-" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.3f}"


def results_markdown(rtf: dict | None = None, quality: list[dict] | None = None) -> str:
    """The README results table(s) from `--json` output, with the machine and date; one
    quality table per set."""
    out = []
    if rtf:
        m = rtf["machine"]
        out += [
            f"Speed: {describe_machine(m, onnxruntime=True)}; 1 hop per call, interleaved.",
            "",
            "| system | rate | frame ms | latency ms | p50 ms/hop | p99 ms/hop | RTF |",
            "|---|---|---|---|---|---|---|",
        ]
        for r in rtf["systems"]:
            out.append(
                f"| {r['name']} ({r['package']}) | {r['native_rate'] // 1000} kHz | "
                f"{r['frame_ms']:.0f} | {_ms(r['latency_ms'])} | "
                f"{_num(r.get('hop_time_p50_ms'))} | {_num(r.get('hop_time_p99_ms'))} | "
                f"{r['rtf']:.4f} |"
            )
        out.append("")
    for q in quality or []:
        keys = _metric_keys(q)
        out += [
            f"Quality, {q.get('set', '')}: {q['n_files']} files, {q['machine']['date']}.",
            "",
            "| system | " + " | ".join(METRIC_LABELS[k] for k in keys) + " |",
            "|---|" + "---|" * len(keys),
        ]
        rows = [("noisy input", q["systems"][0]["mean"]["noisy"])]
        rows += [(r["name"], r["mean"]["enhanced"]) for r in q["systems"]]
        for name, means in rows:
            out.append(f"| {name} | " + " | ".join(_num(means.get(k)) for k in keys) + " |")
        out.append("")
        if "by_snr" in q:
            out += [*snr_markdown(q["by_snr"]), ""]
        if q.get("paired"):
            out += [*paired_markdown(q["paired"]), ""]
    return "\n".join(out)


# --- one run, as `streamse bench --peers` does it ---------------------------------------------
def run_bench_compare(
    models: list[str],
    with_peers: bool,
    threads: int = 1,
    seconds: float = 10.0,
    rtf: bool = True,
    quality_dirs: list[str] | None = None,
    plots_dir: str | None = None,
    peers_dir: str | None = None,
) -> dict:
    """Speed (if `rtf`) and quality (on each of `quality_dirs`, folders holding noisy/ and
    clean/) of our models and, if `with_peers`, the peers; PNG plots into `plots_dir`.
    JSON-ready dict with keys notices, rtf, quality (a list: one report per set, with 'set'
    its folder name and 'path')."""
    from pathlib import Path

    systems, notices = build_systems(models, with_peers, threads, peers_dir)
    report: dict = {"notices": notices}
    if rtf:
        report["rtf"] = run_compare_rtf(systems, seconds)
    kept: dict[str, np.ndarray] = {}
    if quality_dirs:
        from streamse.quality.pairs import folder_pairs

        report["quality"] = []
        for k, folder in enumerate(quality_dirs):
            pairs = folder_pairs(Path(folder))
            q, signals = run_compare_quality(systems, pairs, progress=f"quality {folder}")
            q.update(set=Path(folder).resolve().name, path=str(folder), plot_file=pairs[0][0])
            if groups := snr_groups(q, file_snrs(folder)):
                q["by_snr"] = groups
            if paired := paired_differences(q):
                q["paired"] = paired
            report["quality"].append(q)
            kept = kept or signals
    if plots_dir:
        report["plots"] = _write_plots(Path(plots_dir), report, kept)
    return report


def _write_plots(folder, report: dict, kept: dict[str, np.ndarray]) -> list[str]:
    from . import plots

    folder.mkdir(parents=True, exist_ok=True)
    written = []
    if "rtf" in report:
        written.append(str(folder / "speed.png"))
        plots.speed_bars(report["rtf"], written[-1])
    if kept:
        name = report["quality"][0]["plot_file"].rsplit("/", 1)[-1].rsplit(".", 1)[0]
        order = ["noisy"] + [k for k in kept if k not in ("noisy", "clean")] + ["clean"]
        written.append(str(folder / f"spectrograms_{name}.png"))
        plots.spectrogram_grid({k: kept[k] for k in order}, BENCH_RATE, written[-1], name)
    return written


def format_compare(report: dict) -> str:
    parts = list(report["notices"])
    if "rtf" in report:
        parts.append(format_rtf_table(report["rtf"]))
    for q in report.get("quality", []):
        parts.append(format_quality_table(q))
        if "by_snr" in q:
            parts.append(format_snr_table(q["by_snr"]))
        if q.get("paired"):
            parts.append(format_paired_table(q["paired"]))
    parts += [f"wrote {p}" for p in report.get("plots", [])]
    return "\n\n".join(parts)


def main(argv: list[str] | None = None) -> None:
    """python -m streamse.bench.compare REPORT.json [MORE.json]: print the README tables from
    saved `streamse bench --peers --json` reports (e.g. one --rtf run and one --quality run)."""
    import json
    import sys

    merged: dict = {}
    for path in argv if argv is not None else sys.argv[1:]:
        with open(path) as f:
            merged.update(json.load(f))
    print(results_markdown(merged.get("rtf"), merged.get("quality")))


if __name__ == "__main__":
    main()
