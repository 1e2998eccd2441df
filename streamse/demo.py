"""`streamse demo`: the bundled noisy sample through the full streaming engine."""

from __future__ import annotations

from pathlib import Path

from .enhance import enhance_file
from .runtime import ASSETS, load_streamer

DEMO_INPUT = ASSETS / "samples" / "noisy.wav"


def run_demo(model: str, output: Path, threads: int = 1) -> str:
    """Enhance the bundled sample hop by hop; return a short report for the terminal."""
    streamer = load_streamer(model, threads=threads)
    res = enhance_file(streamer, DEMO_INPUT, output)
    meta = streamer.meta
    return "\n".join(
        [
            f"model      {meta.name} ({meta.params / 1e6:.2f} M params, "
            f"{meta.macs_per_second / 1e9:.2f} GMAC/s)",
            f"input      {DEMO_INPUT.name} ({res.seconds:.2f} s, bundled noisy sample)",
            f"output     {output}",
            f"frames     window {meta.ms(meta.window):.1f} ms"
            + (f" (analysis {meta.ms(meta.analysis):.1f} ms)" if meta.analysis != meta.window else "")
            + f", hop {meta.ms(meta.hop):.1f} ms",
            f"latency    algorithmic {meta.ms(meta.algorithmic_latency_samples):.1f} ms"
            + (f" (look-ahead {meta.ms(meta.lookahead):.1f} ms)" if meta.lookahead else ""),
            f"speed      {res.describe_speed()} ({threads} thread{'s' if threads > 1 else ''}, hop by hop)",
        ]
    )
