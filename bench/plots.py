"""PNG plots for `streamse bench --peers --plots DIR` (matplotlib imported on first use).

Every function draws on its own Figure with the Agg canvas, so no global pyplot state is
touched, and writes one PNG.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from streamse.errors import require

from .machine import describe_machine


def log_spectrogram(x: np.ndarray, n_fft: int = 512, hop: int = 128) -> np.ndarray:
    """Power in dB, (freq bins, frames), Hann window."""
    x = np.pad(np.asarray(x, np.float64), (0, max(0, n_fft - len(x))))
    frames = np.lib.stride_tricks.sliding_window_view(x, n_fft)[::hop] * np.hanning(n_fft)
    return 10 * np.log10(np.abs(np.fft.rfft(frames, axis=1)).T ** 2 + 1e-12)


def _figure(figsize: tuple[float, float]):
    require("matplotlib", "eval")
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize, constrained_layout=True)
    FigureCanvasAgg(fig)
    return fig


def speed_bars(rtf_report: dict, path: str | Path) -> None:
    """Two bar charts side by side: RTF (resampling share hatched) and algorithmic latency."""
    rows = rtf_report["systems"]
    names = [r["name"] for r in rows]
    y = np.arange(len(rows))
    fig = _figure((11, 1.2 + 0.5 * len(rows)))
    ax_rtf, ax_lat = fig.subplots(1, 2, sharey=True)
    rtf = np.array([r["rtf"] for r in rows])
    res = np.array([r["resample_rtf"] for r in rows])
    ax_rtf.barh(y, rtf - res, color="tab:blue", label="model")
    ax_rtf.barh(y, res, left=rtf - res, color="tab:orange", hatch="//", label="resampling")
    ax_rtf.set(yticks=y, yticklabels=names, xlabel="real-time factor (lower is faster)")
    ax_rtf.invert_yaxis()
    ax_rtf.legend(loc="lower right")
    lat = np.array([np.nan if r["latency_ms"] is None else r["latency_ms"] for r in rows])
    rl = np.array([r["resample_latency_ms"] for r in rows])
    ax_lat.barh(y, np.nan_to_num(lat) - rl, color="tab:green", label="algorithmic")
    ax_lat.barh(y, rl, left=np.nan_to_num(lat) - rl, color="tab:orange", hatch="//", label="resampling")
    for yi, v in zip(y, lat):
        ax_lat.text(
            0.5 if np.isnan(v) else v + 0.5, yi, "whole file" if np.isnan(v) else f"{v:.0f} ms", va="center"
        )
    ax_lat.set(xlabel="algorithmic latency (ms)")
    ax_lat.legend(loc="lower right")
    m = rtf_report["machine"]
    fig.suptitle(describe_machine(m))
    fig.savefig(str(path), dpi=100)


def spectrogram_grid(signals: dict[str, np.ndarray], sr: int, path: str | Path, title: str = "") -> None:
    """One spectrogram per signal (e.g. noisy, each system, clean), stacked, shared dB scale."""
    specs = {name: log_spectrogram(x) for name, x in signals.items()}
    vmax = max(float(s.max()) for s in specs.values())
    fig = _figure((10, 1.0 + 2.0 * len(specs)))
    axes = np.atleast_1d(fig.subplots(len(specs), 1, sharex=True))
    for ax, (name, spec) in zip(axes, specs.items()):
        extent = (0.0, spec.shape[1] * 128 / sr, 0.0, sr / 2000)
        image = ax.imshow(
            spec, origin="lower", aspect="auto", extent=extent, cmap="magma", vmin=vmax - 80, vmax=vmax
        )
        ax.set(title=name, ylabel="kHz")
    axes[-1].set_xlabel("time (s)")
    fig.colorbar(image, ax=list(axes), label="dB")
    if title:
        fig.suptitle(title)
    fig.savefig(str(path), dpi=100)
