"""One-line live status (meters, model time, RTF, xruns, latency) and the final summary."""

from __future__ import annotations

import math

from streamse.live.counters import Latency, Stats


def _db(peak: float) -> float:
    return 20 * math.log10(peak) if peak > 1e-6 else -120.0


def meter(peak: float, width: int = 10) -> str:
    """Peak level as a bar from -60 to 0 dBFS."""
    fill = int(round(width * min(1.0, max(0.0, (_db(peak) + 60) / 60))))
    return "#" * fill + "-" * (width - fill)


def status_line(
    st: Stats, lat: Latency, elapsed_s: float, fallback: bool = False, block: int | None = None
) -> str:
    """Reads and resets the peak meters; one line, no newline. `fallback`: the engine is
    holding the dry/silent fallback because the model was late; `block`: the device block or
    server quantum, in frames."""
    pin, pout = st.peak_in, st.peak_out
    st.peak_in = st.peak_out = 0.0
    quantum = f"block {block}  " if block else ""
    return (
        f"{elapsed_s:7.1f}s {quantum}in {meter(pin)} {_db(pin):6.1f} dB  out {meter(pout)} "
        f"{_db(pout):6.1f} dB  model {st.ms_per_hop:5.2f} ms/hop  RTF {st.rtf:4.2f}  "
        f"xruns {st.underruns}u/{st.overruns}o/{st.device_xruns}d  "
        f"latency {1e3 * lat.total:5.1f} ms{' FALLBACK' if fallback else ''}"
    )


def summary(st: Stats, lat: Latency, elapsed_s: float) -> str:
    cb_mean = 1e3 * st.cb_time_sum_s / st.callbacks if st.callbacks else 0.0
    lines = [
        f"ran {elapsed_s:.1f} s: {st.callbacks} callbacks, {st.hops} model hops",
        f"model: {st.ms_per_hop:.2f} ms/hop mean, {1e3 * st.model_time_max_s:.2f} ms max, RTF {st.rtf:.2f}",
        f"callback: {cb_mean:.3f} ms mean, {1e3 * st.cb_time_max_s:.3f} ms max",
        f"xruns: {st.underruns} underruns ({st.missing} samples filled), {st.overruns} overruns, "
        f"{st.device_xruns} device xruns, {st.resyncs} resyncs, {st.callback_errors} callback errors",
        f"fallback: {st.switches()} switches (each crossfaded), "
        f"{1e3 * st.degraded_samples / lat.device_rate:.0f} ms of output not enhanced; delay "
        f"raised {st.delay_growths} time(s) to keep up",
        f"{lat.describe()} ({lat.total_samples:.1f} samples at {lat.device_rate} Hz)",
    ]
    if st.rtf > 0.9:
        lines.append(
            "the model barely keeps up: try more threads (-t), --latency high, "
            "--provider cuda or a smaller model"
        )
    elif st.underruns:
        lines.append("the worker was late at times: --latency high adds compute margin")
    return "\n".join(lines)
